/**
 * Bad command-line input, class by class, through the built CLI: exit 2, one line `error [CODE]: ...`
 * naming the flag or value, no stack trace, and nothing written to the store.
 * - options a command would ignore are refused by name (or honoured where they have a clear meaning);
 * - values out of range are refused by the library before any work (so `import { sweep }` gets it too);
 * - text typed by the user is echoed with its control characters escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isControlChar } from '../../src/core/text.js';
import { type CliResult, runCli } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-bad-input-'));
let dbCount = 0;
const newDb = (): string => join(TMP, `bad-${++dbCount}.db`);

/** Exit 2, exactly one line on stderr, the error code and the expected words, no stack, nothing on stdout. */
function assertRefused(r: CliResult, code: string, pattern: RegExp, why: string): void {
  assert.equal(r.code, 2, `${why}: exit ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${why}: one line expected, got:\n${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^error \\[${code}\\]: `), why);
  assert.match(lines[0]!, pattern, why);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${why}: no stack trace`);
  assert.equal(r.stdout, '', `${why}: nothing on stdout`);
}

/** [argv, error code, what the message says]; every case runs with its own fresh --db where it takes one. */
type Case = [string[], string, RegExp];

const GAUSS = ['--dataset', 'gauss', '--hidden', '8'];
const BAD = 'BATCHLAB_BAD_ARGUMENT';

test('options a command would ignore are refused by name, saying what to do', () => {
  const cases: Case[] = [
    [['sweep', ...GAUSS, '--timeout', '5'], BAD, /--timeout only applies with --cmd/],
    [['sweep', ...GAUSS, '--train-size', '100'], BAD, /--train-size only applies with --cmd/],
    [
      ['sweep', '--cmd', 'true', '--budget', 'steps=2', '--backend', 'cpu'],
      BAD,
      /--backend applies to batchlab's own trainer, but --cmd runs your own command/,
    ],
    [
      ['sweep', '--cmd', 'true', '--budget', 'steps=2', '--noise-every', '5'],
      BAD,
      /--noise-every applies to batchlab's own trainer/,
    ],
    [
      ['sweep', '--cmd', 'true', '--budget', 'steps=2', '--hidden', '8'],
      BAD,
      /--hidden describes a TF.js model, but --cmd runs your own command/,
    ],
    [
      ['sweep', '--cmd', 'true', '--budget', 'steps=2', '--warmup-steps', '8'],
      BAD,
      /--warmup-steps applies to batchlab's own trainer/,
    ],
    [['sweep', ...GAUSS, '--max-epochs', '3'], BAD, /--max-epochs only applies with --budget target=/],
    [
      ['sweep', ...GAUSS, '--lr-rule', 'fixed', '--base-batch', '32'],
      BAD,
      /--base-batch scales the LR by a rule, but --lr-rule fixed/,
    ],
    [['sweep', ...GAUSS, '--report', 'r.html', '--no-report'], BAD, /--report contradicts --no-report/],
    [
      ['train', ...GAUSS, '--optimizer', 'adam', '--momentum', '0.5'],
      BAD,
      /--momentum applies to sgd and momentum, not adam/,
    ],
    [['train', ...GAUSS, '--lr-gamma', '0.5'], BAD, /--lr-gamma only applies with --schedule step/],
    [['train', ...GAUSS, '--lr-step-every', '10'], BAD, /--lr-step-every only applies with --schedule step/],
    [
      ['train', '--dataset', 'gauss', '--model', 'linear', '--hidden', '8'],
      BAD,
      /--hidden sets the hidden widths of --model mlp/,
    ],
    [
      ['train', ...GAUSS, '--model', 'cnn', '--model-file', 'm.json'],
      BAD,
      /--model-file needs --model file, got --model cnn/,
    ],
    [['find-max', ...GAUSS, '--timeout', '5'], BAD, /--timeout only applies with --cmd/],
    [['find-max', ...GAUSS, '--base-batch', '8'], BAD, /--base-batch only shapes the LR of --target-batch/],
    [['find-max', ...GAUSS, '--lr-rule', 'sqrt'], BAD, /--lr-rule only shapes the LR of --target-batch/],
    [
      ['find-max', ...GAUSS, '--base-lr', '0.1'],
      BAD,
      /--base-lr is scaled for --target-batch \(or fills \{lr\} with --cmd\)/,
    ],
    [
      ['find-max', ...GAUSS, '--warmup-steps', '5'],
      'BATCHLAB_UNKNOWN_FLAG',
      /unknown option --warmup-steps for "batchlab find-max"/,
    ],
    [['recommend', ...GAUSS, '--validate'], BAD, /--validate only applies with --target/],
    [['recommend', ...GAUSS, '--max-epochs', '2'], BAD, /--max-epochs only applies with --target/],
    [
      ['recommend', '--dataset', 'linreg', '--model', 'linear', '--target', 'acc:0.9'],
      BAD,
      /--target acc:0\.9 needs accuracy, but linreg is regression; pass --target loss:X/,
    ],
    [
      ['study', ...GAUSS, '--target', 'acc:0.9', '--report', 'r.html', '--no-report'],
      BAD,
      /--report contradicts --no-report/,
    ],
    [['recommend', ...GAUSS, '--schedule', 'cosine'], 'BATCHLAB_UNKNOWN_FLAG', /unknown option --schedule/],
    [['noise', ...GAUSS, '--warmup-steps', '5'], 'BATCHLAB_UNKNOWN_FLAG', /unknown option --warmup-steps/],
    [['export', '1', '--table', 'runs'], BAD, /--table picks the table of a CSV export/],
  ];
  for (const [args, code, pattern] of cases) {
    const takesDb = ['sweep', 'find-max', 'study', 'recommend', 'noise', 'export'].includes(args[0]!);
    const db = newDb();
    assertRefused(runCli(takesDb ? [...args, '--db', db] : args), code, pattern, args.join(' '));
    if (takesDb) assert.equal(existsSync(db), false, `${args.join(' ')}: no store created`);
  }
});

test('options with a clear meaning are honoured: sweep --seed N runs seed N; --model-file implies --model file', () => {
  const args = ['--batch-sizes', '64', '--budget', 'samples=512', '--sharpness-iterations', '0', '--no-report'];
  const r = runCli(['sweep', ...GAUSS, '--seed', '7', ...args, '--json', '--db', newDb()]);
  assert.equal(r.code, 0, r.stderr);
  const runs = (JSON.parse(r.stdout) as { runs: { batchSize: number; seed: number }[] }).runs;
  assert.deepEqual(
    runs.map((run) => [run.batchSize, run.seed]),
    [[64, 7]],
  );
  // The model file is read (its absence reported) where an MLP used to train in its place.
  const missing = runCli(['train', '--dataset', 'iris', '--model-file', join(TMP, 'missing-model.json')]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stdout, /^model\s+file$/m);
  assert.match(missing.stderr.trim(), /^error \[BATCHLAB_BAD_DATA_FILE\]: .*missing-model\.json/);
});

test('values out of range are refused before any work, and no experiment is stored', () => {
  const deep = Array.from({ length: 5000 }, () => '4').join(',');
  const cases: Case[] = [
    [['train', ...GAUSS, '--momentum', '1'], BAD, /--momentum must be in \[0, 1\), got 1; pass e.g. --momentum 0.9/],
    [['train', ...GAUSS, '--momentum', '-0.1'], BAD, /--momentum must be in \[0, 1\), got -0\.1/],
    [
      ['train', ...GAUSS, '--schedule', 'step', '--lr-step-every', '5', '--lr-gamma', '0'],
      BAD,
      /--lr-gamma must be in \(0, 1\]/,
    ],
    [
      ['train', ...GAUSS, '--schedule', 'step', '--lr-step-every', '5', '--lr-gamma', '1.5'],
      BAD,
      /--lr-gamma must be in \(0, 1\].*got 1\.5/,
    ],
    [['train', ...GAUSS, '--lr', '0'], BAD, /--lr must be a positive number, got 0/],
    [['train', ...GAUSS, '--lr', '-0.1'], BAD, /--lr must be a positive number, got -0\.1/],
    [['train', '--dataset', 'gauss', '--hidden', deep], BAD, /--hidden gives 5000 layers; at most 100 are allowed/],
    [
      ['train', '--dataset', 'gauss', '--hidden', '70000'],
      BAD,
      /--hidden width must be an integer from 1 to 65536, got 70000/,
    ],
    [
      ['train', '--dataset', 'gauss', '--hidden', '65536,65536'],
      BAD,
      /65536 to 65536 units would hold 4294967296 weights/,
    ],
    [
      ['train', '--dataset', 'iris', '--warmup-steps', '10'],
      BAD,
      /--warmup-steps 10 is not shorter than the run at batch 64 \(2 steps\)/,
    ],
    [['sweep', ...GAUSS, '--base-lr', '-0.1'], BAD, /--base-lr must be a positive number, got -0\.1/],
    [['sweep', ...GAUSS, '--base-lr', '0'], BAD, /--base-lr must be a positive number, got 0/],
    [['sweep', ...GAUSS, '--momentum', '1.5'], BAD, /--momentum must be in \[0, 1\)/],
    [
      ['sweep', ...GAUSS, '--batch-sizes', '16,1024', '--warmup-steps', '10'],
      BAD,
      /--warmup-steps 10 is not shorter than the run at batch 1024 \(4 steps\)/,
    ],
    [['sweep', ...GAUSS, '--hidden', deep], BAD, /at most 100 are allowed/],
    [
      ['sweep', '--cmd', 'python3 t.py --bs {batch_size}', '--budget', 'steps=2'],
      BAD,
      /unknown placeholder \{batch_size\}/,
    ],
    [['recommend', ...GAUSS, '--probe-share', '2'], BAD, /--probe-share must be in \(0, 1\], got 2/],
    [['recommend', ...GAUSS, '--base-lr', '0'], BAD, /--base-lr must be a positive number, got 0/],
    [['recommend', ...GAUSS, '--momentum', '1'], BAD, /--momentum must be in \[0, 1\)/],
    [['noise', ...GAUSS, '--lr', '0'], BAD, /--lr must be a positive number, got 0/],
    [['find-max', ...GAUSS, '--momentum', '2'], BAD, /--momentum must be in \[0, 1\)/],
    ...['find-max', 'recommend', 'noise'].map(
      (command): Case => [
        [command, '--dataset', 'gauss', '--hidden', '65536,65536'],
        BAD,
        /65536 to 65536 units would hold 4294967296 weights/,
      ],
    ),
  ];
  for (const [args, code, pattern] of cases) {
    const takesDb = args[0] !== 'train';
    const db = newDb();
    assertRefused(runCli(takesDb ? [...args, '--db', db] : args), code, pattern, args.join(' ').slice(0, 120));
    if (takesDb) assert.equal(existsSync(db), false, `${args.join(' ').slice(0, 80)}: nothing stored`);
  }
});

test('text typed by the user is echoed with its control characters escaped', () => {
  const cases: Case[] = [
    [['train', '--dataset', 'x\x1b[2Jy'], 'BATCHLAB_UNKNOWN_DATASET', /unknown dataset "x\\x1b\[2Jy"/],
    [['train', '--bad\x1b[31m'], 'BATCHLAB_UNKNOWN_FLAG', /unknown option --bad\\x1b\[31m/],
    [['train', 'arg\u202eevil'], BAD, /unexpected argument "arg\\u202eevil"/],
    [['sweep', '--batch-sizes', '16,\x1b'], 'BATCHLAB_BAD_BATCH_SIZE', /"\\x1b"/],
    [['train', '--lr', '0.1\n0.2'], BAD, /--lr must be a number, got "0\.1\\n0\.2"/],
    [['trai\x07n'], 'BATCHLAB_UNKNOWN_COMMAND', /unknown command "trai\\x07n"/],
  ];
  for (const [args, code, pattern] of cases) {
    const r = runCli(args);
    assertRefused(r, code, pattern, JSON.stringify(args));
    const raw = [...r.stderr.trimEnd()].filter((ch) => isControlChar(ch.codePointAt(0)!));
    assert.deepEqual(raw, [], 'no raw control character reaches the terminal');
  }
});
