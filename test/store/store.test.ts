import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchlabError } from '../../src/core/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeEval, makeRunSummary, makeStep, makeSteps, makeSweepSummary, tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

/** A store on a new file with a fixed clock, closed by the caller. */
function freshStore(): Store {
  let t = Date.UTC(2025, 0, 1);
  return openStore(tmp.db(), { now: () => new Date((t += 1000)) });
}

function isCode(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof BatchlabError, `expected BatchlabError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('Store round-trip', () => {
  it('stores and reads back experiments, runs, steps, evals and probes', () => {
    const store = freshStore();
    try {
      const exp = store.createExperiment({
        kind: 'sweep',
        settings: { model: 'mlp', batchSizes: [16, 64] },
        env: { backend: 'cpu', node: process.version },
      });
      assert.equal(exp.kind, 'sweep');
      assert.equal(exp.status, 'running');
      assert.equal(exp.createdAt, '2025-01-01T00:00:01.000Z');
      assert.deepEqual(exp.settings, { model: 'mlp', batchSizes: [16, 64] });
      assert.equal(exp.summary, null);
      assert.deepEqual(store.getExperiment(exp.id), exp);

      const sweepSummary = makeSweepSummary({ saturationBatch: 256 });
      store.setExperimentSummary(exp.id, sweepSummary);
      store.setExperimentStatus(exp.id, 'done');
      const got = store.getExperiment(exp.id);
      assert.equal(got.status, 'done');
      assert.deepEqual(got.summary, sweepSummary);

      const run = store.upsertRun({
        experimentId: exp.id,
        key: 'b=64,seed=1',
        batchSize: 64,
        microBatchSize: 32,
        seed: 1,
        lr: 0.05,
        settings: { optimizer: { name: 'sgd' } },
      });
      assert.equal(run.status, 'pending');
      assert.equal(run.accumSteps, 2, 'accumSteps defaults to batchSize / microBatchSize');
      assert.equal(run.attempt, 0, 'a planned run has not been started');
      assert.deepEqual(run.settings, { optimizer: { name: 'sgd' } });

      const started = store.startRun(run.id);
      assert.equal(started.status, 'running');
      assert.equal(started.startedAt, '2025-01-01T00:00:02.000Z');
      assert.equal(started.attempt, 1);

      const steps = [...makeSteps(1, 3), makeStep(4, { loss: Number.NaN, gradSqNorm: Number.POSITIVE_INFINITY })];
      assert.equal(store.appendSteps(run.id, steps), 4);
      assert.deepEqual(store.stepsOf(run.id), steps, 'NaN and Infinity survive the round-trip');
      assert.deepEqual(store.stepsOf(run.id, { fromStep: 3 }), steps.slice(2));

      const evals = [makeEval(2, 'train', 0.9), makeEval(2, 'test', 0.8), makeEval(4, 'test')];
      store.appendEvals(run.id, evals);
      assert.deepEqual(store.evalsOf(run.id), [evals[1], evals[0], evals[2]]);

      const runSummary = makeRunSummary({ lossNoise: Number.NaN });
      const finished = store.finishRun(run.id, {
        status: 'diverged',
        reason: 'loss became NaN at step 4',
        summary: runSummary,
      });
      assert.equal(finished.status, 'diverged');
      assert.equal(finished.reason, 'loss became NaN at step 4');
      assert.deepEqual(finished.summary, runSummary, 'a NaN in a summary reads back as NaN');
      assert.ok(finished.finishedAt !== null);
      assert.deepEqual(store.runsOf(exp.id), [finished]);

      const fm = store.createExperiment({ kind: 'find-max', settings: {}, env: {} });
      const p1 = store.addProbe({
        experimentId: fm.id,
        batchSize: 512,
        ok: true,
        kind: 'ok',
        peakBytes: 5e8,
        ms: 900,
        phase: 'search',
      });
      const p2 = store.addProbe({
        experimentId: fm.id,
        batchSize: 1024,
        ok: false,
        kind: 'oom',
        rssBytes: 8e9,
        message: 'killed: out of memory',
        phase: 'verify',
      });
      assert.deepEqual(store.probesOf(fm.id), [p1, p2]);
      assert.equal(p1.ok, true);
      assert.equal(p2.ok, false);
      assert.equal(p2.peakBytes, null);
      assert.equal(p2.message, 'killed: out of memory');
    } finally {
      store.close();
    }
  });

  it('reopens a file with its data intact', () => {
    const path = tmp.db();
    const a = openStore(path);
    const exp = a.createExperiment({ kind: 'train', settings: { x: 1 }, env: {} });
    const run = a.upsertRun({ experimentId: exp.id, key: 'k', batchSize: 8, seed: 0, lr: 0.1 });
    a.appendSteps(run.id, makeSteps(1, 10));
    a.close();
    const b = openStore(path);
    try {
      assert.deepEqual(b.getExperiment(exp.id).settings, { x: 1 });
      assert.equal(b.stepsOf(run.id).length, 10);
    } finally {
      b.close();
    }
  });

  it('lists experiments newest first with run counts by status, and finds the latest by kind', () => {
    const store = freshStore();
    try {
      assert.equal(store.latestExperiment(), undefined);
      const s = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      const f = store.createExperiment({ kind: 'find-max', settings: {}, env: {} });
      for (const [key, status] of [
        ['a', 'done'],
        ['b', 'done'],
        ['c', 'oom'],
        ['d', null],
      ] as const) {
        const r = store.upsertRun({ experimentId: s.id, key, batchSize: 4, seed: 0, lr: 1 });
        if (status !== null) store.finishRun(r.id, { status });
      }
      const list = store.listExperiments();
      assert.deepEqual(
        list.map((e) => e.id),
        [f.id, s.id],
      );
      assert.deepEqual(list[1]!.runCounts, { done: 2, oom: 1, pending: 1 });
      assert.equal(list[1]!.runCount, 4);
      assert.deepEqual(list[0]!.runCounts, {});
      assert.equal(list[0]!.runCount, 0);
      assert.deepEqual(
        store.listExperiments({ kind: 'sweep' }).map((e) => e.id),
        [s.id],
      );
      assert.equal(store.listExperiments({ limit: 1 }).length, 1);
      assert.equal(store.latestExperiment()!.id, f.id);
      assert.equal(store.latestExperiment('sweep')!.id, s.id);
      assert.equal(store.latestExperiment('noise'), undefined);
    } finally {
      store.close();
    }
  });

  it('appendSteps is one transaction: a bad row leaves none of the batch written', () => {
    const store = freshStore();
    try {
      const exp = store.createExperiment({ kind: 'train', settings: {}, env: {} });
      const run = store.upsertRun({ experimentId: exp.id, key: 'k', batchSize: 64, seed: 0, lr: 0.1 });
      store.appendSteps(run.id, makeSteps(1, 2));
      // samples is NOT NULL; a null in the 3rd row must roll back rows 3..5 of this call only.
      const bad = [makeStep(3), makeStep(4), { ...makeStep(5), samples: null as unknown as number }];
      assert.throws(() => store.appendSteps(run.id, bad));
      assert.deepEqual(
        store.stepsOf(run.id).map((s) => s.step),
        [1, 2],
      );
    } finally {
      store.close();
    }
  });
});

describe('resume: upsertRun, unfinishedRuns, markRunningAsInterrupted', () => {
  it('re-planning is idempotent and a resume only sees runs that are not finished', () => {
    const store = freshStore();
    try {
      const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      const plan = (b: number) => ({ experimentId: exp.id, key: `b=${b},seed=1`, batchSize: b, seed: 1, lr: 0.01 * b });
      const [r16, r32, r64, r128] = [16, 32, 64, 128].map((b) => store.upsertRun(plan(b)));
      store.startRun(r16!.id);
      store.appendSteps(r16!.id, makeSteps(1, 5));
      store.finishRun(r16!.id, { status: 'done', summary: makeRunSummary({ batchSize: 16 }) });
      store.startRun(r32!.id);
      store.finishRun(r32!.id, { status: 'oom', reason: 'out of memory' });
      store.startRun(r64!.id);
      store.appendSteps(r64!.id, makeSteps(1, 7));
      // The parent dies here: r64 is left 'running', r128 'pending'.

      // The resume re-plans every run: nothing is duplicated or reset.
      const replanned = [16, 32, 64, 128].map((b) => store.upsertRun(plan(b)));
      assert.deepEqual(
        replanned.map((r) => r.id),
        [r16!.id, r32!.id, r64!.id, r128!.id],
      );
      assert.deepEqual(
        replanned.map((r) => r.status),
        ['done', 'oom', 'running', 'pending'],
      );
      assert.equal(store.runsOf(exp.id).length, 4);

      assert.equal(store.markRunningAsInterrupted(exp.id), 1);
      const todo = store.unfinishedRuns(exp.id);
      assert.deepEqual(
        todo.map((r) => [r.key, r.status]),
        [
          ['b=64,seed=1', 'interrupted'],
          ['b=128,seed=1', 'pending'],
        ],
      );
      assert.match(todo[0]!.reason ?? '', /stopped before the run finished/);

      // Restarting the interrupted run clears the partial steps of the killed attempt.
      store.startRun(r64!.id);
      assert.deepEqual(store.stepsOf(r64!.id), []);
      assert.equal(store.stepsOf(r16!.id).length, 5, 'a finished run keeps its steps');

      // Finished runs are never restarted or overwritten.
      assert.throws(() => store.startRun(r16!.id), isCode('BATCHLAB_STORE', /already finished with status done/));
      assert.throws(() => store.finishRun(r32!.id, { status: 'done' }), isCode('BATCHLAB_STORE', /already finished/));
      assert.equal(store.getRun(r16!.id).status, 'done');
      assert.deepEqual(store.getRun(r16!.id).summary, makeRunSummary({ batchSize: 16 }));
    } finally {
      store.close();
    }
  });

  it('a run keeps its Slurm job id while unfinished and after; only a done run has its summary amended', () => {
    const store = freshStore();
    try {
      const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      const run = store.upsertRun({ experimentId: exp.id, key: 'b=16,seed=1', batchSize: 16, seed: 1, lr: 0.1 });
      assert.equal(run.jobId, null);
      store.startRun(run.id);
      assert.equal(store.setRunJob(run.id, '4711').jobId, '4711');
      assert.throws(() => store.amendRunSummary(run.id, makeRunSummary()), isCode('BATCHLAB_STORE', /not done/));
      store.finishRun(run.id, { status: 'done', summary: makeRunSummary({ batchSize: 16 }) });
      assert.equal(store.getRun(run.id).jobId, '4711', 'the job that ran it stays');
      assert.throws(() => store.setRunJob(run.id, '4712'), isCode('BATCHLAB_STORE', /takes no new job/));
      const amended = store.amendRunSummary(run.id, makeRunSummary({ batchSize: 16, samplesPerSec: 123 }));
      assert.equal(amended.summary?.samplesPerSec, 123);
      assert.equal(amended.status, 'done');
    } finally {
      store.close();
    }
  });

  it('refuses to re-plan a key with different settings', () => {
    const store = freshStore();
    try {
      const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      store.upsertRun({ experimentId: exp.id, key: 'b=64', batchSize: 64, seed: 1, lr: 0.1 });
      assert.throws(
        () => store.upsertRun({ experimentId: exp.id, key: 'b=64', batchSize: 64, seed: 1, lr: 0.2 }),
        isCode('BATCHLAB_BAD_ARGUMENT', /stored with lr 0\.1 but was planned again with lr 0\.2/),
      );
      assert.equal(store.runsOf(exp.id).length, 1);
    } finally {
      store.close();
    }
  });
});

describe('unknown ids and bad values', () => {
  it('gives BATCHLAB_NOT_FOUND for unknown experiment and run ids', () => {
    const store = freshStore();
    try {
      assert.throws(
        () => store.getExperiment(1),
        isCode('BATCHLAB_NOT_FOUND', /no experiment with id 1 in .*has no experiments yet/),
      );
      const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      assert.throws(() => store.getExperiment(exp.id + 41), isCode('BATCHLAB_NOT_FOUND', /ids run from 1 to 1/));
      assert.throws(() => store.runsOf(99), isCode('BATCHLAB_NOT_FOUND'));
      assert.throws(() => store.unfinishedRuns(99), isCode('BATCHLAB_NOT_FOUND'));
      assert.throws(() => store.probesOf(99), isCode('BATCHLAB_NOT_FOUND'));
      assert.throws(() => store.setExperimentStatus(99, 'done'), isCode('BATCHLAB_NOT_FOUND'));
      assert.throws(() => store.setExperimentSummary(99, {}), isCode('BATCHLAB_NOT_FOUND'));
      assert.throws(() => store.markRunningAsInterrupted(99), isCode('BATCHLAB_NOT_FOUND'));
      assert.throws(
        () => store.upsertRun({ experimentId: 99, key: 'k', batchSize: 1, seed: 0, lr: 1 }),
        isCode('BATCHLAB_NOT_FOUND'),
      );
      assert.throws(
        () => store.addProbe({ experimentId: 99, batchSize: 1, ok: true, kind: 'ok', phase: 'search' }),
        isCode('BATCHLAB_NOT_FOUND'),
      );
      for (const call of [
        () => store.getRun(7),
        () => store.startRun(7),
        () => store.finishRun(7, { status: 'done' }),
        () => store.appendSteps(7, [makeStep(1)]),
        () => store.appendEvals(7, [makeEval(1, 'test')]),
        () => store.stepsOf(7),
        () => store.evalsOf(7),
      ]) {
        assert.throws(call, isCode('BATCHLAB_NOT_FOUND', /no run with id 7 in /));
      }
    } finally {
      store.close();
    }
  });

  it('rejects unknown kinds, statuses and bad batch sizes with BATCHLAB_BAD_ARGUMENT', () => {
    const store = freshStore();
    try {
      assert.throws(
        () => store.createExperiment({ kind: 'bogus' as 'sweep', settings: {}, env: {} }),
        isCode('BATCHLAB_BAD_ARGUMENT', /unknown experiment kind "bogus"/),
      );
      const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      assert.throws(
        () => store.upsertRun({ experimentId: exp.id, key: 'k', batchSize: 0, seed: 0, lr: 1 }),
        isCode('BATCHLAB_BAD_ARGUMENT', /batch size must be a positive integer, got 0/),
      );
      const run = store.upsertRun({ experimentId: exp.id, key: 'k', batchSize: 2, seed: 0, lr: 1 });
      assert.throws(() => store.finishRun(run.id, { status: 'running' as 'done' }), isCode('BATCHLAB_BAD_ARGUMENT'));
      assert.throws(() => store.getExperiment(Number.NaN), isCode('BATCHLAB_BAD_ARGUMENT'));
    } finally {
      store.close();
    }
  });
});
