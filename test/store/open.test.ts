import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { BatchlabError } from '../../src/core/errors.js';
import { openStore, SCHEMA_VERSION } from '../../src/store/index.js';
import { makeSteps, tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

function storeError(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof BatchlabError, `expected BatchlabError, got ${String(err)}`);
    assert.equal(err.code, 'BATCHLAB_STORE');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  };
}

/** Escapes a path for use inside a RegExp. */
function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A batchlab database with one experiment and one run; returns its path and the run id. */
function seededDb(): { path: string; experimentId: number; runId: number } {
  const path = tmp.db();
  const store = openStore(path);
  const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
  const run = store.upsertRun({ experimentId: exp.id, key: 'b=64,seed=1', batchSize: 64, seed: 1, lr: 0.1 });
  store.close();
  return { path, experimentId: exp.id, runId: run.id };
}

function runTs(script: string, args: string[]): Promise<string> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', join(FIXTURES, script), ...args], {
    cwd: REPO,
    timeout: 30_000,
  }).then((r) => r.stdout);
}

describe('opening files that are not batchlab databases', () => {
  it('reports a file of random bytes and leaves it untouched', () => {
    const path = tmp.db('random.db');
    const bytes = randomBytes(8192);
    writeFileSync(path, bytes);
    for (const readonly of [false, true]) {
      assert.throws(
        () => openStore(path, { readonly }),
        storeError(
          new RegExp(
            `^${re(path)} is not a batchlab database \\(file is not a database\\); move it away or pass --db PATH$`,
          ),
        ),
      );
    }
    assert.deepEqual(readFileSync(path), bytes);
    assert.ok(!existsSync(`${path}-wal`) && !existsSync(`${path}-shm`), 'no WAL files were created next to it');
  });

  it('reports a file with the SQLite magic but a garbage body, untouched', () => {
    const path = tmp.db('damaged.db');
    const bytes = Buffer.concat([Buffer.from('SQLite format 3\u0000', 'latin1'), randomBytes(8176)]);
    writeFileSync(path, bytes);
    assert.throws(
      () => openStore(path),
      storeError(new RegExp(`^${re(path)} is not a batchlab database \\(.+\\); move it away`)),
    );
    assert.deepEqual(readFileSync(path), bytes);
  });

  it('reports a SQLite database of another application (foreign schema), untouched', () => {
    const path = tmp.db('other.db');
    const raw = new Database(path);
    raw.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')");
    raw.close();
    const bytes = readFileSync(path);
    assert.throws(
      () => openStore(path),
      storeError(/is not a batchlab database \(it holds tables batchlab did not create: users\)/),
    );
    assert.deepEqual(readFileSync(path), bytes, 'journal mode and schema are unchanged');
  });

  it('reports a database written by a newer batchlab', () => {
    const { path } = seededDb();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(
      () => openStore(path),
      storeError(
        new RegExp(
          `written by a newer batchlab \\(schema version ${SCHEMA_VERSION + 1}; this one reads version ${SCHEMA_VERSION}\\)`,
        ),
      ),
    );
  });

  it('read-only: a missing file is reported and not created; an empty one has no data; writes are refused', () => {
    const missing = tmp.db('missing.db');
    assert.throws(
      () => openStore(missing, { readonly: true }),
      storeError(new RegExp(`cannot open database ${re(missing)}`)),
    );
    assert.ok(!existsSync(missing));

    const empty = tmp.db('empty.db');
    writeFileSync(empty, '');
    assert.throws(() => openStore(empty, { readonly: true }), storeError(/holds no batchlab data yet/));

    const { path, experimentId } = seededDb();
    const ro = openStore(path, { readonly: true });
    try {
      assert.equal(ro.getExperiment(experimentId).kind, 'sweep');
      assert.throws(() => ro.setExperimentStatus(experimentId, 'done'), storeError(/cannot write to database/));
    } finally {
      ro.close();
    }
  });

  it('reports a path whose directory does not exist', () => {
    const path = join(tmp.dir, 'no', 'such', 'dir', 'x.db');
    assert.throws(() => openStore(path), storeError(/cannot open database .*directory exists/));
  });

  it('creates the schema once and marks the file in WAL mode', () => {
    const { path } = seededDb();
    const raw = new Database(path, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      const tables = raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ['evals', 'experiment_locks', 'experiments', 'probes', 'runs', 'steps']);
    } finally {
      raw.close();
    }
    openStore(path).close(); // reopening a current database changes nothing
  });
});

