/**
 * A sweep's summary from its finished runs: per batch size every metric as a mean over seeds with an
 * interval (batch-stats.ts), the fits across batch sizes (memory, step time, the steps/examples trade-off),
 * and the "What this sweep shows" lines, each a claim of the usual advice about batch size tested across
 * every batch size and seed (findings.ts).
 */
import { batchStats } from './batch-stats.js';
import { comparisonOf, describeBudget, type FindingContext, sweepFindings } from './findings.js';
import { fitMemory } from './search.js';
import type { BatchStats, RunSummary, SweepSummary } from './summary.js';
import { fitStepTime } from './throughput.js';
import { withTimingNote } from './timing-note.js';
import { fitTradeoff } from './tradeoff.js';

export type { FindingContext } from './findings.js';

/** Fits, per-batch intervals and findings over the finished runs of a sweep. */
export function summarizeSweep(
  runs: readonly RunSummary[],
  wallMs: number,
  context: FindingContext = {},
): SweepSummary {
  const perBatch = batchStats(runs);
  const summary: SweepSummary = { findings: [], wallMs, perBatch };
  const mean = (b: BatchStats, key: 'peakBytes' | 'stepMs' | 'stepsToTarget'): number => b[key]?.estimate ?? NaN;
  if (perBatch.length >= 2) {
    const memory = perBatch.filter((b) => Number.isFinite(mean(b, 'peakBytes')));
    if (memory.length >= 2) {
      const mem = fitMemory(memory.map((b) => ({ batchSize: b.batchSize, peakBytes: mean(b, 'peakBytes') })));
      summary.memoryFit = { interceptBytes: mem.interceptBytes, bytesPerSample: mem.bytesPerSample, r2: mem.r2 };
    }
    const timed = perBatch.filter((b) => Number.isFinite(mean(b, 'stepMs')));
    if (timed.length >= 2) {
      const t = fitStepTime(timed.map((b) => ({ batchSize: b.batchSize, stepMs: mean(b, 'stepMs') })));
      summary.stepTimeFit = { alphaMs: t.alphaMs, betaMsPerSample: t.betaMsPerSample, r2: t.r2 };
    }
    const reached = perBatch.filter((b) => Number.isFinite(mean(b, 'stepsToTarget')));
    if (reached.length >= 3) {
      const fit = fitTradeoff(reached.map((b) => ({ batchSize: b.batchSize, steps: mean(b, 'stepsToTarget') })));
      summary.tradeoff = { sMin: fit.sMin, eMin: fit.eMin, bCrit: fit.bCrit, r2: fit.r2 };
    }
  }
  summary.findings = withTimingNote(sweepFindings(runs, summary, context), runs);
  const saturation = summary.findings.find((f) => f.saturation?.outcome === 'saturated')?.saturation;
  if (saturation?.saturatedFrom !== undefined) summary.saturationBatch = saturation.saturatedFrom;
  const comparison = comparisonOf(context.budget, runs);
  if (comparison !== undefined) summary.comparison = comparison;
  const budget = describeBudget(context.budget, context.trainCount);
  if (budget !== undefined) summary.budget = budget;
  return summary;
}
