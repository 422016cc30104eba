/**
 * Typed errors with stable codes. Every error a user can cause is one of these: the CLI prints
 * `error [CODE]: message` on one line and exits with the code's exit status from EXIT_CODES (2 for bad
 * input), the same in every command. Anything that is not a BatchlabError is a bug and prints a stack.
 *
 * Messages name the bad value and say what to do, e.g.
 * `batch size must be a positive integer, got "abc"; pass e.g. --batch-size 64`.
 */
import { escapeControl } from './text.js';

export type ErrorCode =
  | 'BATCHLAB_BAD_ARGUMENT'
  | 'BATCHLAB_UNKNOWN_FLAG'
  | 'BATCHLAB_UNKNOWN_COMMAND'
  | 'BATCHLAB_BAD_BATCH_SIZE'
  | 'BATCHLAB_UNKNOWN_DATASET'
  | 'BATCHLAB_UNKNOWN_MODEL'
  | 'BATCHLAB_UNKNOWN_OPTIMIZER'
  | 'BATCHLAB_UNKNOWN_SCHEDULE'
  | 'BATCHLAB_UNKNOWN_BACKEND'
  | 'BATCHLAB_BACKEND_UNAVAILABLE'
  | 'BATCHLAB_BAD_DATA_FILE'
  | 'BATCHLAB_SHAPE_MISMATCH'
  | 'BATCHLAB_DIVERGED'
  | 'BATCHLAB_STORE'
  | 'BATCHLAB_NOT_FOUND'
  | 'BATCHLAB_BAD_BUDGET'
  | 'BATCHLAB_OOM'
  | 'BATCHLAB_CHILD_FAILED'
  | 'BATCHLAB_TIMEOUT'
  | 'BATCHLAB_INTERRUPTED'
  | 'BATCHLAB_LOCKED'
  | 'BATCHLAB_OUTPUT'
  | 'BATCHLAB_NOT_BUILT';

/** What an exit status means, for help texts and the README. */
export const EXIT_MEANINGS = {
  0: 'done',
  1: 'the work failed: a run or probe crashed or timed out, a sweep ended with failed runs, no backend could start',
  2: 'bad input: a value, flag, data file, model file, database, lock or output path (the message names it)',
  3: 'a run diverged (NaN or Inf loss): lower the learning rate',
  4: 'out of memory: the allocator failed, the process was killed (SIGKILL) or went over its memory budget',
  130: 'stopped by SIGINT (Ctrl-C); a sweep resumes with --resume ID',
  143: 'stopped by SIGTERM (kill, systemd, Docker, Slurm); a sweep resumes with --resume ID',
} as const;

/** An exit status of the command line. */
export type ExitCode = keyof typeof EXIT_MEANINGS;

/**
 * The exit status of every error code, in one place, so an error exits the same in every command.
 * BATCHLAB_INTERRUPTED is 130 here; the command line exits 143 instead when SIGTERM stopped the work.
 */
export const EXIT_CODES: Readonly<Record<ErrorCode, ExitCode>> = {
  BATCHLAB_BAD_ARGUMENT: 2,
  BATCHLAB_UNKNOWN_FLAG: 2,
  BATCHLAB_UNKNOWN_COMMAND: 2,
  BATCHLAB_BAD_BATCH_SIZE: 2,
  BATCHLAB_UNKNOWN_DATASET: 2,
  BATCHLAB_UNKNOWN_MODEL: 2,
  BATCHLAB_UNKNOWN_OPTIMIZER: 2,
  BATCHLAB_UNKNOWN_SCHEDULE: 2,
  BATCHLAB_UNKNOWN_BACKEND: 2,
  BATCHLAB_BAD_DATA_FILE: 2,
  BATCHLAB_SHAPE_MISMATCH: 2,
  BATCHLAB_STORE: 2,
  BATCHLAB_NOT_FOUND: 2,
  BATCHLAB_BAD_BUDGET: 2,
  BATCHLAB_LOCKED: 2,
  BATCHLAB_OUTPUT: 2,
  BATCHLAB_BACKEND_UNAVAILABLE: 1,
  BATCHLAB_CHILD_FAILED: 1,
  BATCHLAB_TIMEOUT: 1,
  BATCHLAB_NOT_BUILT: 1,
  BATCHLAB_DIVERGED: 3,
  BATCHLAB_OOM: 4,
  BATCHLAB_INTERRUPTED: 130,
};

/** The exit status of work stopped by a signal: 128 + the signal's number, as a shell reports it. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** The exit status of an interruption whose cause is `reason` (an AbortSignal's reason: a signal's name, or anything else). */
export function interruptExitCode(reason: unknown): ExitCode {
  return reason === 'SIGTERM' ? SIGNAL_EXIT_CODES.SIGTERM : SIGNAL_EXIT_CODES.SIGINT;
}

export class BatchlabError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }

  /** Process exit status the command line uses for this error: EXIT_CODES of its code (2 = bad input). */
  get exitCode(): ExitCode {
    return EXIT_CODES[this.code];
  }
}

/** A command-line value or option is wrong (bad number, unknown flag, contradictory options). */
export class UsageError extends BatchlabError {
  constructor(message: string, code: ErrorCode = 'BATCHLAB_BAD_ARGUMENT') {
    super(code, message);
  }
}

/** A batch size is not a positive integer, or is larger than the data allows. */
export class BatchSizeError extends BatchlabError {
  constructor(message: string) {
    super('BATCHLAB_BAD_BATCH_SIZE', message);
  }
}

/** A name (dataset, model, optimizer, ...) is not one batchlab knows. Lists the valid ones. */
export class UnknownNameError extends BatchlabError {
  constructor(code: ErrorCode, kind: string, name: string, valid: readonly string[]) {
    super(code, `unknown ${kind} "${escapeControl(name)}"; valid ${kind}s: ${valid.join(', ')}`);
  }
}

/**
 * A data file is corrupt, short, has the wrong magic number, or holds a non-number. Names file and line;
 * the file name is echoed with its control characters escaped (callers escape what they quote from it).
 */
export class DataFileError extends BatchlabError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('BATCHLAB_BAD_DATA_FILE', `${escapeControl(file, Number.POSITIVE_INFINITY)}: ${message}`);
    this.file = file;
  }
}

/** The model's input or output shape does not fit the dataset. */
export class ShapeError extends BatchlabError {
  constructor(message: string) {
    super('BATCHLAB_SHAPE_MISMATCH', message);
  }
}

/** Training produced a NaN or Inf loss. Names the step and the learning rate. */
export class DivergedError extends BatchlabError {
  readonly step: number;
  readonly lr: number;
  constructor(step: number, lr: number, loss: number) {
    super(
      'BATCHLAB_DIVERGED',
      `loss became ${loss} at step ${step} with learning rate ${lr}; lower the learning rate (e.g. --lr ${+(lr / 10).toPrecision(3)}) or add warm-up`,
    );
    this.step = step;
    this.lr = lr;
  }
}

/** True for errors the CLI should print as one line without a stack. */
export function isKnownError(err: unknown): err is BatchlabError {
  return err instanceof BatchlabError;
}
