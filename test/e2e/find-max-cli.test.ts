/** `batchlab find-max` end to end: the built CLI in a process of its own, as a user runs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accumulationPlan } from '../../src/core/search.js';
import type { FindMaxReport } from '../../src/lab/find-max/find-max.js';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import { tfjsProber } from '../../src/lab/find-max/probers.js';
import { MEASURE_ONLY_LR } from '../../src/lab/run/probe.js';
import { openStore } from '../../src/store/index.js';
import { runCli, type CliResult } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-find-max-cli-'));
const FAKE_TRAINER = fileURLToPath(new URL('../external/fixtures/fake-trainer.mjs', import.meta.url));

function runFindMax(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliResult {
  return runCli(['find-max', ...args], { env, timeoutMs: 180_000 });
}

let dbCount = 0;
const newDb = (): string => join(TMP, `cli-${++dbCount}.db`);
/** The fake trainer of the external-runner tests; 1 MiB per sample, 20 ms per step. */
const FAKE_ENV = { FAKE_HOLD_MS: '20', FAKE_BYTES_PER_SAMPLE: String(1 << 20) };
const node = `'${process.execPath}' '${FAKE_TRAINER}'`;

test('a TF.js MLP under an emulated budget: within 5% of the brute-force maximum, at most log2(max) + 3 probes, target plan', async () => {
  const db = newDb();
  const args = [
    '--dataset',
    'gauss',
    '--model',
    'mlp',
    '--hidden',
    '32',
    '--optimizer',
    'sgd',
    '--memory-budget',
    '3MiB',
    '--target-batch',
    '4000',
    '--base-lr',
    '0.05',
    '--base-batch',
    '64',
  ];
  const r = runFindMax([...args, '--json', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as FindMaxReport;
  const answer = report.answer.batch;
  // Brute force over the same probe function: the largest B whose tensor peak is within the limit,
  // stepping up from the answer until a probe fails, then bisecting exactly.
  const base = trainConfig({
    dataset: 'gauss',
    model: { name: 'mlp', hidden: [32] },
    batchSize: 1,
    budget: { maxSteps: 3 },
    optimizer: { name: 'sgd' },
    lr: MEASURE_ONLY_LR,
    evalTrainLimit: 256,
  });
  const prober = tfjsProber({ base, measure: 'tensor' });
  const fits = async (b: number) =>
    ((await prober.run(b, { steps: 3 })).peakBytes as number) <= report.answer.limitBytes;
  assert.ok(await fits(answer));
  let lo = answer;
  let hi = Math.ceil(answer * 1.06);
  while (hi <= 4096 && (await fits(hi))) [lo, hi] = [hi, Math.ceil(hi * 1.06)];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await fits(mid)) lo = mid;
    else hi = mid;
  }
  const truth = lo;
  assert.ok(answer >= 0.95 * truth && answer <= truth, `answer ${answer}, brute-force maximum ${truth}`);
  assert.ok(report.counts.total <= Math.log2(truth) + 3, `${report.counts.total} probes for a maximum of ${truth}`);
  assert.deepEqual(
    report.probes.slice(0, 4).map((p) => [p.phase, p.batch]),
    [
      ['analytic', 1],
      ['analytic', 2],
      ['analytic', 4],
      ['analytic', 8],
    ],
  );
  assert.deepEqual(
    [report.probes.at(-1)!.phase, report.probes.at(-1)!.batch, report.probes.at(-1)!.steps],
    ['verify', answer, 20],
  );
  assert.ok(report.fit!.r2 > 0.9 && report.fit!.bytesPerSample > 0);
  // --target-batch 4000 above the maximum: micro-batch x steps = 4000 with micro-batch <= the answer; linear rule for SGD.
  const t = report.target!;
  assert.equal(t.fits, false);
  assert.equal(t.plan.microBatchSize * t.plan.accumSteps, 4000);
  assert.ok(t.plan.microBatchSize <= answer);
  assert.deepEqual(t.plan, accumulationPlan(4000, answer));
  assert.equal(t.lr.value, (0.05 * 4000) / 64);
  const store = openStore(db, { readonly: true });
  try {
    const e = store.latestExperiment('find-max')!;
    assert.equal(e.status, 'done');
    assert.equal(store.probesOf(e.id).length, report.counts.total);
  } finally {
    store.close();
  }
});

