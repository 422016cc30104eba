/**
 * Live updates of experiments for Server-Sent Events. The sweep writes from another process (WAL), so there
 * is nothing to subscribe to: the store is polled. One `ExperimentFeed` per experiment polls it every
 * POLL_INTERVAL_MS for all the streams open on that experiment (so 200 open tabs cost one poll per tick,
 * not 200), reading the steps after the last one it read per run and the changes of the runs' status,
 * summary and evals. Each stream keeps its own cursor (the last step it sent per run) and gets only the
 * steps after it: a stream that joins late first gets, once, the steps between its cursor and the feed's.
 */
import type { StepRecord } from '../core/types.js';
import type { LiveStepColumns } from '../report/types.js';
import type { Run, Store } from '../store/index.js';

/** Poll period: new steps reach the page within about this plus the page's 100 ms redraw delay. */
export const POLL_INTERVAL_MS = 500;

/** Steps sent per run per event; a backlog drains over the following ticks. */
export const MAX_STEPS_PER_EVENT = 5000;

/** A comment line every so often keeps proxies and idle timeouts from closing a stream. */
export const HEARTBEAT_INTERVAL_MS = 15_000;

/** Last step sent (or read), by run id. */
export type Cursor = Map<number, number>;

/** One pushed message: `steps` (new points of one run), `changed` (reload), `error` (kept polling). */
export type LiveEvent =
  | { event: 'steps'; data: { runId: number; steps: LiveStepColumns } }
  | { event: 'changed'; data: { experimentId: number } }
  | { event: 'error'; data: { message: string } };

/** Runs `fn` every `ms` until the returned function is called; injected so tests can tick by hand. */
export interface Ticker {
  every(ms: number, fn: () => void): () => void;
}

export const REAL_TICKER: Ticker = {
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
};

/** Parses `12:400,13:380` (run id : last step the page has) into a cursor; null if malformed. */
export function parseCursor(text: string | null): Cursor | null {
  const cursor: Cursor = new Map();
  if (text === null || text.trim() === '') return cursor;
  for (const part of text.split(',')) {
    const m = /^(\d+):(\d+)$/.exec(part.trim());
    if (!m) return null;
    cursor.set(Number(m[1]), Number(m[2]));
  }
  return cursor;
}

/** One SSE frame. */
export function sseFrame(e: LiveEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** A poll or read that failed (e.g. the database was locked): the stream goes on. */
function errorEvent(err: unknown): LiveEvent {
  return { event: 'error', data: { message: err instanceof Error ? err.message : String(err) } };
}

/** `steps` of one run as the columns a page appends (NaN as null: JSON has none). */
function stepsEvent(runId: number, steps: readonly StepRecord[]): StepsEvent {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    event: 'steps',
    data: {
      runId,
      steps: {
        step: steps.map((s) => s.step),
        samples: steps.map((s) => s.samples),
        loss: steps.map((s) => finite(s.loss)),
        stepMs: steps.map((s) => finite(s.stepMs)),
      },
    },
  };
}

type StepsEvent = Extract<LiveEvent, { event: 'steps' }>;

/** The rows of a `steps` event after `afterStep` (the part a stream does not have yet), or null if none. */
function stepsAfter(e: StepsEvent, afterStep: number): StepsEvent | null {
  const from = e.data.steps.step.findIndex((s) => s > afterStep);
  if (from < 0) return null;
  if (from === 0) return e;
  const cols = e.data.steps;
  return {
    event: 'steps',
    data: {
      runId: e.data.runId,
      steps: {
        step: cols.step.slice(from),
        samples: cols.samples.slice(from),
        loss: cols.loss.slice(from),
        stepMs: cols.stepMs.slice(from),
      },
    },
  };
}

/** A stream that receives events: its cursor, and where its frames go. */
export interface Subscriber {
  readonly cursor: Cursor;
  send(e: LiveEvent): void;
}

/**
 * The poller of one experiment. `poll()` reads what changed since the previous call and returns the
 * events; `deliver()` hands each stream the part of them it has not seen. Steps of a run the feed has not
 * read yet are read from the cursor it started with (runs not in it from their first step).
 */
export class ExperimentFeed {
  private readonly position: Cursor;
  private signature: string | null = null;

  constructor(
    private readonly store: () => Store,
    readonly experimentId: number,
    start: Cursor,
  ) {
    this.position = new Map(start);
  }

  poll(): LiveEvent[] {
    try {
      const store = this.store();
      const runs = store.runsOf(this.experimentId);
      const events: LiveEvent[] = [];
      const signature = this.signatureOf(store, runs);
      if (this.signature !== null && signature !== this.signature)
        events.push({ event: 'changed', data: { experimentId: this.experimentId } });
      this.signature = signature;
      for (const run of runs) {
        if (run.status === 'pending') continue;
        const last = this.position.get(run.id) ?? 0;
        const steps = store.stepsOf(run.id, { fromStep: last + 1 }).slice(0, MAX_STEPS_PER_EVENT);
        if (steps.length === 0) continue;
        this.position.set(run.id, steps[steps.length - 1]!.step);
        events.push(stepsEvent(run.id, steps));
      }
      return events;
    } catch (err) {
      return [errorEvent(err)];
    }
  }

  /** Sends `events` to `sub`: steps only after its cursor (which then moves), the rest as they are. */
  deliver(sub: Subscriber, events: readonly LiveEvent[]): void {
    for (const e of events) {
      if (e.event !== 'steps') {
        sub.send(e);
        continue;
      }
      const fresh = stepsAfter(e, sub.cursor.get(e.data.runId) ?? 0);
      if (fresh === null) continue;
      sub.send(fresh);
      const steps = fresh.data.steps.step;
      sub.cursor.set(e.data.runId, steps[steps.length - 1]!);
    }
  }

  /**
   * Brings a stream that joins late up to the feed: per run, the steps after its cursor through the last
   * one the feed has read (in events of at most MAX_STEPS_PER_EVENT), read once, for this stream only.
   */
  catchUp(sub: Subscriber): void {
    for (const [runId, feedLast] of this.position) {
      const subLast = sub.cursor.get(runId) ?? 0;
      if (subLast >= feedLast) continue;
      let steps: StepRecord[];
      try {
        steps = this.store()
          .stepsOf(runId, { fromStep: subLast + 1 })
          .filter((s) => s.step <= feedLast);
      } catch (err) {
        sub.send(errorEvent(err)); // as a failed poll: the stream stays open, the page keeps what it has
        return;
      }
      for (let i = 0; i < steps.length; i += MAX_STEPS_PER_EVENT) {
        this.deliver(sub, [stepsEvent(runId, steps.slice(i, i + MAX_STEPS_PER_EVENT))]);
      }
    }
  }

  /**
   * What a page must reload for when it changes: the experiment's status and summary, each run's
   * status and summary, and the number of evals of running runs (evals are few; steps are pushed).
   */
  private signatureOf(store: Store, runs: readonly Run[]): string {
    const e = store.getExperiment(this.experimentId);
    const parts = [e.status, JSON.stringify(e.summary)];
    for (const r of runs) {
      const evals = r.status === 'running' ? store.evalsOf(r.id).length : -1;
      parts.push(`${r.id}:${r.status}:${r.summary === null ? 0 : JSON.stringify(r.summary).length}:${evals}`);
    }
    return parts.join('|');
  }
}
