/**
 * The branch experiment end to end on a tiny task (real worker processes, the real store): the base run
 * as a chain of checkpointed segments, windows at the base batch and the branches from each checkpoint,
 * the summary (curve, B_simple, schedule, compute), a resume after an interrupt that reruns nothing
 * that finished, and the experiment lock and run attempts a resume goes through.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import { branchRunPlans, branchSettings, checkpointFile, runBranch } from '../../src/lab/branch/branch.js';
import { ExperimentLockedError, openStore } from '../../src/store/index.js';
import { forgeLock, liveProcess } from './lock-helpers.js';

const DIR = mkdtempSync(join(tmpdir(), 'batchlab-branch-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** Spirals (1,024 training samples), a small MLP; checkpoints at 256 and 512, windows of 256 samples. */
function settings() {
  const base = trainConfig({
    dataset: 'spiral',
    datasetOptions: { trainCount: 1024 },
    model: { name: 'mlp', hidden: [16] },
    batchSize: 16,
    lr: 0.05,
    seed: 5,
    evalTrainLimit: 256,
  });
  return branchSettings({
    base,
    totalSamples: 1024,
    checkpoints: [256, 512],
    windowSamples: 256,
    branchBatches: [32, 64],
    seeds: [5, 6],
    checkpointDir: join(DIR, 'checkpoints'),
  });
}

test('branch: segments, windows and branches run, and the summary holds the curve, B_simple, schedule and compute', async () => {
  const db = join(DIR, 'a.db');
  const s = settings();
  const plans = branchRunPlans(s);
  assert.equal(plans.length, 2 + 2 * 2 * 3);
  const result = await runBranch({ dbPath: db, settings: s });
  assert.equal(result.status, 'done');
  assert.deepEqual(
    result.runs.filter((r) => r.status !== 'done').map((r) => `${r.key}: ${r.status} ${r.reason}`),
    [],
  );
  const summary = result.summary!;
  assert.deepEqual(
    summary.points.map((p) => p.samples),
    [256, 512],
  );
  for (const p of summary.points) {
    assert.ok(['measured', 'at-least', 'cannot-tell'].includes(p.critical.status));
    assert.equal(p.critical.comparisons.length, 2, 'B = 32 and 64 compared with the base run, paired by seed');
    assert.ok(p.critical.comparisons.every((c) => c.paired));
    assert.ok(p.noise.steps >= 2 * 16, `B_simple from both seeds' base windows (${p.noise.steps} steps)`);
    assert.ok(Number.isFinite(p.baseLoss) && p.baseLoss > 0);
  }
  assert.match(summary.schedule.text, /^16@0/);
  // Trained: the segments (512 samples) and 12 windows of 256 = 3,584 = 3.5 full runs of 1,024.
  assert.equal(summary.compute.trainedSamples, 3584);
  assert.equal(summary.compute.ratio, 3.5);
  assert.ok(['agrees', 'differs', 'cannot-tell'].includes(summary.proxy.verdict));
  const id = result.experiment.id;
  for (const c of [256, 512]) assert.ok(existsSync(checkpointFile(result.experiment.settings as never, id, c)));

  const store = openStore(db, { readonly: true });
  try {
    const runs = store.runsOf(id);
    const steps = (key: string) => store.stepsOf(runs.find((r) => r.key === key)!.id);
    // The base seed's window at the base batch is the base run continued: the next segment's samples,
    // the same losses up to the rounding of computing each step as two halves (B_simple).
    const segment = steps('base:256-512');
    const window = steps('cp=256,b=16,seed=5');
    assert.deepEqual(
      window.map((x) => [x.step, x.samples]),
      segment.map((x) => [x.step, x.samples]),
    );
    window.forEach((x, i) => assert.ok(Math.abs(x.loss - segment[i]!.loss) <= 1e-4 * segment[i]!.loss));
    assert.ok(
      window.every((x) => x.accumSteps === 2),
      'every base-window step carries two batch sizes',
    );
    // A branch at 64 trains the same 256 samples in 4 steps, numbered on from the checkpoint (step 16).
    assert.deepEqual(
      steps('cp=256,b=64,seed=5').map((x) => [x.step, x.samples, x.batchSize]),
      [
        [17, 320, 64],
        [18, 384, 64],
        [19, 448, 64],
        [20, 512, 64],
      ],
    );
    const experiment = store.getExperiment(id);
    assert.equal(experiment.status, 'done');
    assert.equal((experiment.summary as { proxy: { verdict: string } }).proxy.verdict, summary.proxy.verdict);
  } finally {
    store.close();
  }
});

