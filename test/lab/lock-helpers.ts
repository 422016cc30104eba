/**
 * Stand-ins for another batchlab process holding an experiment's lock, for the lock tests of sweep and
 * branch: a lock row written for another pid, and a process that stays alive until stopped.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';

/** Writes a lock row for `pid` as another process would (the store only ever writes its own pid). */
export function forgeLock(db: string, experimentId: number, pid: number): void {
  const conn = new Database(db);
  try {
    const now = new Date().toISOString();
    conn
      .prepare(
        'INSERT OR REPLACE INTO experiment_locks (experiment_id, pid, host, acquired_at, refreshed_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(experimentId, pid, hostname(), now, now);
  } finally {
    conn.close();
  }
}

/** A process that stays alive until killed: a stand-in for another batchlab holding the lock. */
export function liveProcess(): { pid: number; stop: () => Promise<void> } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
