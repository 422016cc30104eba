// A worker that dies, and an error thrown inside a run, are classified with the same OOM table as external commands (engine/oom.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BatchlabError, DivergedError, UsageError } from '../../src/core/errors.js';
import { classifyError, TrainFailedError } from '../../src/engine/oom.js';
import { classifyCrash } from '../../src/lab/run/child.js';
import { runFailure } from '../../src/lab/run/record.js';
import { executeRun } from '../../src/lab/run/execute.js';
import { openStore, StaleAttemptError } from '../../src/store/index.js';
import { translateSqliteError } from '../../src/store/open.js';
import { FAKE_CMD } from '../external/helpers.js';

test('a crashed worker: V8 heap and ArrayBuffer failures are OOM, SIGKILL is OOM, anything else is an error', () => {
  const base = { exitCode: 134, signal: null, interrupted: false } as const;
  assert.equal(
    classifyCrash({
      ...base,
      stderrTail: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
    }).status,
    'oom',
  );
  assert.equal(classifyCrash({ ...base, stderrTail: 'RangeError: Array buffer allocation failed' }).status, 'oom');
  assert.equal(classifyCrash({ ...base, signal: 'SIGKILL', stderrTail: '' }).status, 'oom');
  const crash = classifyCrash({ ...base, stderrTail: 'at run (x.js:1)\nTypeError: x is not a function' });
  assert.deepEqual([crash.status, crash.code], ['failed', 'BATCHLAB_CHILD_FAILED']);
  assert.match(crash.reason, /^the worker exited with code 134 without a result: TypeError: x is not a function\n/);
  assert.equal(classifyCrash({ ...base, stderrTail: '', interrupted: true }).status, 'interrupted');
  assert.equal(classifyCrash({ ...base, exitCode: 0, stderrTail: '' }).status, 'failed', 'exit 0 without a result');
});

test('errors thrown inside a run: allocation failures are OOM, others are not', () => {
  const status = (err: unknown) => classifyError(err).status;
  assert.equal(status(new RangeError('Array buffer allocation failed')), 'oom');
  assert.equal(status(new RangeError('Invalid typed array length: 9007199254740991')), 'oom');
  assert.equal(status(new RangeError('Invalid typed array length: -1')), 'failed');
  assert.equal(status(new Error('std::bad_alloc')), 'oom');
  assert.equal(status(new Error('shapes [3] and [4] are incompatible')), 'failed');
  assert.equal(status(new DivergedError(5, 0.1, NaN)), 'diverged');
  assert.deepEqual(classifyError(new UsageError('bad --lr')), {
    status: 'failed',
    code: 'BATCHLAB_BAD_ARGUMENT',
    reason: 'bad --lr',
  });
  const overBudget = classifyError(new TrainFailedError({ status: 'over-budget', reason: 'RSS over', peakBytes: 5 }));
  assert.deepEqual([overBudget.status, overBudget.code, overBudget.peakBytes], ['over-budget', 'BATCHLAB_OOM', 5]);
});

test('how a run that ended early is recorded: stopped by its environment is interrupted, its own fault is not', () => {
  const full = translateSqliteError(new Database.SqliteError('database or disk is full', 'SQLITE_FULL'), 'b.db', 5000);
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const stale = new StaleAttemptError({ runId: 3, key: 'b=8', attempt: 1, current: 2 });
  for (const [err, reason] of [
    [full, /^stopped by its environment \(SQLITE_FULL\): the disk holding b\.db is full/],
    [enospc, /^stopped by its environment \(ENOSPC\)/],
    [stale, /on attempt 2, but this write comes from attempt 1/],
    [new BatchlabError('BATCHLAB_INTERRUPTED', 'stopped by Ctrl-C'), /^stopped by Ctrl-C$/],
    [
      new TrainFailedError({ status: 'interrupted', reason: 'interrupted: the trial was stopped' }),
      /trial was stopped/,
    ],
  ] as const) {
    const f = runFailure(err);
    assert.deepEqual([f.status, f.code], ['interrupted', 'BATCHLAB_INTERRUPTED'], String(err));
    assert.match(f.reason, reason);
  }
  assert.equal(runFailure(new DivergedError(5, 0.1, Number.NaN)).status, 'diverged');
  assert.equal(runFailure(new RangeError('Array buffer allocation failed')).status, 'oom');
  assert.equal(runFailure(new TrainFailedError({ status: 'failed', reason: 'exit 1' })).status, 'failed');
  assert.equal(runFailure(new Error('a bug')).status, 'failed');
});

test('a run writes under its attempt: once a resume has started the run again, the old attempt stores nothing', async () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'batchlab-attempt-')), 'a.db');
  const store = openStore(dbPath);
  const experimentId = store.createExperiment({ kind: 'sweep', settings: {}, env: {} }).id;
  const run = store.upsertRun({ experimentId, key: 'b=8', batchSize: 8, seed: 1, lr: 0.1 });
  const values = { batch: 8, microBatch: 8, accum: 1, lr: 0.1, maxSteps: 4, seed: 1 };
  const outcome = executeRun(
    { kind: 'command', command: { template: `FAKE_HOLD_MS=150 FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD}` }, values },
    {
      record: { dbPath, runId: run.id },
      hooks: {
        // Its parent was killed and a resume took the run over while the command was running.
        onStart: () => {
          store.markRunningAsInterrupted(experimentId);
          store.startRun(run.id);
        },
      },
    },
  );
  const o = await outcome;
  try {
    assert.equal(o.status, 'interrupted');
    assert.match(o.reason, /on attempt 2, but this write comes from attempt 1/);
    const after = store.getRun(run.id);
    assert.deepEqual([after.status, after.attempt], ['running', 2], "the new attempt's run is untouched");
    assert.deepEqual(store.stepsOf(run.id), [], 'no step of the old attempt was stored');
  } finally {
    store.close();
  }
});
