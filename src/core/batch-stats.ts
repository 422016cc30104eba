/**
 * Per batch size, every per-run metric of a sweep as a number with an interval: with two or more seeds the
 * mean over seeds with a Student-t interval (intervals.ts tInterval: the spread between seeds, which holds
 * every source of noise, initial weights and sample order included); with one seed the run's own interval
 * (Wilson for a held-out accuracy, block bootstrap over steps for step time and loss noise, the window
 * bootstrap of B_simple), which holds only the noise inside that run.
 */
import { FINDING_CONFIDENCE } from './evidence.js';
import { num, plusMinus, points } from './format.js';
import { tInterval } from './intervals.js';
import type { BatchStats, BatchValue, RunSummary } from './summary.js';

/** An interval of one run's own measurement, as a BatchValue needs it. */
type OwnInterval = { low: number; high: number; confidence: number; method: string } | undefined;

/** How to read one metric from a run summary, and its own interval when there is one. */
interface MetricReader {
  value: (r: RunSummary) => number | undefined;
  own?: (r: RunSummary) => OwnInterval;
}

/** B_simple's window-bootstrap interval (summarize-run.ts summarizeNoise), when bounded. */
export function bSimpleInterval(r: RunSummary): OwnInterval {
  const { ciLow, ciHigh, confidence } = r.noise;
  if (ciLow === undefined || ciHigh === undefined || !Number.isFinite(ciLow) || !Number.isFinite(ciHigh)) return;
  return { low: ciLow, high: ciHigh, confidence, method: 'window-bootstrap' };
}

/** samples/s = B / median step time: the step-time interval's ends, swapped. */
function samplesPerSecInterval(r: RunSummary): OwnInterval {
  const t = r.intervals?.stepMs;
  if (t === undefined || !(t.low > 0)) return;
  const sps = (ms: number): number => (r.batchSize * 1000) / ms;
  return { low: sps(t.high), high: sps(t.low), confidence: t.confidence, method: t.method };
}

const READERS: Readonly<
  Record<Exclude<keyof BatchStats, 'batchSize' | 'runs' | 'seeds' | 'reachedTarget'>, MetricReader>
> = {
  peakBytes: { value: (r) => r.peakBytes },
  stepMs: { value: (r) => r.stepMs.median, own: (r) => r.intervals?.stepMs },
  samplesPerSec: { value: (r) => r.samplesPerSec, own: samplesPerSecInterval },
  lossNoise: { value: (r) => r.lossNoise, own: (r) => r.intervals?.lossNoise },
  bSimple: { value: (r) => r.noise.bSimple, own: bSimpleInterval },
  testAccuracy: { value: (r) => r.final.test.accuracy, own: (r) => r.intervals?.testAccuracy },
  testLoss: { value: (r) => r.final.test.loss },
  gapAccuracy: { value: (r) => r.gap.accuracy },
  gapLoss: { value: (r) => r.gap.loss },
  sharpness: { value: (r) => r.sharpness?.topEigenvalue },
  stepsToTarget: { value: (r) => (r.target?.reached ? r.target.steps : undefined) },
};

/** One metric at one batch size: t interval over 2+ runs, the run's own interval for 1, undefined for 0. */
export function batchValue(runs: readonly RunSummary[], reader: MetricReader): BatchValue | undefined {
  const measured = runs.filter((r) => Number.isFinite(reader.value(r)));
  const values = measured.map((r) => reader.value(r) as number);
  if (values.length === 0) return undefined;
  if (values.length >= 2) {
    const t = tInterval(values, { confidence: FINDING_CONFIDENCE });
    return {
      estimate: t.estimate,
      low: t.low,
      high: t.high,
      confidence: t.confidence,
      method: t.method,
      runs: values.length,
    };
  }
  const own = reader.own?.(measured[0] as RunSummary);
  return { estimate: values[0] as number, runs: 1, ...(own ?? {}) };
}

/** Groups finished runs by batch size (ascending); each metric a mean over seeds with its interval. */
export function batchStats(runs: readonly RunSummary[]): BatchStats[] {
  const byBatch = new Map<number, RunSummary[]>();
  for (const r of runs) byBatch.set(r.batchSize, [...(byBatch.get(r.batchSize) ?? []), r]);
  return [...byBatch.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([batchSize, rs]) => {
      const stats: BatchStats = { batchSize, runs: rs.length, seeds: [...new Set(rs.map((r) => r.seed))] };
      for (const [key, reader] of Object.entries(READERS) as [keyof typeof READERS, MetricReader][]) {
        const v = batchValue(rs, reader);
        if (v !== undefined) stats[key] = v;
      }
      if (rs.some((r) => r.target !== undefined)) stats.reachedTarget = rs.filter((r) => r.target?.reached).length;
      return stats;
    });
}

/** One column of the per-batch table: its header and its cell for one batch size ("-" when not measured). */
type BatchColumn = [header: string, cell: (b: BatchStats) => string];

const pm = (v: BatchValue | undefined, fmt: (x: number) => string, unit = ''): string =>
  v === undefined ? '-' : plusMinus(v, fmt, unit);

/**
 * The per-batch table as text cells, shared by the terminal and the report: each metric "±" the half-width
 * of its interval. Accuracy and gap in percent (points), peak memory in MB; the target columns only when
 * the runs had a target.
 */
export function batchTableCells(perBatch: readonly BatchStats[]): { header: string[]; rows: string[][] } {
  const acc = perBatch.some((b) => b.testAccuracy !== undefined);
  const columns: BatchColumn[] = [
    ['B', (b) => String(b.batchSize)],
    ['runs', (b) => String(b.runs)],
    acc
      ? ['held-out acc', (b) => pm(b.testAccuracy, points, '%')]
      : ['held-out loss', (b) => pm(b.testLoss, (x) => num(x, 4))],
    acc ? ['gap', (b) => pm(b.gapAccuracy, points, ' pt')] : ['gap', (b) => pm(b.gapLoss, (x) => num(x, 3))],
    ...(perBatch.some((b) => b.reachedTarget !== undefined)
      ? ([
          ['reached', (b) => `${b.reachedTarget ?? 0}/${b.runs}`],
          ['steps to target', (b) => pm(b.stepsToTarget, num)],
        ] as BatchColumn[])
      : []),
    ['samples/s', (b) => pm(b.samplesPerSec, num)],
    ['ms/step', (b) => pm(b.stepMs, (x) => num(x, 3))],
    ['peak MB', (b) => pm(b.peakBytes, (x) => (x / 1e6).toFixed(1))],
    ['B_simple', (b) => pm(b.bSimple, (x) => num(x, 3))],
    ['loss noise', (b) => pm(b.lossNoise, (x) => num(x, 3))],
    ['sharpness', (b) => pm(b.sharpness, (x) => num(x, 3))],
  ];
  return { header: columns.map(([h]) => h), rows: perBatch.map((b) => columns.map(([, cell]) => cell(b))) };
}