describe('concurrency (WAL)', () => {
  it('a write waits busyTimeoutMs for a held write lock, then reports the locked file', () => {
    const { path, experimentId } = seededDb();
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    const store = openStore(path, { busyTimeoutMs: 150 });
    try {
      assert.equal(store.getExperiment(experimentId).kind, 'sweep', 'reads are not blocked by the writer');
      const t0 = performance.now();
      assert.throws(
        () => store.createExperiment({ kind: 'train', settings: {}, env: {} }),
        storeError(new RegExp(`^database ${re(path)} is locked by another process \\(waited 150 ms\\)`)),
      );
      assert.ok(performance.now() - t0 >= 100, 'it waited for the lock before giving up');
      holder.exec('ROLLBACK');
      store.createExperiment({ kind: 'train', settings: {}, env: {} }); // the lock is gone: works
    } finally {
      store.close();
      holder.close();
    }
  });

  it('a second openStore reads committed data while the first writes, and a reader never blocks a commit', () => {
    const { path, runId } = seededDb();
    const writer = openStore(path, { busyTimeoutMs: 100 });
    const reader = openStore(path, { readonly: true });
    try {
      writer.appendSteps(runId, makeSteps(1, 50));
      writer.transaction(() => {
        writer.appendSteps(runId, makeSteps(51, 50));
        assert.equal(reader.stepsOf(runId).length, 50, 'the reader sees committed rows only, without waiting');
      });
      assert.equal(reader.stepsOf(runId).length, 100);

      // A long-lived read snapshot (a dashboard mid-query). In rollback-journal mode the writer's commit
      // would need it to end and fail with "locked" after 100 ms; in WAL mode the commit goes through.
      const snapshot = new Database(path, { readonly: true });
      snapshot.exec('BEGIN');
      const count = () => snapshot.prepare('SELECT count(*) FROM steps').pluck().get();
      assert.equal(count(), 100);
      writer.appendSteps(runId, makeSteps(101, 50));
      assert.equal(count(), 100, 'the open snapshot is stable');
      snapshot.exec('COMMIT');
      assert.equal(count(), 150);
      snapshot.close();
    } finally {
      reader.close();
      writer.close();
    }
  });

  it('a separate process reads while this one holds an open write transaction', async () => {
    const { path, runId } = seededDb();
    const store = openStore(path);
    store.appendSteps(runId, makeSteps(1, 30));
    store.close();
    const holder = new Database(path);
    try {
      holder.exec('BEGIN IMMEDIATE');
      holder.prepare('DELETE FROM steps').run(); // uncommitted
      const out = JSON.parse(await runTs('reader.ts', [path, String(runId)]));
      assert.deepEqual(out, { steps: 30 });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });

  it('this process reads while a separate process writes batches; every read sees whole batches', async () => {
    const { path, runId } = seededDb();
    const reader = openStore(path, { readonly: true });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(FIXTURES, 'writer.ts'), path, String(runId), '20', '50', '30'],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let running = true;
    void exited.then(() => (running = false));
    const seen: number[] = [];
    try {
      while (running) {
        seen.push(reader.stepsOf(runId).length);
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(await exited, 0);
      assert.equal(stdout.trim(), 'done 1000');
      seen.push(reader.stepsOf(runId).length);
      assert.equal(seen.at(-1), 1000);
      assert.ok(
        seen.every((n, i) => n % 50 === 0 && (i === 0 || n >= seen[i - 1]!)),
        `counts: ${seen.join(',')}`,
      );
      assert.ok(
        seen.some((n) => n > 0 && n < 1000),
        `saw the run grow while it was written: ${seen.join(',')}`,
      );
    } finally {
      reader.close();
      if (running) child.kill();
    }
  });
});
