/** Run attempts: a rerun starts clean and is never mixed with an older attempt; --retry-failed; interrupted vs failed. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { BatchlabError, DivergedError } from '../../src/core/errors.js';
import { translateSqliteError } from '../../src/store/open.js';
import { classifyRunFailure, openStore, StaleAttemptError, StepWriter, type Store } from '../../src/store/index.js';
import { makeEval, makeRunSummary, makeStep, makeSteps, tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

function withStore(fn: (store: Store, experimentId: number) => void): void {
  const store = openStore(tmp.db());
  try {
    fn(store, store.createExperiment({ kind: 'sweep', settings: {}, env: {} }).id);
  } finally {
    store.close();
  }
}

function storeError(pattern: RegExp) {
  return (err: unknown) =>
    err instanceof BatchlabError && err.code === 'BATCHLAB_STORE' && err.exitCode === 2 && pattern.test(err.message);
}

describe('run attempts', () => {
  it('a rerun of an interrupted run starts clean, and the old attempt can no longer write', () => {
    withStore((store, experimentId) => {
      const run = store.upsertRun({ experimentId, key: 'b=64,seed=1', batchSize: 64, seed: 1, lr: 0.1 });
      const first = store.startRun(run.id);
      assert.equal(first.attempt, 1);
      store.appendSteps(run.id, makeSteps(1, 5), { attempt: 1 });
      store.appendEvals(run.id, [makeEval(5, 'test', 0.5)], { attempt: 1 });
      const oldWriter = new StepWriter(store, run.id, { attempt: 1, timer: false, maxRows: 100 });
      oldWriter.add(makeStep(6));

      store.markRunningAsInterrupted(experimentId); // the parent died; a resume takes over
      const second = store.startRun(run.id);
      assert.equal(second.attempt, 2);
      assert.deepEqual(store.stepsOf(run.id), [], 'the steps of attempt 1 are gone');
      assert.deepEqual(store.evalsOf(run.id), []);

      // The old attempt is still alive somewhere and writes late: refused, nothing stored.
      assert.throws(
        () => store.appendSteps(run.id, makeSteps(6, 2), { attempt: 1 }),
        storeError(/on attempt 2, but this write comes from attempt 1/),
      );
      assert.throws(() => store.appendEvals(run.id, [makeEval(6, 'test')], { attempt: 1 }), storeError(/attempt 1/));
      assert.throws(() => oldWriter.flush(), storeError(/attempt 1/));

      const fresh = [1, 2, 3].map((n) => makeStep(n, { loss: 10 + n }));
      store.appendSteps(run.id, fresh, { attempt: 2 });
      assert.deepEqual(store.stepsOf(run.id), fresh, 'only the new attempt is stored');
    });
  });

  it("the end of a replaced attempt is refused: a stopped attempt can never finish the new attempt's run", () => {
    withStore((store, experimentId) => {
      const run = store.upsertRun({ experimentId, key: 'b=8', batchSize: 8, seed: 1, lr: 0.1 });
      store.startRun(run.id);
      store.markRunningAsInterrupted(experimentId);
      store.startRun(run.id);
      assert.throws(
        () => store.finishRun(run.id, { status: 'done', summary: makeRunSummary(), attempt: 1 }),
        (err: unknown) =>
          err instanceof StaleAttemptError && err.attempt === 1 && err.current === 2 && storeError(/attempt 1/)(err),
      );
      assert.equal(store.getRun(run.id).status, 'running', 'the new attempt is untouched');
      assert.equal(
        store.finishRun(run.id, { status: 'interrupted', reason: 'stopped', attempt: 2 }).status,
        'interrupted',
      );
    });
  });

  it('resetFailedRuns makes the runs that failed on their own pending, with their results cleared', () => {
    withStore((store, experimentId) => {
      const outcomes = ['done', 'failed', 'oom', 'diverged', 'interrupted', 'timeout'] as const;
      const runs = outcomes.map((status, i) => {
        const run = store.upsertRun({ experimentId, key: `b=${16 << i}`, batchSize: 16 << i, seed: 1, lr: 0.1 });
        store.startRun(run.id);
        store.appendSteps(run.id, makeSteps(1, 3));
        store.finishRun(run.id, {
          status,
          reason: status === 'done' ? undefined : `${status} at step 3`,
          summary: status === 'done' ? makeRunSummary() : undefined,
        });
        return run;
      });
      const pending = store.upsertRun({ experimentId, key: 'b=4096', batchSize: 4096, seed: 1, lr: 0.1 });

      const reset = store.resetFailedRuns(experimentId);
      assert.deepEqual(
        reset.map((r) => r.key),
        ['b=32', 'b=64', 'b=128', 'b=512'],
      );
      for (const r of reset) {
        assert.deepEqual([r.status, r.reason, r.startedAt, r.finishedAt, r.attempt], ['pending', null, null, null, 1]);
        assert.deepEqual(store.stepsOf(r.id), []);
      }
      assert.equal(store.getRun(runs[0]!.id).status, 'done');
      assert.equal(store.stepsOf(runs[0]!.id).length, 3, 'a done run keeps its steps');
      assert.deepEqual(
        store.unfinishedRuns(experimentId).map((r) => r.key),
        ['b=32', 'b=64', 'b=128', 'b=256', 'b=512', pending.key],
      );
      assert.equal(store.startRun(reset[0]!.id).attempt, 2, 'the retry is the second attempt');
    });
  });

  it('resetFailedRuns can be narrowed, and refuses statuses that are not failures', () => {
    withStore((store, experimentId) => {
      for (const [i, status] of (['failed', 'oom'] as const).entries()) {
        const run = store.upsertRun({ experimentId, key: `k${i}`, batchSize: 8, seed: i, lr: 0.1 });
        store.startRun(run.id);
        store.finishRun(run.id, { status });
      }
      assert.deepEqual(
        store.resetFailedRuns(experimentId, { statuses: ['oom'] }).map((r) => r.key),
        ['k1'],
      );
      assert.throws(
        () => store.resetFailedRuns(experimentId, { statuses: ['done'] }),
        (err: unknown) => err instanceof BatchlabError && err.code === 'BATCHLAB_BAD_ARGUMENT',
      );
      assert.equal(store.getRun(store.runsOf(experimentId)[0]!.id).status, 'failed');
    });
  });
});

describe('classifyRunFailure', () => {
  const sqlite = (code: string) => new Database.SqliteError(`${code} happened`, code);
  const errno = (code: string) => Object.assign(new Error(`${code}: write`), { code });

  it('environmental errors interrupt the run: SQLite full and I/O errors, ENOSPC, EIO, EDQUOT, EROFS', () => {
    for (const err of [
      sqlite('SQLITE_FULL'),
      sqlite('SQLITE_IOERR'),
      sqlite('SQLITE_IOERR_WRITE'),
      errno('ENOSPC'),
      errno('EIO'),
      errno('EDQUOT'),
      errno('EROFS'),
    ]) {
      assert.equal(classifyRunFailure(err).kind, 'interrupted', String(err));
    }
  });

  it('sees through the store error that wraps a SQLite error', () => {
    const wrapped = translateSqliteError(sqlite('SQLITE_FULL'), 'b.db', 5000);
    assert.ok(wrapped instanceof BatchlabError && wrapped.code === 'BATCHLAB_STORE');
    assert.deepEqual(classifyRunFailure(wrapped), { kind: 'interrupted', code: 'SQLITE_FULL' });
    assert.equal(classifyRunFailure(new Error('outer', { cause: errno('ENOSPC') })).kind, 'interrupted');
  });

  it('a deliberate stop is interrupted too', () => {
    assert.equal(classifyRunFailure(new BatchlabError('BATCHLAB_INTERRUPTED', 'stopped')).kind, 'interrupted');
    assert.equal(classifyRunFailure(new DOMException('aborted', 'AbortError')).kind, 'interrupted');
  });

  it("the run's own faults and unknown errors are failures", () => {
    for (const err of [
      new DivergedError(12, 0.5, Number.NaN),
      new BatchlabError('BATCHLAB_OOM', 'out of memory at batch 4096'),
      new BatchlabError('BATCHLAB_CHILD_FAILED', 'the command exited with code 1'),
      sqlite('SQLITE_CONSTRAINT'),
      errno('ENOENT'),
      new RangeError('Invalid typed array length: -1'),
      'a string',
      undefined,
    ]) {
      assert.deepEqual(classifyRunFailure(err), { kind: 'failed' }, String(err));
    }
  });

  it('stops on a cycle of causes', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    assert.deepEqual(classifyRunFailure(a), { kind: 'failed' });
  });
});
