/** The experiment lock: one owner at a time, named in the error; a dead or silent owner's lock is taken over. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { BatchlabError } from '../../src/core/errors.js';
import {
  ExperimentLockedError,
  lockState,
  openStore,
  STALE_LOCK_MS,
  type ExperimentLock,
} from '../../src/store/index.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A database with one experiment; returns its path and id. */
function seeded(): { path: string; id: number } {
  const path = tmp.db();
  const store = openStore(path);
  const id = store.createExperiment({ kind: 'sweep', settings: {}, env: {} }).id;
  store.close();
  return { path, id };
}

/** Starts a process that takes the lock, and resolves once it holds it. */
async function holder(path: string, id: number): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, 'lock-holder.ts'), path, String(id)], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    if (out.includes('\n')) break;
  }
  const m = /^locked (\d+)/.exec(out);
  assert.ok(m, `the holder printed "${out}"`);
  return { child, pid: Number(m[1]) };
}

function isLocked(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ExperimentLockedError, `expected ExperimentLockedError, got ${String(err)}`);
    assert.ok(err instanceof BatchlabError);
    assert.equal(err.code, 'BATCHLAB_LOCKED');
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes('\n'));
    assert.match(err.message, pattern);
    return true;
  };
}

describe('experiment lock', () => {
  it('a live process holds it against another; once killed, its lock is taken over', async () => {
    const { path, id } = seeded();
    const { child, pid } = await holder(path, id);
    const store = openStore(path);
    try {
      const locked = isLocked(
        new RegExp(`experiment ${id} is being run by another batchlab process \\(pid ${pid}, .*kill ${pid}`),
      );
      assert.throws(
        () => store.acquireExperimentLock(id),
        (err: unknown) => locked(err) && (err as ExperimentLockedError).owner.pid === pid,
      );
      child.kill('SIGKILL');
      await once(child, 'exit');
      const lock = store.acquireExperimentLock(id);
      assert.equal(lock.pid, process.pid);
      assert.equal(lock.tookOverFrom?.pid, pid, 'the dead owner is reported');
      assert.equal(store.experimentLock(id)?.pid, process.pid);
      assert.equal(store.releaseExperimentLock(id), true);
      assert.equal(store.experimentLock(id), undefined);
    } finally {
      store.close();
      child.kill('SIGKILL');
    }
  });

  it('a lock released by its owner is free at once', async () => {
    const { path, id } = seeded();
    const { child } = await holder(path, id);
    child.stdin!.end();
    await once(child, 'exit');
    const store = openStore(path);
    try {
      assert.equal(store.acquireExperimentLock(id).tookOverFrom, undefined);
    } finally {
      store.close();
    }
  });

  it('the same process cannot take it twice; release leaves another owner alone', () => {
    const { path, id } = seeded();
    const store = openStore(path);
    try {
      store.acquireExperimentLock(id);
      assert.throws(() => store.acquireExperimentLock(id), isLocked(/already being run by this process/));
      const raw = new Database(path);
      raw.prepare('UPDATE experiment_locks SET pid = 1 WHERE experiment_id = ?').run(id); // pid 1 is alive
      raw.close();
      assert.equal(store.releaseExperimentLock(id), false);
      assert.equal(store.refreshExperimentLock(id), false);
      assert.equal(store.experimentLock(id)?.pid, 1);
    } finally {
      store.close();
    }
  });

  it('a lock from another host is held until it has not been refreshed for STALE_LOCK_MS', () => {
    const { path, id } = seeded();
    const t0 = Date.UTC(2025, 0, 1);
    const raw = new Database(path);
    raw
      .prepare('INSERT INTO experiment_locks VALUES (?, 4242, ?, ?, ?)')
      .run(id, 'gpu-node-7\u001b[2J', new Date(t0).toISOString(), new Date(t0).toISOString());
    raw.close();
    let nowMs = t0 + STALE_LOCK_MS - 1000;
    const store = openStore(path, { now: () => new Date(nowMs) });
    try {
      assert.throws(
        () => store.acquireExperimentLock(id),
        isLocked(/batchlab process 4242 on host gpu-node-7\\x1b\[2J .*taken over 10 minutes after it was last seen/),
      );
      nowMs = t0 + STALE_LOCK_MS + 1000;
      const lock = store.acquireExperimentLock(id);
      assert.equal(lock.tookOverFrom?.host, 'gpu-node-7\u001b[2J');
      assert.equal(lock.host, hostname());
      nowMs += 5000;
      assert.equal(store.refreshExperimentLock(id), true);
      assert.equal(store.experimentLock(id)?.refreshedAt, new Date(nowMs).toISOString());
    } finally {
      store.close();
    }
  });

  it('an unknown experiment is BATCHLAB_NOT_FOUND', () => {
    const { path } = seeded();
    const store = openStore(path);
    try {
      assert.throws(() => store.acquireExperimentLock(99), { code: 'BATCHLAB_NOT_FOUND' });
    } finally {
      store.close();
    }
  });
});

describe('lockState', () => {
  const lock = (over: Partial<ExperimentLock>): ExperimentLock => ({
    experimentId: 1,
    pid: 100,
    host: 'a',
    acquiredAt: '2025-01-01T00:00:00.000Z',
    refreshedAt: '2025-01-01T00:00:00.000Z',
    ...over,
  });
  const t0 = Date.parse('2025-01-01T00:00:00.000Z');
  const me = { pid: 1, host: 'a', nowMs: t0 + 10 * STALE_LOCK_MS };

  it('on this host, by whether the pid is alive, however old the lock', () => {
    assert.equal(lockState(lock({}), { ...me, isAlive: () => true }), 'live');
    assert.equal(lockState(lock({}), { ...me, isAlive: () => false }), 'owner-gone');
    assert.equal(lockState(lock({ pid: 1 }), { ...me, isAlive: () => false }), 'live', 'this process');
  });

  it('on another host, by the time since the last refresh', () => {
    const other = { ...me, host: 'b', isAlive: () => false };
    assert.equal(lockState(lock({}), { ...other, nowMs: t0 + STALE_LOCK_MS }), 'live');
    assert.equal(lockState(lock({}), { ...other, nowMs: t0 + STALE_LOCK_MS + 1 }), 'expired');
    assert.equal(lockState(lock({ refreshedAt: 'garbage' }), other), 'expired');
  });
});
