/**
 * Sweeps through the library, with the fake trainer as the command (fast): each run's real end reaches
 * the hooks and the store; and what a sweep guarantees about its data (issue 12): settings checked before
 * any row is written; a command that reports nothing is a failed run; the experiment lock (a live owner
 * refuses a second runner, a dead owner's lock is taken over and the user told, a lock taken over by
 * another process stops this one); --retry-failed; attempts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchlabError } from '../../src/core/errors.js';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import type { RunOutcome } from '../../src/lab/run/outcome.js';
import { runSweep, type SweepSettings } from '../../src/lab/sweep/sweep.js';
import { ExperimentLockedError, openStore } from '../../src/store/index.js';
import { FAKE_CMD } from '../external/helpers.js';
import { forgeLock, liveProcess } from './lock-helpers.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-sweep-rel-'));
let dbCount = 0;
const newDb = () => join(TMP, `s${dbCount++}.db`);

/** A --cmd sweep of the fake trainer at B = 16, 64, 128, three quick steps each. */
function commandSweep(template: string, over: Partial<SweepSettings> = {}): SweepSettings {
  return {
    base: trainConfig({ dataset: 'external', model: { name: 'mlp' } }),
    batchSizes: [16, 64, 128],
    seeds: [1],
    lrRule: 'fixed',
    baseLr: 0.1,
    baseBatch: 16,
    budget: { kind: 'steps', value: 3 },
    trainCount: Number.MAX_SAFE_INTEGER,
    command: { template },
    ...over,
  };
}

const QUICK = `FAKE_HOLD_MS=0 FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD}`;

test('a --cmd sweep: the hooks and the store see each run as it really ended', async () => {
  const dbPath = newDb();
  // B = 16 trains; B = 64 dies with a CUDA out-of-memory; B = 128 hangs and is killed at the time limit.
  const template = `[ {batch} -gt 64 ] && export FAKE_MODE=hang; FAKE_OOM_ABOVE=32 FAKE_HOLD_MS=0 FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD} --max-steps {max_steps}`;
  const ends: [number, RunOutcome][] = [];
  const result = await runSweep(
    {
      dbPath,
      settings: commandSweep(template, { command: { template, timeoutMs: 2_000 } }),
    },
    { onRunEnd: ({ run, outcome }) => ends.push([run.batchSize, outcome]) },
  );
  assert.deepEqual(
    ends.map(([b, o]) => [b, o.status]),
    [
      [16, 'done'],
      [64, 'oom'],
      [128, 'timeout'],
    ],
  );
  const [, oom] = ends[1]!;
  assert.equal(oom.code, 'BATCHLAB_OOM');
  assert.match(oom.reason, /out of memory \(PyTorch CUDA caching allocator\): torch\.OutOfMemoryError/);
  assert.match(ends[2]![1].reason, /timed out after 2000 ms/);
  assert.deepEqual(
    result.runs.map((r) => [r.batchSize, r.status]),
    [
      [16, 'done'],
      [64, 'oom'],
      [128, 'timeout'],
    ],
  );
  const done = ends[0]![1].summary!;
  assert.deepEqual([done.steps, done.samples, done.backend], [3, 48, 'external command']);
  assert.equal(result.status, 'done');
});

test('bad settings are refused before anything is written: no orphan experiment that a resume would call done', async () => {
  const db = newDb();
  const cases: [Partial<SweepSettings>, RegExp][] = [
    [{ baseLr: -0.1 }, /--base-lr must be a positive number, got -0\.1/],
    [{ baseLr: Number.NaN }, /--base-lr/],
    [{ batchSizes: [] }, /at least one batch size/],
    [{ batchSizes: [16, 0] }, /batch size 0 must be a positive integer/],
    [{ batchSizes: [16, 16] }, /batch size 16 is listed twice/],
    [{ seeds: [1.5] }, /seeds must be integers >= 0, got \[1\.5\]/],
    [{ budget: { kind: 'steps', value: 0 } }, /budget steps must be a positive integer, got 0/],
    [
      { base: trainConfig({ dataset: 'external', model: { name: 'mlp' }, accumSteps: 3 }) },
      /not divisible by --accum 3/,
    ],
  ];
  for (const [over, message] of cases) {
    await assert.rejects(runSweep({ dbPath: db, settings: commandSweep(QUICK, over) }), (err: BatchlabError) => {
      assert.ok(err instanceof BatchlabError, String(err));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
      return true;
    });
  }
  await assert.rejects(
    runSweep({ dbPath: db, settings: commandSweep('python3 train.py --bs {batch_size}') }),
    /batch_size/,
  );
  assert.equal(existsSync(db), false, 'the store is not even created for a refused sweep');
});

test('a command that exits 0 without a single metric line is a failed run that says so', async () => {
  const result = await runSweep({
    dbPath: newDb(),
    settings: commandSweep('echo "training... done"', { batchSizes: [16] }),
  });
  const [run] = result.runs;
  assert.equal(run!.status, 'failed');
  assert.match(run!.reason!, /exited with status 0 but printed no batchlab metric lines/);
  assert.match(run!.reason!, /docs\/protocol\.md/);
  assert.match(run!.reason!, /command: echo "training\.\.\. done"/);
  assert.equal(run!.summary, null, 'no summary of a run that reported nothing');
});

