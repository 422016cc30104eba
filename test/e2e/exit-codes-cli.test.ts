/**
 * The one exit-code table, through the built CLI: each error code exits the same in every command (an
 * out-of-memory in train, find-max and recommend; a budget below the model in find-max and recommend),
 * the table is what `batchlab --help` and the README show, and SIGTERM stops a real sweep like Ctrl-C
 * does (runs interrupted, a message saying how to resume, exit 143), after which --resume finishes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES, EXIT_MEANINGS, SIGNAL_EXIT_CODES } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import { type CliResult, REPO_ROOT, runCli, runningWithSteps } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-exit-codes-'));
const BIN = fileURLToPath(new URL('../../bin/batchlab.js', import.meta.url));
let dbCount = 0;
const newDb = (): string => join(TMP, `exit-${++dbCount}.db`);

/** The last line of stderr, which carries the error. */
const lastLine = (r: CliResult): string => r.stderr.trim().split('\n').at(-1)!;

test('every error code has an exit status that --help and the README explain', () => {
  const documented = new Set(Object.keys(EXIT_MEANINGS).map(Number));
  for (const [code, exit] of Object.entries(EXIT_CODES)) assert.ok(documented.has(exit), `${code} exits ${exit}`);
  for (const exit of Object.values(SIGNAL_EXIT_CODES)) assert.ok(documented.has(exit));
  const help = runCli(['--help']);
  assert.equal(help.code, 0);
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const [exit, meaning] of Object.entries(EXIT_MEANINGS)) {
    assert.match(help.stdout, new RegExp(`^  ${exit} +${meaning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(readme, new RegExp(`^\\| ${exit} \\|`, 'm'), `the README's table has exit ${exit}`);
  }
});

/**
 * Runs the CLI under an address-space limit of 3 GB, so that a model of 30,000 x 30,000 weights (3.6 GB
 * of float32) fails to allocate: a real out-of-memory, the same in every process the command starts.
 */
function runOutOfMemory(args: readonly string[]): CliResult {
  const r = spawnSync('bash', ['-c', 'ulimit -v 3000000 && exec "$0" "$@"', process.execPath, BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('the same out-of-memory exits 4 in train, find-max and recommend; a sweep records it and exits 1', () => {
  const model = ['--dataset', 'spiral', '--hidden', '30000,30000', '--backend', 'cpu'];
  const cases: [string[], RegExp][] = [
    [['train', ...model, '--steps', '2'], /^error \[BATCHLAB_OOM\]: out of memory: /],
    [
      ['find-max', ...model, '--memory-budget', '64GiB', '--db', newDb()],
      /^error \[BATCHLAB_OOM\]: even batch 1 ran out of memory/,
    ],
    [
      ['recommend', ...model, '--db', newDb()],
      /^error \[BATCHLAB_OOM\]: the probe:memory:b=1 probe at batch 1 failed \(oom\)/,
    ],
  ];
  for (const [args, expected] of cases) {
    const r = runOutOfMemory(args);
    assert.equal(r.code, 4, `${args[0]}: ${r.stderr}`);
    assert.match(lastLine(r), expected);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const db = newDb();
  const sweep = runOutOfMemory([
    'sweep',
    ...model,
    '--batch-sizes',
    '8',
    '--budget',
    'steps=2',
    '--no-report',
    '--db',
    db,
  ]);
  assert.equal(sweep.code, 1, sweep.stderr);
  const store = openStore(db, { readonly: true });
  try {
    assert.deepEqual(
      store.runsOf(store.latestExperiment()!.id).map((r) => r.status),
      ['oom'],
    );
  } finally {
    store.close();
  }
});

test('a budget below what the model needs at batch 1 is the same error, exit 2, in find-max and recommend', () => {
  const model = ['--dataset', 'spiral', '--hidden', '16', '--memory-budget', '1KiB'];
  for (const command of ['find-max', 'recommend']) {
    const r = runCli([command, ...model, '--db', newDb()], { timeoutMs: 300_000 });
    assert.equal(r.code, 2, `${command}: ${r.stderr}`);
    assert.match(lastLine(r), /^error \[BATCHLAB_BAD_BUDGET\]: .*--memory-budget/, command);
  }
});

/** Enough steps that a run is still going when the test acts. */
const SLOW = [
  '--dataset',
  'gauss',
  '--model',
  'mlp',
  '--hidden',
  '64',
  '--batch-sizes',
  '4,8,16',
  '--budget',
  'samples=8192',
  '--sharpness-iterations',
  '0',
  '--no-report',
];

test('SIGTERM stops a real sweep like Ctrl-C: runs interrupted, how to resume, exit 143; --resume finishes it', async () => {
  const db = newDb();
  const child = spawn(process.execPath, [BIN, 'sweep', ...SLOW, '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline && !runningWithSteps(db)) await new Promise((r) => setTimeout(r, 100));
  assert.ok(runningWithSteps(db), 'the first run started');
  child.kill('SIGTERM');
  assert.equal(await exited, 143, stderr);
  assert.match(stderr, new RegExp(`stopped by SIGTERM; resume with: batchlab sweep --resume 1 --db ${db}`));
  const store = openStore(db, { readonly: true });
  try {
    assert.equal(store.getExperiment(1).status, 'interrupted');
    assert.deepEqual(
      store.runsOf(1).map((r) => r.status),
      ['interrupted', 'pending', 'pending'],
    );
  } finally {
    store.close();
  }
  const resumed = runCli(['sweep', '--resume', '1', '--db', db, '--no-report'], { timeoutMs: 900_000 });
  assert.equal(resumed.code, 0, resumed.stderr);
  const after = openStore(db, { readonly: true });
  try {
    assert.equal(after.getExperiment(1).status, 'done');
    assert.deepEqual(
      after.runsOf(1).map((r) => r.status),
      ['done', 'done', 'done'],
    );
    // The interrupted run started over: exactly one run's worth of steps (8192 samples at B = 4).
    assert.equal(after.stepsOf(after.runsOf(1)[0]!.id).length, 8192 / 4);
  } finally {
    after.close();
  }
});
