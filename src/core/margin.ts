/**
 * The safety margin of a memory budget: how much of it to hold back, derived from how much the measured
 * peaks scatter, with a floor. One rule for find-max (the search's limit, the verification) and recommend
 * (its memory ceiling), so the two agree on the largest batch for the same measured peaks.
 *
 * Two spreads are measured:
 * - the memory fit's residual standard deviation s_fit (bytes): how far measured peaks sit from the line
 *   peak = a + b B. Noise in the measurement shows up here, and so does a model that is not quite linear;
 * - the run-to-run spread: every batch measured more than once (in practice the answer, measured by its
 *   search probe and again by the longer verification run) gives relative deviations from its mean;
 *   pooled over such batches, s_run = sqrt(sum (p / mean - 1)^2 / sum (n - 1)). It also catches memory
 *   that grows with the number of steps, since the verification runs more steps than a probe.
 * Each becomes a term of 3 standard deviations (about 99.9% one-sided for a normal spread) as a fraction
 * of the budget: fitTerm = 3 s_fit / budget, runTerm = 3 s_run x (the largest repeated peak) / budget.
 * margin = min(MAX_MARGIN, max(floor, fitTerm, runTerm)): the floor covers what a few short probes
 * cannot see (fragmentation, another process on the device, a framework upgrade).
 */
import { BatchlabError } from './errors.js';
import { fitMemory, type MemoryFit, predictMaxBatch } from './search.js';

/** Largest margin a user may ask for, and the most the measured spread can set. */
export const MAX_MARGIN = 0.9;
/** The floor of the margin unless the user sets one (find-max --margin): what a few short probes cannot see. */
export const DEFAULT_MARGIN_FLOOR = 0.1;
/** Standard deviations of measured spread held back. */
export const MARGIN_SIGMAS = 3;

/** One measured peak at one batch size (only probes that ran to the end count). */
export interface PeakSample {
  batch: number;
  peakBytes: number;
}

/** How the margin was derived, for output and the store. */
export interface MarginDerivation {
  /** Fraction of the budget held back: the usable limit is budget x (1 - margin). */
  margin: number;
  /** The user's floor (--margin). */
  floor: number;
  /** MARGIN_SIGMAS x the memory fit's residual std, as a fraction of the budget (0 without a fit). */
  fitTerm: number;
  /** MARGIN_SIGMAS x the pooled run-to-run relative std, times the largest repeated peak, as a fraction of the budget. */
  runTerm: number;
  /** Pooled run-to-run relative std (0 when no batch was measured twice). */
  runRelStd: number;
  /** Batches measured more than once: the run-to-run evidence. */
  repeatedBatches: number[];
  /** Which term set the margin. */
  source: 'floor' | 'fit' | 'run-to-run';
}

/** Pooled relative std over batches measured more than once; also which batches those were and their largest peak. */
export function runToRunSpread(samples: readonly PeakSample[]): {
  relStd: number;
  batches: number[];
  maxPeakBytes: number;
} {
  const groups = new Map<number, number[]>();
  for (const s of samples) groups.set(s.batch, [...(groups.get(s.batch) ?? []), s.peakBytes]);
  let sumSq = 0;
  let dof = 0;
  let maxPeakBytes = 0;
  const batches: number[] = [];
  for (const [batch, peaks] of groups) {
    if (peaks.length < 2) continue;
    const mean = peaks.reduce((a, p) => a + p, 0) / peaks.length;
    if (!(mean > 0)) continue;
    batches.push(batch);
    sumSq += peaks.reduce((a, p) => a + (p / mean - 1) ** 2, 0);
    dof += peaks.length - 1;
    maxPeakBytes = Math.max(maxPeakBytes, ...peaks);
  }
  return { relStd: dof > 0 ? Math.sqrt(sumSq / dof) : 0, batches: batches.sort((a, b) => a - b), maxPeakBytes };
}

