/**
 * Live steps on a page: the dashboard appends the points a `steps` event carries to the run's downsampled
 * columns, and keeps them in a tail so that a reload of the (older) report data does not lose them.
 * Pure data in, data out; no DOM.
 */
import type { LiveStepColumns, ReportData, ReportRun } from '../../src/report/types.js';
import { isNum } from './json.js';

const LIVE_KEYS = ['step', 'samples', 'loss', 'stepMs'] as const;

export function emptyColumns(): LiveStepColumns {
  return { step: [], samples: [], loss: [], stepMs: [] };
}

/**
 * Adds new steps to one run, in place: steps it already has (step <= run.lastStep) are skipped, wall time
 * is the running sum of step times (a missing step time adds 0). Returns how many were added.
 */
export function addSteps(run: ReportRun, cols: LiveStepColumns): number {
  let added = 0;
  for (let i = 0; i < cols.step.length; i++) {
    const step = cols.step[i]!;
    if (step <= run.lastStep) continue;
    const ms = cols.stepMs[i];
    const loss = cols.loss[i];
    run.lastWallS += isNum(ms) ? ms / 1000 : 0;
    run.lastStep = step;
    run.stepCount += 1;
    run.steps.step.push(step);
    run.steps.samples.push(cols.samples[i]!);
    run.steps.wallS.push(run.lastWallS);
    run.steps.loss.push(isNum(loss) ? loss : null);
    run.steps.stepMs.push(isNum(ms) ? ms : null);
    added++;
  }
  return added;
}

/** Appends `cols` to `tail`, in place. */
export function appendColumns(tail: LiveStepColumns, cols: LiveStepColumns): void {
  for (const k of LIVE_KEYS) (tail[k] as (number | null)[]).push(...cols[k]);
}

/** The rows of `cols` with step > `afterStep`. */
export function columnsAfter(cols: LiveStepColumns, afterStep: number): LiveStepColumns {
  const keep = cols.step.map((s) => s > afterStep);
  return {
    step: cols.step.filter((_, i) => keep[i]),
    samples: cols.samples.filter((_, i) => keep[i]),
    loss: cols.loss.filter((_, i) => keep[i]),
    stepMs: cols.stepMs.filter((_, i) => keep[i]),
  };
}

/**
 * Fresh report data (a run finished, a new run started) merged with the steps that arrived live: each run
 * gets the tail steps after the server's last one, and the tail keeps only those (the server's data now
 * covers the rest). Mutates `next` and `tails`; returns `next`.
 */
export function mergeLiveTails(next: ReportData, tails: Map<number, LiveStepColumns>): ReportData {
  for (const run of next.runs) {
    const tail = tails.get(run.id);
    if (!tail) continue;
    const serverLast = run.lastStep;
    addSteps(run, tail);
    tails.set(run.id, columnsAfter(tail, serverLast));
  }
  return next;
}
