/**
 * Schema version 2 and the upgrade from version 1: a real version-1 file is built here from the frozen
 * version-1 DDL (fixtures/schema-v1.sql), filled as batchlab 1 would, and opened by this batchlab.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BatchlabError } from '../../src/core/errors.js';
import { APPLICATION_ID, SCHEMA_VERSION, stepsTableDdl } from '../../src/store/schema.js';
import { openStore } from '../../src/store/index.js';
import { makeRunSummary, makeSteps, tempDir } from './helpers.js';

/** What batchlab with schema version 1 created, verbatim. */
const SCHEMA_V1 = readFileSync(new URL('./fixtures/schema-v1.sql', import.meta.url), 'utf8');

const tmp = tempDir();
after(() => tmp.cleanup());

const SUMMARY = makeRunSummary({ batchSize: 16 });

/** A version-1 database: one sweep, a done run with 3 steps and an eval, and a pending run. */
function v1File(opts: { extraSql?: string } = {}): string {
  const path = tmp.db();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA_V1);
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.pragma('user_version = 1');
  db.prepare(
    `INSERT INTO experiments (id, kind, created_at, status, settings, summary, env)
     VALUES (1, 'sweep', '2025-01-01T00:00:00.000Z', 'interrupted', '{"batchSizes":[16,32],"seeds":[1]}', NULL, '{"node":"v22"}')`,
  ).run();
  const insertRun = db.prepare(
    `INSERT INTO runs (id, experiment_id, key, batch_size, micro_batch_size, accum_steps, seed, lr, status,
       started_at, finished_at, summary, settings)
     VALUES (?, 1, ?, ?, ?, 1, 1, 0.05, ?, ?, ?, ?, '{"dataset":"iris"}')`,
  );
  insertRun.run(
    1,
    'b=16,seed=1',
    16,
    16,
    'done',
    '2025-01-01T00:00:01.000Z',
    '2025-01-01T00:00:02.000Z',
    JSON.stringify(SUMMARY),
  );
  insertRun.run(2, 'b=32,seed=1', 32, 32, 'pending', null, null, null);
  const insertStep = db.prepare(
    `INSERT INTO steps (run_id, step, samples, loss, lr, step_ms, batch_size, micro_batch_size, accum_steps,
       grad_sq_norm, micro_grad_sq_norm, peak_bytes) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const s of makeSteps(1, 3)) {
    insertStep.run(
      s.step,
      s.samples,
      s.loss,
      s.lr,
      s.stepMs,
      s.batchSize,
      s.microBatchSize,
      s.accumSteps,
      s.gradSqNorm,
      s.microGradSqNorm,
      s.peakBytes,
    );
  }
  db.prepare(
    `INSERT INTO evals (run_id, step, split, samples, loss, accuracy) VALUES (1, 3, 'test', 48, 0.4, 0.9)`,
  ).run();
  db.prepare(
    `INSERT INTO probes (experiment_id, batch_size, ok, kind, peak_bytes, rss_bytes, ms, message, phase)
     VALUES (1, 64, 1, 'ok', 5000, 9000, 12.5, NULL, 'search')`,
  ).run();
  if (opts.extraSql) db.exec(opts.extraSql);
  db.close();
  return path;
}

/** Every table's and index's columns as SQLite describes them, to compare two layouts. */
function layout(path: string): Record<string, unknown> {
  const db = new Database(path, { readonly: true });
  try {
    const names = db
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .pluck()
      .all() as string[];
    return Object.fromEntries(
      names.map((n) => [
        n,
        [db.pragma(`table_xinfo(${n})`), db.pragma(`index_list(${n})`), db.pragma(`foreign_key_list(${n})`)],
      ]),
    );
  } finally {
    db.close();
  }
}

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

describe('schema version 2', () => {
  it('the steps table derived from STEP_FIELDS has exactly the columns of version 1', () => {
    const v1 = new Database(':memory:');
    const v2 = new Database(':memory:');
    v1.exec(SCHEMA_V1);
    v2.exec('CREATE TABLE runs (id INTEGER PRIMARY KEY);');
    v2.exec(stepsTableDdl());
    assert.deepEqual(v2.pragma('table_xinfo(steps)'), v1.pragma('table_xinfo(steps)'));
    v1.close();
    v2.close();
  });

  it('opens a version-1 file, upgrades it in place and keeps every row', () => {
    const path = v1File();
    const store = openStore(path);
    try {
      assert.equal(store.schemaVersion, SCHEMA_VERSION);
      const [done, pending] = store.runsOf(1);
      assert.deepEqual(
        [done!.status, done!.attempt, pending!.status, pending!.attempt],
        ['done', 1, 'pending', 0],
        'a run that was started counts as attempt 1',
      );
      assert.deepEqual([done!.jobId, pending!.jobId], [null, null], 'runs of older files ran on this machine');
      assert.deepEqual(done!.summary, SUMMARY);
      assert.deepEqual(store.stepsOf(1), makeSteps(1, 3));
      assert.equal(store.evalsOf(1)[0]!.accuracy, 0.9);
      const [probe] = store.probesOf(1);
      assert.deepEqual(
        [probe!.batchSize, probe!.peakBytes, probe!.peakAtMost],
        [64, 5000, false],
        'older peaks were measured',
      );
      assert.deepEqual(store.getExperiment(1).settings, { batchSizes: [16, 32], seeds: [1] });
      assert.equal(store.acquireExperimentLock(1).pid, process.pid, 'the new lock table works');
    } finally {
      store.close();
    }
    assert.equal(userVersion(path), SCHEMA_VERSION);
  });

  it('an upgraded file has the same layout as a new one', () => {
    const upgraded = v1File();
    openStore(upgraded).close();
    const fresh = tmp.db();
    openStore(fresh).close();
    assert.deepEqual(layout(upgraded), layout(fresh));
  });

  it('a read-only open reads a version-1 file as it is and leaves it at version 1', () => {
    const path = v1File();
    const store = openStore(path, { readonly: true });
    try {
      assert.equal(store.schemaVersion, 1);
      assert.deepEqual(
        store.runsOf(1).map((r) => r.attempt),
        [1, 0],
      );
      assert.deepEqual(
        store.probesOf(1).map((p) => p.peakAtMost),
        [false],
        'peaks of a file without peak_at_most were measured',
      );
      assert.equal(store.experimentLock(1), undefined);
    } finally {
      store.close();
    }
    assert.equal(userVersion(path), 1);
  });

  it('a failed upgrade is rolled back: the file stays at version 1 with its rows', () => {
    // A table of that name already exists, so the migration's CREATE TABLE fails half-way through.
    const path = v1File({ extraSql: 'CREATE TABLE experiment_locks (x INTEGER);' });
    assert.throws(
      () => openStore(path),
      (err: unknown) =>
        err instanceof BatchlabError &&
        err.code === 'BATCHLAB_STORE' &&
        err.exitCode === 2 &&
        new RegExp(`cannot upgrade .* from batchlab schema version 1 to ${SCHEMA_VERSION} .*left at version 1`).test(
          err.message,
        ) &&
        !err.message.includes('\n'),
    );
    assert.equal(userVersion(path), 1);
    const db = new Database(path, { readonly: true });
    try {
      const columns = (db.pragma('table_info(runs)') as { name: string }[]).map((c) => c.name);
      assert.ok(!columns.includes('attempt'), 'the ALTER TABLE before the failure was rolled back');
      assert.equal(db.prepare('SELECT count(*) FROM steps').pluck().get(), 3);
    } finally {
      db.close();
    }
  });

  it('a batchlab file older than any known version is refused with advice, untouched', () => {
    const path = v1File();
    const db = new Database(path);
    db.pragma('user_version = 0');
    db.close();
    assert.throws(
      () => openStore(path),
      (err: unknown) =>
        err instanceof BatchlabError &&
        err.code === 'BATCHLAB_STORE' &&
        /schema version 0, older than any this batchlab can upgrade .*pass --db PATH/.test(err.message),
    );
    assert.equal(userVersion(path), 0);
  });
});
