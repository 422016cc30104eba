/** Which runs a page draws, how they are labelled and styled, and the per-run numbers the charts share. */
import { median } from '../../src/core/stats.js';
import { FAILED_RUN_STATUSES, type ReportData, type ReportRun } from '../../src/report/types.js';
import { at, isNum, isRecord, numAt } from './json.js';
import type { SeriesSpec } from './spec.js';

/** Dash patterns of the 2nd, 3rd, 4th seed of one batch size (the 5th reuses the 2nd's). */
const SEED_DASHES: readonly number[][] = [
  [6, 3],
  [2, 3],
  [8, 3, 2, 3],
];

export function isFailed(run: ReportRun): boolean {
  return FAILED_RUN_STATUSES.includes(run.status);
}

/** Runs by batch size, then seed, then id: the order of every legend and table. */
export function sortRuns(runs: readonly ReportRun[]): ReportRun[] {
  return runs.slice().sort((a, b) => a.batchSize - b.batchSize || a.seed - b.seed || a.id - b.id);
}

/** Runs drawn in charts: not failed, and among the ticked ones when the user ticked any. */
export function chartedRuns(data: ReportData, selected: ReadonlySet<number>): ReportRun[] {
  return sortRuns(data.runs).filter((r) => r.charted && !isFailed(r) && (selected.size === 0 || selected.has(r.id)));
}

/** "B=64", or "B=64 seed 2" when the sweep has several seeds at one batch size. */
export function runLabel(run: ReportRun, runs: readonly ReportRun[]): string {
  const same = runs.filter((r) => r.batchSize === run.batchSize).length;
  return `B=${run.batchSize}${same > 1 ? ` seed ${run.seed}` : ''}`;
}

/** Runs of the same B but later seeds are dashed, so they keep their batch size's colour. */
export function dashFor(run: ReportRun, runs: readonly ReportRun[]): number[] | undefined {
  const seeds = runs.filter((r) => r.batchSize === run.batchSize).map((r) => r.seed);
  const rank = seeds.sort((a, b) => a - b).indexOf(run.seed);
  return rank <= 0 ? undefined : SEED_DASHES[(rank - 1) % SEED_DASHES.length];
}

/** One run's series: its label, colour and dash, with the given points. */
export function runSeries(
  run: ReportRun,
  runs: readonly ReportRun[],
  xs: readonly (number | null)[],
  ys: readonly (number | null | undefined)[],
): SeriesSpec {
  return {
    label: runLabel(run, runs),
    color: run.color,
    runId: run.id,
    batchSize: run.batchSize,
    dash: dashFor(run, runs),
    xs,
    ys,
  };
}

/** Median ms/step: the summary's (warm-up excluded) or, for a run still going, of the steps on the page. */
export function stepMsOf(r: ReportRun): number | undefined {
  const fromSummary = numAt(r.summary, 'stepMs.median');
  if (fromSummary !== undefined) return fromSummary;
  const measured = r.steps.stepMs.filter(isNum);
  return measured.length === 0 ? undefined : median(measured);
}

/** Samples/s: the summary's, else B / median step time. */
export function samplesPerSecOf(r: ReportRun): number | undefined {
  const fromSummary = numAt(r.summary, 'samplesPerSec');
  if (fromSummary !== undefined) return fromSummary;
  const ms = stepMsOf(r);
  return ms !== undefined && ms > 0 ? (r.batchSize * 1000) / ms : undefined;
}

/** Peak tensor memory in bytes: the summary's, else the largest step peak stored. */
export function peakBytesOf(r: ReportRun): number | undefined {
  return numAt(r.summary, 'peakBytes') ?? r.maxStepPeakBytes ?? undefined;
}

/** A run's own interval of one measurement, in the metric's units. */
export interface RunInterval {
  low: number;
  high: number;
}

/** The interval stored at `path` of a run's summary ({low, high, ...}), when both ends are finite. */
export function intervalAt(r: ReportRun, path: string): RunInterval | undefined {
  const i = at(r.summary, path);
  if (!isRecord(i) || !isNum(i['low']) || !isNum(i['high'])) return undefined;
  return { low: i['low'], high: i['high'] };
}

/** Samples/s from the step-time interval: B / t, so the ends swap. */
export function samplesPerSecIntervalOf(r: ReportRun): RunInterval | undefined {
  const t = intervalAt(r, 'intervals.stepMs');
  if (t === undefined || !(t.low > 0)) return undefined;
  return { low: (r.batchSize * 1000) / t.high, high: (r.batchSize * 1000) / t.low };
}