/** The margin from the floor, the fit's residual std and the run-to-run spread of `samples` (see the module doc). */
export function deriveMargin(opts: {
  floor: number;
  budgetBytes: number;
  residualStdBytes?: number;
  samples: readonly PeakSample[];
}): MarginDerivation {
  const fitTerm = (MARGIN_SIGMAS * (opts.residualStdBytes ?? 0)) / opts.budgetBytes;
  const spread = runToRunSpread(opts.samples);
  const runTerm = (MARGIN_SIGMAS * spread.relStd * spread.maxPeakBytes) / opts.budgetBytes;
  const largest = Math.max(opts.floor, fitTerm, runTerm);
  const source = largest === opts.floor ? 'floor' : largest === fitTerm ? 'fit' : 'run-to-run';
  return {
    margin: Math.min(MAX_MARGIN, largest),
    floor: opts.floor,
    fitTerm,
    runTerm,
    runRelStd: spread.relStd,
    repeatedBatches: spread.batches,
    source,
  };
}

/** The margin over some measured peaks and, with a fit, the largest batch the line predicts under the limit. */
export interface Ceiling {
  margin: MarginDerivation;
  /** budget x (1 - margin). */
  limitBytes: number;
  /** floor((limit - a) / b); 0 when even the fixed part a does not fit; undefined without a fit or when memory does not grow with B. */
  batch: number | undefined;
}

/**
 * The one rule from measured peaks to a largest batch: the margin (deriveMargin over `samples`, with the
 * fit's residual std), then predictMaxBatch under budget x (1 - margin). find-max starts its search
 * there; recommend takes it as its memory ceiling.
 */
export function ceilingOf(opts: {
  fit: MemoryFit | undefined;
  budgetBytes: number;
  floor: number;
  samples: readonly PeakSample[];
}): Ceiling {
  const margin = deriveMargin({
    floor: opts.floor,
    budgetBytes: opts.budgetBytes,
    residualStdBytes: opts.fit?.residualStdBytes,
    samples: opts.samples,
  });
  const limitBytes = opts.budgetBytes * (1 - margin.margin);
  const batch = opts.fit
    ? predictMaxBatch(opts.fit, opts.budgetBytes, { marginBytes: opts.budgetBytes - limitBytes })
    : undefined;
  return { margin, limitBytes, batch };
}

/** A memory curve and the ceiling it gives (recommend's memory phase). */
export interface MemoryCeiling {
  points: { batchSize: number; peakBytes: number }[];
  fit: Pick<MemoryFit, 'interceptBytes' | 'bytesPerSample' | 'r2' | 'residualStdBytes'>;
  budgetBytes?: number;
  /** budget x margin: the bytes held back. */
  marginBytes?: number;
  /** Largest batch predicted under the budget minus the margin; the training-set size without a budget or when memory does not grow. */
  maxBatch: number;
}

/** Fits peak = a + b B over the points and, with a budget, caps the batch by ceilingOf (the margin floor: DEFAULT_MARGIN_FLOOR). */
export function memoryCeiling(
  points: MemoryCeiling['points'],
  budgetBytes: number | undefined,
  trainCount: number,
  floor = DEFAULT_MARGIN_FLOOR,
): MemoryCeiling {
  const f = fitMemory(points);
  const fit = {
    interceptBytes: f.interceptBytes,
    bytesPerSample: f.bytesPerSample,
    r2: f.r2,
    residualStdBytes: f.residualStdBytes,
  };
  if (budgetBytes === undefined) return { points, fit, maxBatch: trainCount };
  const samples = points.map((p) => ({ batch: p.batchSize, peakBytes: p.peakBytes }));
  const c = ceilingOf({ fit: f, budgetBytes, floor, samples });
  if (c.batch === 0) {
    // The same case as find-max's budget below batch 1 (lab/find-max budgetTooSmall): a budget to raise, not a crash.
    throw new BatchlabError(
      'BATCHLAB_BAD_BUDGET',
      `the model needs about ${Math.round(f.interceptBytes / 1e6)} MB before any batch, more than the budget of ${Math.round(budgetBytes / 1e6)} MB minus its margin; raise --memory-budget or use a smaller model`,
    );
  }
  const marginBytes = budgetBytes * c.margin.margin;
  return { points, fit, budgetBytes, marginBytes, maxBatch: Math.min(trainCount, c.batch ?? trainCount) };
}
