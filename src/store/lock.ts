/**
 * The experiment lock: at most one batchlab process runs (or resumes) an experiment at a time. The lock
 * is a row of `experiment_locks` (schema version 2) naming its owner, a pid on a host. Taking it is one
 * write transaction (BEGIN IMMEDIATE), so two processes that race for it are serialized by SQLite.
 *
 * When a lock is stale (its owner can no longer be running the experiment), the next acquirer takes it over:
 * - owner on this host: stale as soon as its pid is gone (signal 0 says ESRCH);
 * - owner on another host, whose processes cannot be checked from here: stale when it has not refreshed
 *   the lock for STALE_LOCK_MS. An owner refreshes it every LOCK_REFRESH_MS while it runs.
 * A pid reused by an unrelated process after the owner died keeps the lock held; the error names the pid
 * so the user can check it and remove the lock by stopping that process.
 */
import { BatchlabError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';

/** How often a lock's owner should call refreshExperimentLock, in ms. */
export const LOCK_REFRESH_MS = 60_000;
/** A lock held from another host and not refreshed for this long is stale, in ms (10 minutes). */
export const STALE_LOCK_MS = 10 * 60_000;

/** A process: its pid on a host. */
export interface LockOwner {
  pid: number;
  host: string;
}

/** A held experiment lock. Times are ISO 8601 UTC. */
export interface ExperimentLock extends LockOwner {
  experimentId: number;
  acquiredAt: string;
  refreshedAt: string;
}

/** Why a lock is, or is not, still held. */
export type LockState = 'live' | 'owner-gone' | 'expired';

/**
 * Whether process `pid` exists on this host. Signal 0 checks without sending anything: ESRCH means no
 * such process; EPERM means one exists that belongs to another user.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The state of `lock` seen by process `me` at `nowMs`; `isAlive` checks a pid of this host. */
export function lockState(
  lock: ExperimentLock,
  me: LockOwner & { nowMs: number; isAlive: (pid: number) => boolean },
): LockState {
  if (lock.host === me.host) return lock.pid === me.pid || me.isAlive(lock.pid) ? 'live' : 'owner-gone';
  const refreshedMs = Date.parse(lock.refreshedAt);
  return Number.isFinite(refreshedMs) && me.nowMs - refreshedMs <= STALE_LOCK_MS ? 'live' : 'expired';
}

/** A live process holds the experiment's lock (BATCHLAB_LOCKED, exit 2); `owner` says which. */
export class ExperimentLockedError extends BatchlabError {
  readonly owner: ExperimentLock;
  constructor(lock: ExperimentLock, me: LockOwner) {
    super('BATCHLAB_LOCKED', lockedMessage(lock, me));
    this.owner = lock;
  }
}

function lockedMessage(lock: ExperimentLock, me: LockOwner): string {
  const id = lock.experimentId;
  if (lock.host === me.host && lock.pid === me.pid)
    return `experiment ${id} is already being run by this process (pid ${lock.pid}); run it once at a time`;
  const host = escapeControl(lock.host);
  if (lock.host === me.host) {
    return (
      `experiment ${id} is being run by another batchlab process (pid ${lock.pid}, since ${lock.acquiredAt}); ` +
      `wait for it to finish, or stop it (kill ${lock.pid}) and run the command again`
    );
  }
  return (
    `experiment ${id} is being run by batchlab process ${lock.pid} on host ${host} (since ${lock.acquiredAt}, ` +
    `last seen ${lock.refreshedAt}); wait for it to finish; if that process is gone, the lock is taken over ` +
    `${STALE_LOCK_MS / 60_000} minutes after it was last seen`
  );
}
