/**
 * StepWriter: buffers a run's StepRecords and writes them in one transaction every `maxRows` rows or
 * `maxDelayMs` ms, so the training loop pays an array push per step instead of a SQLite commit.
 */
import type { StepRecord } from '../core/types.js';
import type { Store } from './store.js';

export interface StepWriterOptions {
  /** Flush when this many rows are buffered. Default 50. */
  maxRows?: number;
  /**
   * Flush when the oldest buffered row is this old, in ms, so a dashboard sees slow runs progress.
   * Checked on every `add` and by a timer. Default 1000.
   */
  maxDelayMs?: number;
  /** Monotonic clock in ms; tests pass a fake one. Default `performance.now`. */
  nowMs?: () => number;
  /** Arm a timer to flush a buffer that no further `add` arrives for. Default true. */
  timer?: boolean;
  /**
   * The run attempt these steps belong to (Store.startRun's `attempt`). When given, a flush after a newer
   * attempt of the run has started is refused by the store, so a stopped attempt never mixes its steps in.
   */
  attempt?: number;
}

/** The part of Store a StepWriter uses (lets tests count transactions). */
export type StepSink = Pick<Store, 'appendSteps'>;

export class StepWriter {
  readonly runId: number;
  private readonly sink: StepSink;
  private readonly maxRows: number;
  private readonly maxDelayMs: number;
  private readonly nowMs: () => number;
  private readonly useTimer: boolean;
  private readonly attempt: number | undefined;
  private buffer: StepRecord[] = [];
  /** When the oldest buffered row was added, in `nowMs` time; undefined while the buffer is empty. */
  private oldestAtMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Total rows committed by this writer. */
  private writtenRows = 0;
  /** Last error of a timer-driven flush; its rows stay buffered and the next add/flush retries them. */
  private timerError: unknown;

  constructor(store: StepSink, runId: number, opts: StepWriterOptions = {}) {
    this.sink = store;
    this.runId = runId;
    this.maxRows = Math.max(1, Math.floor(opts.maxRows ?? 50));
    this.maxDelayMs = Math.max(0, opts.maxDelayMs ?? 1000);
    this.nowMs = opts.nowMs ?? (() => performance.now());
    this.useTimer = opts.timer ?? true;
    this.attempt = opts.attempt;
  }

  /** Rows waiting to be written. */
  get pendingRows(): number {
    return this.buffer.length;
  }

  /** Rows committed so far. */
  get writtenCount(): number {
    return this.writtenRows;
  }

  /** The last timer-driven flush's error, if it failed (the rows were kept); cleared by a good flush. */
  get lastTimerError(): unknown {
    return this.timerError;
  }

  /** Buffers one step; flushes (synchronously) when the row or age limit is reached. */
  add(step: StepRecord): void {
    if (this.closed) throw new Error(`StepWriter for run ${this.runId} is closed`);
    if (this.buffer.length === 0) {
      this.oldestAtMs = this.nowMs();
      this.armTimer();
    }
    this.buffer.push(step);
    const ageMs = this.nowMs() - (this.oldestAtMs ?? 0);
    if (this.buffer.length >= this.maxRows || ageMs >= this.maxDelayMs) this.flush();
  }

  /**
   * Writes every buffered row in one transaction and returns how many. On error the rows stay
   * buffered (nothing is lost) and the error propagates.
   */
  flush(): number {
    this.disarmTimer();
    if (this.buffer.length === 0) return 0;
    const rows = this.buffer;
    const n = this.sink.appendSteps(this.runId, rows, { attempt: this.attempt });
    this.buffer = [];
    this.oldestAtMs = undefined;
    this.writtenRows += n;
    this.timerError = undefined;
    return n;
  }

  /** Flushes and stops accepting rows; call it when the run ends (also on failure paths). */
  close(): number {
    const n = this.flush();
    this.closed = true;
    return n;
  }

  private armTimer(): void {
    if (!this.useTimer || this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flushFromTimer(), this.maxDelayMs);
    // A pending flush must not keep the process alive; close() writes whatever is left.
    this.timer.unref();
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * A throw from a timer callback would be an uncaught exception that kills the sweep, so the error is
   * kept instead; the rows stay buffered and the next add/flush retries and reports a lasting failure.
   */
  private flushFromTimer(): void {
    this.timer = undefined;
    try {
      this.flush();
    } catch (err) {
      this.timerError = err;
    }
  }
}
