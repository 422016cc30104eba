/**
 * Typed errors with stable codes. Every error a user can cause is one of these: the CLI prints
 * `error [CODE]: message` on one line and exits with `exitCode` (2 for bad input). Anything that is
 * not a BatchlabError is a bug and prints a stack.
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
  | 'BATCHLAB_OUTPUT';

export class BatchlabError extends Error {
  readonly code: ErrorCode;
  /** Process exit code the CLI uses for this error (2 = bad input). */
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 2;
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
      { exitCode: 3 },
    );
    this.step = step;
    this.lr = lr;
  }
}

/** True for errors the CLI should print as one line without a stack. */
export function isKnownError(err: unknown): err is BatchlabError {
  return err instanceof BatchlabError;
}
