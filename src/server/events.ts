/**
 * Live updates of one experiment for Server-Sent Events. The sweep writes from another process (WAL),
 * so there is nothing to subscribe to: each connection polls the store every POLL_INTERVAL_MS for steps
 * after the last one it sent per run, and for changes of the runs' status/summary/evals, and pushes
 * them. Polling cost is one indexed range query per run per tick.
 */
import type { Run, Store } from '../store/index.js';

/** Poll period: new steps reach the page within about this plus the page's 100 ms redraw delay. */
export const POLL_INTERVAL_MS = 500;

/** Steps sent per run per event; a backlog drains over the following ticks. */
export const MAX_STEPS_PER_EVENT = 5000;

/** Last step sent, by run id. */
export type Cursor = Map<number, number>;

/** One pushed message: `steps` (new points of one run), `changed` (reload), `error` (kept polling). */
export interface LiveEvent {
  event: 'steps' | 'changed' | 'error';
  data: unknown;
}

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

/**
 * A poller for one experiment and one connection. `poll()` reads what changed since the previous call
 * and returns the events to send; the caller runs it on a timer. Steps of a run not in the cursor are
 * sent from its first step.
 */
export class ExperimentWatcher {
  private readonly cursor: Cursor;
  private signature: string | null = null;

  constructor(
    private readonly store: Store,
    private readonly experimentId: number,
    cursor: Cursor,
  ) {
    this.cursor = new Map(cursor);
  }

  poll(): LiveEvent[] {
    try {
      const runs = this.store.runsOf(this.experimentId);
      const events: LiveEvent[] = [];
      const signature = this.signatureOf(runs);
      if (this.signature !== null && signature !== this.signature)
        events.push({ event: 'changed', data: { experimentId: this.experimentId } });
      this.signature = signature;
      for (const run of runs) {
        const steps = this.newSteps(run);
        if (steps !== null) events.push({ event: 'steps', data: steps });
      }
      return events;
    } catch (err) {
      return [{ event: 'error', data: { message: err instanceof Error ? err.message : String(err) } }];
    }
  }

  /** New steps of one run as columns (step, samples, loss, stepMs; NaN as null), or null if none. */
  private newSteps(
    run: Run,
  ): { runId: number; steps: Record<'step' | 'samples' | 'loss' | 'stepMs', (number | null)[]> } | null {
    if (run.status === 'pending') return null;
    const last = this.cursor.get(run.id) ?? 0;
    const steps = this.store.stepsOf(run.id, { fromStep: last + 1 }).slice(0, MAX_STEPS_PER_EVENT);
    if (steps.length === 0) return null;
    this.cursor.set(run.id, steps[steps.length - 1]!.step);
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      runId: run.id,
      steps: {
        step: steps.map((s) => s.step),
        samples: steps.map((s) => s.samples),
        loss: steps.map((s) => finite(s.loss)),
        stepMs: steps.map((s) => finite(s.stepMs)),
      },
    };
  }

  /**
   * What a page must reload for when it changes: the experiment's status and summary, each run's
   * status and summary, and the number of evals of running runs (evals are few; steps are pushed).
   */
  private signatureOf(runs: readonly Run[]): string {
    const e = this.store.getExperiment(this.experimentId);
    const parts = [e.status, JSON.stringify(e.summary)];
    for (const r of runs) {
      const evals = r.status === 'running' ? this.store.evalsOf(r.id).length : -1;
      parts.push(`${r.id}:${r.status}:${r.summary === null ? 0 : JSON.stringify(r.summary).length}:${evals}`);
    }
    return parts.join('|');
  }
}

/** One SSE frame. */
export function sseFrame(e: LiveEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}