test('branch: an interrupted experiment resumes with the unfinished runs only', async () => {
  const db = join(DIR, 'b.db');
  const controller = new AbortController();
  let ended = 0;
  const first = await runBranch(
    { dbPath: db, settings: { ...settings(), seeds: [5], branchBatches: [32] } },
    {
      signal: controller.signal,
      onRunEnd: () => {
        if (++ended === 3) controller.abort();
      },
    },
  );
  assert.equal(first.status, 'interrupted');
  assert.equal(first.summary, undefined);
  assert.equal(first.runs.filter((r) => r.status === 'done').length, 3);
  const resumed = await runBranch({ dbPath: db, resumeId: first.experiment.id });
  assert.equal(resumed.status, 'done');
  assert.deepEqual(
    resumed.runs.map((r) => [r.key, r.status, r.attempt]),
    [
      ['base:0-256', 'done', 1],
      ['base:256-512', 'done', 1],
      ['cp=256,b=16,seed=5', 'done', 1],
      ['cp=256,b=32,seed=5', 'done', 1],
      ['cp=512,b=16,seed=5', 'done', 1],
      ['cp=512,b=32,seed=5', 'done', 1],
    ],
  );
  assert.equal(resumed.summary!.points.length, 2);
  await assert.rejects(
    runBranch({
      dbPath: db,
      resumeId: first.experiment.id,
      settings: { ...settings(), seeds: [9], branchBatches: [32] },
    }),
    /was started with other settings \(seeds differ\)/,
  );
});

test('branch: a resume takes the experiment lock, and a run a killed process left running starts a new attempt with none of its steps', async () => {
  const db = join(DIR, 'lock.db');
  const controller = new AbortController();
  const first = await runBranch(
    { dbPath: db, settings: { ...settings(), seeds: [5], branchBatches: [32] } },
    { signal: controller.signal, onRunEnd: () => controller.abort() },
  );
  assert.equal(first.status, 'interrupted');
  const id = first.experiment.id;
  // A killed process's attempt: the next segment 'running' with a step of its own in the store.
  const store = openStore(db);
  try {
    assert.equal(store.experimentLock(id), undefined, 'the interrupted experiment released its lock');
    const segment = store.runsOf(id).find((r) => r.key === 'base:256-512')!;
    const killed = store.startRun(segment.id);
    const stray = { ...store.stepsOf(store.runsOf(id).find((r) => r.key === 'base:0-256')!.id).at(-1)! };
    store.appendSteps(segment.id, [{ ...stray, step: 999, samples: 99_999 }], { attempt: killed.attempt });
  } finally {
    store.close();
  }
  const owner = liveProcess();
  try {
    forgeLock(db, id, owner.pid);
    await assert.rejects(runBranch({ dbPath: db, resumeId: id }), (err: unknown) => {
      assert.ok(err instanceof ExperimentLockedError, String(err));
      assert.equal(err.exitCode, 2);
      return true;
    });
  } finally {
    await owner.stop();
  }
  const notices: string[] = [];
  const resumed = await runBranch({ dbPath: db, resumeId: id }, { onNotice: (n) => notices.push(n) });
  assert.equal(resumed.status, 'done');
  assert.match(notices.join('\n'), new RegExp(`locked by batchlab process ${owner.pid} .*took the lock over`));
  const segment = resumed.runs.find((r) => r.key === 'base:256-512')!;
  assert.equal(segment.attempt, 2, 'the killed attempt was 1');
  const check = openStore(db, { readonly: true });
  try {
    assert.equal(check.experimentLock(id), undefined, 'the resume released its lock');
    assert.deepEqual(
      check.stepsOf(segment.id).map((x) => x.step),
      Array.from({ length: 16 }, (_, i) => 17 + i),
      "the new attempt's steps only: 17..32, none of the killed attempt's",
    );
  } finally {
    check.close();
  }
});

test('branch: settings that cannot work are refused before any run, naming the value', async () => {
  const db = join(DIR, 'c.db');
  await assert.rejects(
    runBranch({ dbPath: db, settings: { ...settings(), branchBatches: [8] } }),
    /above the base batch 16/,
  );
  await assert.rejects(
    runBranch({ dbPath: db, settings: { ...settings(), checkpoints: [] } }),
    /no checkpoint fits: a window of 256 samples/,
  );
  await assert.rejects(
    runBranch({ dbPath: db, settings: { ...settings(), checkpoints: [250] } }),
    /multiples of the base batch 16/,
  );
  await assert.rejects(
    runBranch({ dbPath: db, settings: { ...settings(), branchBatches: [32, 4096] } }),
    /batch 4096 is larger than the training set \(1024 samples\)/,
  );
});
