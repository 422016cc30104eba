/**
 * Interrupted or failed: how a run attempt that ended early is recorded.
 *
 * A run stopped by its environment (a full disk, an I/O error, a read-only file system, a signal, a lost
 * parent) is `interrupted`: nothing is wrong with the run itself, and `--resume` runs it again from the
 * start (Store.startRun clears the steps of the old attempt). A run that failed on its own (it diverged,
 * ran out of memory for real, or its command exited with an error) stays failed, and only
 * `--resume --retry-failed` runs it again (Store.resetFailedRuns).
 */
import { BatchlabError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import type { RunStatus } from './types.js';

/**
 * Error codes that mean "the environment stopped the run", by where they come from: SQLite result codes
 * (better-sqlite3's SqliteError.code, extended codes such as SQLITE_IOERR_WRITE included by prefix) and
 * errno codes of Node's fs and child processes.
 */
export const ENVIRONMENTAL_ERROR_CODES = ['SQLITE_FULL', 'SQLITE_IOERR', 'ENOSPC', 'EIO', 'EDQUOT', 'EROFS'] as const;

/**
 * Codes of a deliberate stop (Ctrl-C, SIGTERM, a lost parent): the run is interrupted, never failed. An
 * error named AbortError (Node's and the DOM's, whose numeric code is not one of these) counts too.
 */
export const STOP_ERROR_CODES = ['BATCHLAB_INTERRUPTED', 'ABORT_ERR'] as const;

/** Finished statuses a run reaches by its own fault; `--retry-failed` resets these to pending. */
export const OWN_FAILURE_STATUSES = [
  'failed',
  'oom',
  'diverged',
  'over-budget',
  'timeout',
] as const satisfies readonly RunStatus[];

/** How an early end is recorded: `interrupted` (environmental, `code` names why) or `failed` (its own). */
export type RunFailureClass = { kind: 'interrupted'; code: string } | { kind: 'failed' };

/** How deep a chain of `cause`s is followed (a cycle must not hang the classifier). */
const MAX_CAUSE_DEPTH = 8;

/**
 * Classifies an error that ended a run attempt. Interrupted when it is a deliberate stop
 * (STOP_ERROR_CODES), or environmental: when the error or any error in its
 * `cause` chain (BatchlabError wraps the SqliteError it translated) carries one of
 * ENVIRONMENTAL_ERROR_CODES (an extended SQLite code counts by its prefix: SQLITE_IOERR_WRITE is
 * SQLITE_IOERR). Everything else, including an unknown error, is the run's own failure: an unexplained
 * error must stay visible rather than be retried silently.
 */
export function classifyRunFailure(err: unknown): RunFailureClass {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    if ((current as { name?: unknown }).name === 'AbortError') return { kind: 'interrupted', code: 'ABORT_ERR' };
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      const env = ENVIRONMENTAL_ERROR_CODES.find((c) => code === c || code.startsWith(`${c}_`));
      if (env !== undefined || (STOP_ERROR_CODES as readonly string[]).includes(code))
        return { kind: 'interrupted', code };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return { kind: 'failed' };
}

/**
 * A write (steps, evals, the end) from an attempt that a newer attempt of the run replaced: refused, so
 * the two never mix. The writer of the old attempt was stopped (a lost parent, an interrupt) and a resume
 * took the run over; what it still had to say belongs to nobody.
 */
export class StaleAttemptError extends BatchlabError {
  readonly runId: number;
  readonly attempt: number;
  readonly current: number;
  constructor(o: { runId: number; key: string; attempt: number; current: number }) {
    super(
      'BATCHLAB_STORE',
      `run ${o.runId} ("${escapeControl(o.key)}") is on attempt ${o.current}, but this write comes from attempt ` +
        `${o.attempt}, which was stopped and replaced; its results are not stored (the new attempt records its own)`,
    );
    this.runId = o.runId;
    this.attempt = o.attempt;
    this.current = o.current;
  }
}