test('--cmd: a trainer killed by SIGKILL above batch 40 counts as OOM; the table, the answer and the --target-batch plan', () => {
  // `kill -9 $$` kills the trial's shell, as the kernel's OOM killer would.
  const cmd = `[ {batch} -gt 40 ] && kill -9 $$; ${node}`;
  const db = newDb();
  const r = runFindMax(
    [
      '--cmd',
      cmd,
      '--memory-budget',
      '2GiB',
      '--max-batch',
      '4096',
      '--target-batch',
      '100',
      '--base-lr',
      '0.1',
      '--base-batch',
      '10',
      '--lr-rule',
      'sqrt',
      '--db',
      db,
    ],
    FAKE_ENV,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /#\s+phase\s+B\s+peak MiB\s+VmHWM MiB\s+result\s+reason\s+time/);
  assert.match(r.stdout, /^\s*\d+\s+search\s+\d+\s+.*\boom\s+.*SIGKILL/m);
  const answer = Number(/^answer\s+(\d+) fits/m.exec(r.stdout)?.[1]);
  assert.ok(answer >= 38 && answer <= 40, r.stdout);
  // 100 > the maximum: k_min = ceil(100 / answer) = 3, the first k in 3..6 dividing 100 is 4: 25 x 4; sqrt rule: 0.1 x sqrt(100 / 10).
  assert.match(r.stdout, /^target\s+100 does not fit; accumulate: 100 = 25 x 4 \(micro-batch x accumulation steps/m);
  assert.match(r.stdout, /0\.1 x sqrt\(100 \/ 10\) = 0\.3162/);
  assert.match(r.stderr, /probe 1 \[analytic\] B=1: ok/, 'progress lines on stderr');
  // `show` lists the stored probes of a find-max experiment (not an empty run table) and its answer.
  const shown = runCli(['show', 'latest', '--db', db]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^experiment 1: find-max, done/m);
  assert.match(shown.stdout, /#\s+phase\s+B\s+peak MiB\s+VmHWM MiB\s+result\s+reason\s+time/);
  assert.match(shown.stdout, /^\s*\d+\s+search\s+\d+\s+.*\boom\s+.*SIGKILL/m);
  assert.match(shown.stdout, new RegExp(`^answer: ${answer} fits \\(peak .*verified\\)$`, 'm'));
});

test('--cmd: a crash is an error that stops the search and shows the stderr; it is never read as too big', () => {
  const db = newDb();
  const cmd = `[ {batch} -gt 40 ] && export FAKE_MODE=crash; ${node}`;
  const r = runFindMax(['--cmd', cmd, '--memory-budget', '2GiB', '--max-batch', '4096', '--db', db], FAKE_ENV);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /error \[BATCHLAB_CHILD_FAILED\]: search probe at batch \d+ failed with an error \(not a memory failure, so the search stops\)/,
  );
  assert.match(r.stderr, /KeyError: a bug in the training script, not memory/);
  const store = openStore(db, { readonly: true });
  try {
    const e = store.latestExperiment('find-max')!;
    assert.equal(e.status, 'failed');
    const probes = store.probesOf(e.id);
    assert.equal(probes.at(-1)!.kind, 'error');
    assert.ok(
      probes.every((p) => p.kind !== 'oom' && p.kind !== 'over-budget'),
      'nothing was taken for a memory failure',
    );
  } finally {
    store.close();
  }
});

test('bad input: one line naming the value, exit 2', () => {
  const tfjs = ['--dataset', 'gauss', '--model', 'mlp', '--hidden', '8'];
  const cases: [string[], RegExp][] = [
    [
      [...tfjs, '--memory-budget', '0'],
      /^error \[BATCHLAB_BAD_BUDGET\]: memory budget must be at least 1 byte, got "0"/,
    ],
    [
      [...tfjs, '--memory-budget', '-1GiB'],
      /^error \[BATCHLAB_BAD_BUDGET\]: memory budget must be a positive number .*got "-1GiB"/,
    ],
    [[...tfjs, '--memory-budget', 'lots'], /^error \[BATCHLAB_BAD_BUDGET\]: .*got "lots"/],
    [[...tfjs, '--memory-budget', '4XB'], /^error \[BATCHLAB_BAD_BUDGET\]: memory budget has an unknown unit "XB"/],
    [[...tfjs, '--margin', '1.5'], /^error \[BATCHLAB_BAD_ARGUMENT\]: --margin must be in \[0, 0\.9\].*got 1\.5/],
    [[...tfjs, '--margin', '-0.1'], /^error \[BATCHLAB_BAD_ARGUMENT\]: --margin must be in \[0, 0\.9\].*got -0\.1/],
    [['--dataset', 'gauss', '--model', 'nope'], /^error \[BATCHLAB_UNKNOWN_MODEL\]: unknown model "nope"/],
    [['--dataset', 'nope', '--model', 'mlp'], /^error \[BATCHLAB_UNKNOWN_DATASET\]/],
    [['--cmd', ''], /^error \[BATCHLAB_BAD_ARGUMENT\]: --cmd is empty/],
    [
      ['--cmd', 'python3 train.py --batch-size {batch}', '--model', 'cnn'],
      /^error \[BATCHLAB_BAD_ARGUMENT\]: --model describes a TF.js model, but --cmd runs your own command/,
    ],
    [['--cmd', 'python3 train.py --bs {batch_size}'], /batch_size/],
    [
      ['--cmd', 'python3 train.py --batch-size {batch}', '--budget-on', 'tensor'],
      /^error \[BATCHLAB_BAD_ARGUMENT\]: --budget-on tensor is for TF.js models/,
    ],
    [[...tfjs, '--budget-on', 'gpu'], /^error \[BATCHLAB_BAD_ARGUMENT\]: --budget-on gpu is for --cmd/],
    [
      ['--cmd', 'python3 warm.py --batch-size {batch}', '--warm'],
      /^error \[BATCHLAB_BAD_ARGUMENT\]: a warm command has no \{batch\}: it starts once and reads each probe's batch and steps from stdin/,
    ],
    [['--cmd', 'python3 warm.py --steps {max_steps}', '--warm'], /a warm command has no \{max_steps\}/],
    [[...tfjs, '--warm'], /^error \[BATCHLAB_BAD_ARGUMENT\]: --warm only applies with --cmd/],
    [
      [...tfjs, '--target-batch', '0'],
      /^error \[BATCHLAB_BAD_BATCH_SIZE\]: --target-batch must be a positive integer, got "0"/,
    ],
  ];
  for (const [args, expected] of cases) {
    const r = runFindMax([...args, '--db', newDb()]);
    const why = `${args.join(' ')} -> ${r.code}: ${r.stderr}`;
    assert.equal(r.code, 2, why);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${why}`);
    assert.match(r.stderr.trim(), expected, why);
  }
});

test('a budget below what the model needs at batch 1: says how much that is, exit 2', () => {
  const r = runFindMax([
    '--dataset',
    'gauss',
    '--model',
    'mlp',
    '--hidden',
    '8',
    '--memory-budget',
    '1KiB',
    '--db',
    newDb(),
  ]);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(
    lines.at(-1)!,
    /^error \[BATCHLAB_BAD_BUDGET\]: memory budget 1 KiB is smaller than the model itself needs: [\d.]+ KiB at batch 1 \(tensor peak\); pass --memory-budget [\d.]+KiB or more \(with the 10% margin\)$/,
  );
  assert.equal(lines.filter((l) => l.startsWith('error')).length, 1, 'the progress lines before it are not errors');
  assert.equal(r.stdout, '');
});