test('--retry-failed reruns the runs that failed on their own, from a clean attempt; a plain resume leaves them', async () => {
  const db = newDb();
  const fixed = join(TMP, `fixed-${dbCount}`);
  // Out of memory above B = 32 until the flag file exists ("the user fixed it").
  const template = `[ -f '${fixed}' ] || export FAKE_OOM_ABOVE=32; ${QUICK}`;
  const first = await runSweep({ dbPath: db, settings: commandSweep(template) });
  assert.deepEqual(
    first.runs.map((r) => [r.batchSize, r.status, r.attempt]),
    [
      [16, 'done', 1],
      [64, 'oom', 1],
      [128, 'oom', 1],
    ],
  );
  writeFileSync(fixed, '');
  const plain = await runSweep({ dbPath: db, resumeId: first.experiment.id });
  assert.deepEqual(
    plain.runs.map((r) => r.status),
    ['done', 'oom', 'oom'],
    'a plain resume reruns nothing that failed',
  );
  const notices: string[] = [];
  const retried = await runSweep(
    { dbPath: db, resumeId: first.experiment.id, retryFailed: true },
    { onNotice: (n) => notices.push(n) },
  );
  assert.deepEqual(
    retried.runs.map((r) => [r.batchSize, r.status, r.attempt]),
    [
      [16, 'done', 1],
      [64, 'done', 2],
      [128, 'done', 2],
    ],
  );
  assert.deepEqual(notices, ['--retry-failed: 2 runs that had failed will run again (B=64 seed 1, B=128 seed 1)']);
  const store = openStore(db, { readonly: true });
  try {
    for (const run of retried.runs)
      assert.deepEqual(
        store.stepsOf(run.id).map((s) => s.step),
        [1, 2, 3],
      );
  } finally {
    store.close();
  }
  await assert.rejects(runSweep({ dbPath: db, settings: commandSweep(template), retryFailed: true }), /--resume ID/);
});

test('the experiment lock: a live owner refuses a second runner by pid; a dead one is taken over, and the user is told', async () => {
  const db = newDb();
  const first = await runSweep({ dbPath: db, settings: commandSweep(QUICK, { batchSizes: [16] }) });
  const id = first.experiment.id;
  const store = openStore(db, { readonly: true });
  assert.equal(store.experimentLock(id), undefined, 'the sweep released its lock');
  store.close();

  const owner = liveProcess();
  try {
    forgeLock(db, id, owner.pid);
    await assert.rejects(runSweep({ dbPath: db, resumeId: id }), (err: ExperimentLockedError) => {
      assert.ok(err instanceof ExperimentLockedError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, new RegExp(`being run by another batchlab process \\(pid ${owner.pid},`));
      return true;
    });
  } finally {
    await owner.stop();
  }
  const notices: string[] = [];
  const resumed = await runSweep({ dbPath: db, resumeId: id }, { onNotice: (n) => notices.push(n) });
  assert.equal(resumed.status, 'done');
  assert.equal(notices.length, 1);
  assert.match(
    notices[0]!,
    new RegExp(`locked by batchlab process ${owner.pid} .*no longer running; took the lock over`),
  );
});

test('the lock is refreshed while the sweep runs; if another process takes it over, the sweep stops instead of racing it', async () => {
  const db = newDb();
  const slow = `FAKE_HOLD_MS=150 FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD}`;
  const settings = commandSweep(slow, { budget: { kind: 'steps', value: 4 } });
  const locks: { acquiredAt: string; refreshedAt: string }[] = [];
  const readLock = (id: number) => {
    const store = openStore(db, { readonly: true });
    try {
      return store.experimentLock(id)!;
    } finally {
      store.close();
    }
  };
  const owner = liveProcess();
  try {
    await assert.rejects(
      runSweep(
        { dbPath: db, settings, lockRefreshMs: 40 },
        {
          onRunEnd: ({ run }) => {
            locks.push(readLock(run.experimentId));
            // Another process takes the lock while the second run trains.
            if (locks.length === 1) setTimeout(() => forgeLock(db, run.experimentId, owner.pid), 300);
          },
        },
      ),
      (err: BatchlabError) => {
        assert.equal(err.code, 'BATCHLAB_LOCKED');
        assert.match(err.message, /another batchlab process took over its lock/);
        return true;
      },
    );
    assert.ok(
      locks[0]!.refreshedAt > locks[0]!.acquiredAt,
      `refreshed while the first run trained: ${JSON.stringify(locks[0])}`,
    );
    const store = openStore(db, { readonly: true });
    try {
      const id = store.latestExperiment()!.id;
      assert.deepEqual(
        store.runsOf(id).map((r) => r.status),
        ['done', 'interrupted', 'pending'],
        'the run in progress stopped and no other started',
      );
      assert.equal(store.experimentLock(id)!.pid, owner.pid, "the new owner's lock is left alone");
    } finally {
      store.close();
    }
  } finally {
    await owner.stop();
  }
});
