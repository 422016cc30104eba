/**
 * The safety margin of find-max: how much of the memory budget to hold back, derived from how much the
 * measured peaks scatter, with a user-given floor.
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

/** Largest margin a user may ask for, and the most the measured spread can set. */
export const MAX_MARGIN = 0.9;
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
