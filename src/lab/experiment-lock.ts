/**
 * An experiment's lock held by the process that runs it (store/lock.ts): taken when it starts (a lock
 * left by a killed owner is taken over, and the caller is told), refreshed every LOCK_REFRESH_MS while it
 * runs, so that a process on another host sharing the file sees it alive, and released at the end. If
 * another process took the lock over meanwhile (this one was silent past STALE_LOCK_MS, e.g. suspended),
 * `lost` aborts: the caller stops instead of racing the new owner.
 */
import { type ExperimentLock, LOCK_REFRESH_MS, type Store } from '../store/index.js';
import { escapeControl } from '../core/text.js';

/** A held lock: `lost` aborts if another process takes it over; release() ends it (safe to call twice). */
export interface HeldLock {
  readonly experimentId: number;
  readonly lost: AbortSignal;
  release(): void;
}

/** Options of holdExperimentLock. */
export interface HoldLockOptions {
  /** How often to refresh the lock, in ms (default LOCK_REFRESH_MS). */
  refreshMs?: number;
  /** Told when a stale lock was taken over (one line). */
  onNotice?(text: string): void;
  /** The lock was already taken by this process (in the transaction that created the experiment). */
  acquired?: boolean;
}

/** Takes the experiment's lock (ExperimentLockedError while a live process holds it) and keeps it fresh. */
export function holdExperimentLock(store: Store, experimentId: number, o: HoldLockOptions = {}): HeldLock {
  if (!o.acquired) {
    const lock = store.acquireExperimentLock(experimentId);
    if (lock.tookOverFrom) o.onNotice?.(takeoverNotice(lock.tookOverFrom, store.owner.host));
  }
  const lost = new AbortController();
  const timer = setInterval(() => {
    try {
      if (!store.refreshExperimentLock(experimentId)) lost.abort();
    } catch {
      // a busy or full database: the next refresh tries again, long before the lock could go stale
    }
  }, o.refreshMs ?? LOCK_REFRESH_MS);
  timer.unref();
  let released = false;
  return {
    experimentId,
    lost: lost.signal,
    release: () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        if (store.isOpen) store.releaseExperimentLock(experimentId);
      } catch {
        // the database cannot be written (a full disk): the lock names this process, which is about to
        // exit, so the next run of the experiment takes it over as stale
      }
    },
  };
}

/** How runExperimentLocked opens its experiment: a new one, or one to resume. */
export interface LockedStart extends Omit<HoldLockOptions, 'acquired'> {
  /** The experiment to resume; undefined: `create` a new one. */
  resumeId?: number;
  /** Creates the experiment, its runs and its lock (store.acquireExperimentLock) in one transaction; its id. */
  create(): number;
  /** Refuses a `resumeId` that cannot be resumed (its kind, its settings); before the lock is taken. */
  check(id: number): void;
  /** Under the lock of a resumed experiment: marks what a killed process left running as interrupted. */
  prepare(id: number): void;
}

/**
 * Opens an experiment under its lock: created with it, or checked, locked and prepared for a resume;
 * then `run` (released in `finally`, also when `run` throws). Shared by sweep and branch.
 */
export async function runExperimentLocked<T>(
  store: Store,
  o: LockedStart,
  run: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  let lock: HeldLock | undefined;
  const hold = { refreshMs: o.refreshMs, onNotice: o.onNotice };
  try {
    if (o.resumeId === undefined) {
      lock = holdExperimentLock(store, o.create(), { ...hold, acquired: true });
    } else {
      o.check(o.resumeId);
      lock = holdExperimentLock(store, o.resumeId, hold);
      o.prepare(o.resumeId);
    }
    return await run(lock);
  } finally {
    lock?.release();
  }
}

/** The line that says a stale lock was taken over, and from whom. */
export function takeoverNotice(old: ExperimentLock, myHost: string): string {
  const owner = `batchlab process ${old.pid}${old.host === myHost ? '' : ` on host ${escapeControl(old.host)}`}`;
  const why = old.host === myHost ? 'which is no longer running' : `which has not been seen since ${old.refreshedAt}`;
  return `experiment ${old.experimentId} was locked by ${owner} (since ${old.acquiredAt}), ${why}; took the lock over`;
}
