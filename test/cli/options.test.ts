/** The option parser and defineCommand, in process: tokens, given flags, aliases, implications, refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineCommand } from '../../src/cli/command.js';
import type { Io } from '../../src/cli/io.js';
import { type OptionTable, parseOptions, settingFlags } from '../../src/cli/options.js';
import { BatchlabError } from '../../src/core/errors.js';

const TABLE = {
  model: { type: 'string', value: 'NAME', default: 'mlp', help: 'model' },
  hidden: {
    type: 'string',
    value: 'W',
    default: '256',
    onlyIf: { when: (o) => o.model === 'mlp', why: 'sets the widths of --model mlp' },
    help: 'widths',
  },
  'model-file': { type: 'string', value: 'PATH', implies: { model: 'file' }, help: 'model.json' },
  seeds: { type: 'string', value: 'S,S', default: '1', help: 'seeds' },
  seed: { type: 'string', value: 'S', aliasOf: 'seeds', help: 'one seed' },
  lr: { type: 'number', value: 'LR', default: 0.05, help: 'lr' },
  steps: { type: 'int', value: 'N', help: 'steps' },
  output: { type: 'string', value: 'PATH', short: 'o', help: 'output' },
  json: { type: 'boolean', control: true, help: 'json' },
} as const satisfies OptionTable;

/** The error `fn` throws, which must be a BatchlabError. */
function errorOf(fn: () => unknown): BatchlabError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BatchlabError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

test('given holds exactly the flags typed; defaults fill the rest; a later value overrides an earlier one', () => {
  const r = parseOptions(['--lr=0.1', 'pos', '--steps', '5', '--lr', '0.2', '-o', 'out.html', '--json'], TABLE, 't');
  assert.deepEqual([...r.given].sort(), ['json', 'lr', 'output', 'steps']);
  assert.deepEqual(r.positionals, ['pos']);
  assert.equal(r.options.lr, 0.2);
  assert.equal(r.options.model, 'mlp');
  assert.equal(r.options.output, 'out.html');
  assert.deepEqual(settingFlags(TABLE, r.given).sort(), ['lr', 'output', 'steps']);
});

test('settingFlags leaves out a given flag of no entry in the table (--json, which defineCommand adds)', () => {
  const { json: _json, ...withoutJson } = TABLE;
  const r = parseOptions(['--lr', '0.1', '--json'], TABLE, 't');
  const given = r.given as ReadonlySet<string> as Parameters<typeof settingFlags<typeof withoutJson>>[1];
  assert.deepEqual(settingFlags(withoutJson, given), ['lr']);
});

test('an alias sets the option it spells; an implication is honoured unless contradicted', () => {
  const seed = parseOptions(['--seed', '7'], TABLE, 't');
  assert.equal(seed.options.seeds, '7');
  assert.deepEqual([...seed.given], ['seeds']);
  assert.equal(parseOptions(['--model-file', 'm.json'], TABLE, 't').options.model, 'file');
  assert.match(
    errorOf(() => parseOptions(['--model-file', 'm.json', '--model', 'cnn'], TABLE, 't')).message,
    /--model-file needs --model file, got --model cnn/,
  );
});

test('a flag that does not apply is refused by name; the same flag left at its default is not', () => {
  const e = errorOf(() => parseOptions(['--model', 'cnn', '--hidden', '8'], TABLE, 't'));
  assert.equal(e.code, 'BATCHLAB_BAD_ARGUMENT');
  assert.equal(e.message, '--hidden sets the widths of --model mlp');
  assert.equal(parseOptions(['--model', 'cnn'], TABLE, 't').options.hidden, '256');
});

test('unknown flags (long or short) and bad values name what was typed, control characters escaped', () => {
  const unknown = errorOf(() => parseOptions(['--bad\x1b[31m'], TABLE, 't'));
  assert.equal(unknown.code, 'BATCHLAB_UNKNOWN_FLAG');
  assert.match(unknown.message, /^unknown option --bad\\x1b\[31m for "batchlab t"; valid options: --model, /);
  assert.ok(!unknown.message.includes('\x1b'), 'the raw escape is not in the message');
  assert.match(errorOf(() => parseOptions(['-x'], TABLE, 't')).message, /^unknown option -x /);
  assert.match(
    errorOf(() => parseOptions(['--lr', '1\n2'], TABLE, 't')).message,
    /^--lr must be a number, got "1\\n2"$/,
  );
  assert.match(
    errorOf(() => parseOptions(['--steps', '0'], TABLE, 't')).message,
    /^--steps must be a positive integer, got "0"/,
  );
  assert.match(errorOf(() => parseOptions(['--steps'], TABLE, 't')).message, /^option --steps needs a value \(N\)$/);
});

/** An Io that keeps what is written. */
function captureIo(): Io & { outText: string[]; errText: string[] } {
  const outText: string[] = [];
  const errText: string[] = [];
  return { out: (t) => outText.push(t), err: (t) => errText.push(t), errStream: process.stderr, outText, errText };
}

test('defineCommand: help, positionals, --json, and the exit status of each ending', async () => {
  const command = defineCommand({
    name: 'probe',
    summary: 'a test command',
    description: 'Says what it was given.',
    options: { steps: TABLE.steps },
    positionals: { min: 0, max: 1, missing: '' },
    examples: ['batchlab probe --steps 3'],
    run: async ({ options, positionals, signal }) => ({
      steps: options.steps,
      arg: positionals[0],
      stopped: signal.aborted,
    }),
    text: (r) => `steps ${r.steps}`,
    json: (r) => r,
    status: (r) => (r.stopped ? 'interrupted' : r.arg === 'fail' ? 'failed' : 'done'),
    resume: () => 'batchlab probe --resume 1',
  });
  assert.deepEqual(command.flags, ['steps', 'json', 'help']);
  const help = captureIo();
  assert.equal(await command(['--help'], help), 0);
  assert.match(
    help.outText[0]!,
    /^Usage: batchlab probe \[options\]\n\nSays what it was given\.\n\nOptions:\n {2}--steps N +steps\n {2}--json +print the result as JSON/,
  );
  assert.match(help.outText[0]!, /Examples:\n {2}batchlab probe --steps 3\n$/);
  const text = captureIo();
  assert.equal(await command(['--steps', '3'], text), 0);
  assert.deepEqual(text.outText, ['steps 3']);
  const json = captureIo();
  assert.equal(await command(['--steps', '3', '--json'], json), 0);
  assert.deepEqual(JSON.parse(json.outText[0]!), { steps: 3, stopped: false });
  assert.equal(await command(['fail'], captureIo()), 1);
  await assert.rejects(command(['a', 'b'], captureIo()), /unexpected argument "b" for "batchlab probe"/);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    const stopper = new AbortController();
    stopper.abort(signal);
    const io = captureIo();
    assert.equal(await command([], io, { signal: stopper.signal }), code);
    assert.deepEqual(io.errText, [`stopped by ${signal}; resume with: batchlab probe --resume 1`]);
  }
});
