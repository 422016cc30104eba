/**
 * The critical batch measured directly at checkpoints of a run (Merrill, Arora, Groeneveld, Hajishirzi
 * 2025, "Critical Batch Size Revisited", arXiv 2505.23971): from a checkpoint of a base run at batch b,
 * branches train at 2b, 4b, 8b, ... (LR scaled by the rule) for the same number of samples as the base
 * run continues for; the critical batch there is the largest branch whose loss after that window stays
 * within a tolerance of the base run's. Also Zhang et al. 2024's definition (arXiv 2410.21676): the batch
 * where the steps to a target exceed perfect linear scaling by 20%. And where to put the checkpoints.
 *
 * The comparison. For each branch, the relative excess loss r = (mean L_branch - mean L_base) / mean L_base
 * with a t interval across seeds: paired by seed when base and branch ran the same seeds (the same data
 * order after the checkpoint makes their losses move together, and the paired differences cancel that
 * shared noise), Welch's otherwise. The base mean in the denominator is taken as exact: r is near 0, so
 * its own noise adds about r^2 var(L_base) / L_base^2, negligible next to var(L_branch - L_base).
 * Three verdicts at tolerance tol (default DEFAULT_BRANCH_TOLERANCE, relative 1%): 'within' when the whole
 * interval is <= tol, 'beyond' when it is all > tol, 'unclear' otherwise (a two one-sided test, each side
 * at (1 - confidence)/2). Walking up from 2b, the critical batch is the last branch 'within' before the
 * first 'beyond'; when an 'unclear' branch comes first the answer is "cannot tell" with the range the
 * critical batch lies in. Branches are assumed to get worse with B (as the paper finds); a branch
 * 'within' after a failed one is not used.
 */
import { type Interval, tIntervalFromSe } from './distributions.js';
import { UsageError } from './errors.js';
import { num } from './format.js';
import { DEFAULT_CONFIDENCE } from './stats.js';

/** Default tolerance: a branch is "as good" when its loss is at most 1% above the base run's. */
export const DEFAULT_BRANCH_TOLERANCE = 0.01;

/** The losses after the window of the runs at one batch size, one per seed. */
export interface BranchRuns {
  batchSize: number;
  runs: readonly { seed: number; loss: number }[];
}

/** One checkpoint: the base run's continuation and the branches, all trained for the same samples. */
export interface CheckpointBranches {
  /** Samples the base run had seen at the checkpoint. */
  samples: number;
  base: BranchRuns;
  branches: readonly BranchRuns[];
}

/** How a branch compares with the base run. */
export type BranchVerdict = 'within' | 'beyond' | 'unclear';

/** One branch against the base run. */
export interface BranchComparison {
  batchSize: number;
  /** Relative excess loss (L_branch - L_base) / L_base with its interval. */
  excess: Interval;
  verdict: BranchVerdict;
  /** True when paired by seed. */
  paired: boolean;
}

/**
 * The critical batch at one checkpoint. 'measured': the largest branch within tolerance, the next
 * branch beyond it (the base batch when even 2b is beyond); 'at-least': every branch is within, so it
 * is at least the largest; 'cannot-tell': a branch after the last 'within' is unclear: the noise decides.
 */
export interface CheckpointCritical {
  samples: number;
  status: 'measured' | 'at-least' | 'cannot-tell';
  /** For 'measured': the largest batch within tolerance. */
  criticalBatch?: number;
  /** The critical batch lies in [low, high): low the last 'within' (or the base batch), high the first 'beyond' (Infinity if none). */
  low: number;
  high: number;
  comparisons: BranchComparison[];
  text: string;
}

/** Options of the branch rule. */
export interface BranchRuleOptions {
  /** Relative loss tolerance; default DEFAULT_BRANCH_TOLERANCE. */
  tolerance?: number;
  /** Two-sided confidence of the excess interval; default DEFAULT_CONFIDENCE. */
  confidence?: number;
}

/** Mean and sample variance. */
function moments(xs: readonly number[]): { mean: number; variance: number; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : Number.NaN;
  return { mean, variance, n };
}

/** Paired differences branch - base when both ran the same >= 2 seeds; else undefined. */
function pairedDifferences(base: BranchRuns, branch: BranchRuns): number[] | undefined {
  if (base.runs.length < 2 || base.runs.length !== branch.runs.length) return undefined;
  const byBase = new Map(base.runs.map((r) => [r.seed, r.loss]));
  if (byBase.size !== base.runs.length) return undefined;
  const diffs: number[] = [];
  for (const r of branch.runs) {
    const b = byBase.get(r.seed);
    if (b === undefined) return undefined;
    diffs.push(r.loss - b);
  }
  return diffs;
}

/**
 * The difference of means branch - base with its standard error and degrees of freedom: paired, Welch
 * (both sides >= 2 runs), or with one single run the other side's variance for both (df of that side).
 * df = 0 when neither side has a spread to estimate (one run each).
 */
function difference(base: BranchRuns, branch: BranchRuns): { diff: number; se: number; df: number; paired: boolean } {
  const paired = pairedDifferences(base, branch);
  if (paired !== undefined) {
    const d = moments(paired);
    return { diff: d.mean, se: Math.sqrt(d.variance / d.n), df: d.n - 1, paired: true };
  }
  const a = moments(branch.runs.map((r) => r.loss));
  const b = moments(base.runs.map((r) => r.loss));
  const diff = a.mean - b.mean;
  if (a.n >= 2 && b.n >= 2) {
    const va = a.variance / a.n;
    const vb = b.variance / b.n;
    const se = Math.sqrt(va + vb);
    // Welch-Satterthwaite degrees of freedom; with no spread at all the interval has zero width anyway.
    const df = se === 0 ? 1 : (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
    return { diff, se, df, paired: false };
  }
  const spread = a.n >= 2 ? a : b.n >= 2 ? b : undefined;
  if (spread === undefined) return { diff, se: Number.POSITIVE_INFINITY, df: 0, paired: false };
  return { diff, se: Math.sqrt(spread.variance * (1 / a.n + 1 / b.n)), df: spread.n - 1, paired: false };
}

/** Checks one set of runs: a positive integer batch and >= 1 finite positive loss. */
function checkRuns(r: BranchRuns, what: string): void {
  if (!Number.isInteger(r.batchSize) || r.batchSize < 1) {
    throw new UsageError(`${what} batch size must be a positive integer, got ${r.batchSize}`);
  }
  if (r.runs.length === 0) throw new UsageError(`${what} at B = ${r.batchSize} has no runs; run at least one seed`);
  for (const x of r.runs) {
    if (!(Number.isFinite(x.loss) && x.loss > 0)) {
      throw new UsageError(
        `${what} at B = ${r.batchSize}, seed ${x.seed}: loss must be a positive number, got ${x.loss}`,
      );
    }
  }
}

/** Compares one branch with the base run (see the file comment). */
export function compareBranch(base: BranchRuns, branch: BranchRuns, options: BranchRuleOptions = {}): BranchComparison {
  const tol = options.tolerance ?? DEFAULT_BRANCH_TOLERANCE;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  checkRuns(base, 'base run');
  checkRuns(branch, 'branch');
  const baseMean = moments(base.runs.map((r) => r.loss)).mean;
  const d = difference(base, branch);
  const interval =
    d.df === 0 || !Number.isFinite(d.se)
      ? { estimate: d.diff, low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY, confidence }
      : tIntervalFromSe(d.diff, d.se, d.df, confidence);
  const excess = {
    estimate: interval.estimate / baseMean,
    low: interval.low / baseMean,
    high: interval.high / baseMean,
    confidence,
  };
  const verdict: BranchVerdict = excess.high <= tol ? 'within' : excess.low > tol ? 'beyond' : 'unclear';
  return { batchSize: branch.batchSize, excess, verdict, paired: d.paired };
}

/** The critical batch at one checkpoint by the branch rule (file comment). */
export function criticalBatchAtCheckpoint(cp: CheckpointBranches, options: BranchRuleOptions = {}): CheckpointCritical {
  const tol = options.tolerance ?? DEFAULT_BRANCH_TOLERANCE;
  if (!(tol >= 0 && Number.isFinite(tol)))
    throw new UsageError(`branch tolerance must be >= 0, got ${tol}; use e.g. 0.01`);
  if (cp.branches.length === 0)
    throw new UsageError(`checkpoint at ${cp.samples} samples has no branches; branch at 2x the base batch or more`);
  const comparisons = [...cp.branches]
    .sort((a, b) => a.batchSize - b.batchSize)
    .map((br) => compareBranch(cp.base, br, options));
  const k = comparisons.findIndex((c) => c.verdict !== 'within');
  const first = k === -1 ? undefined : (comparisons[k] as BranchComparison);
  const low =
    k === 0 ? cp.base.batchSize : (comparisons[(k === -1 ? comparisons.length : k) - 1] as BranchComparison).batchSize;
  const beyond = k === -1 ? undefined : comparisons.slice(k).find((c) => c.verdict === 'beyond');
  const high = beyond?.batchSize ?? Number.POSITIVE_INFINITY;
  const status = first === undefined ? 'at-least' : first.verdict === 'beyond' ? 'measured' : 'cannot-tell';
  const result: CheckpointCritical = { samples: cp.samples, status, low, high, comparisons, text: '' };
  if (status === 'measured') result.criticalBatch = low;
  result.text = describeCheckpoint(result, first, tol);
  return result;
}

/** The checkpoint's finding in one line; `first` is the first branch not within tolerance. */
function describeCheckpoint(r: CheckpointCritical, first: BranchComparison | undefined, tol: number): string {
  const at = `at ${num(r.samples)} samples`;
  const pct = `${num(tol * 100)}%`;
  if (first === undefined) {
    return `${at}: every branch up to B = ${r.low} stays within ${pct} of the base run: the critical batch is at least ${r.low}`;
  }
  if (r.status === 'measured') {
    return `${at}: critical batch ${r.low} (B = ${first.batchSize} ends ${pctOf(first.excess)} above the base run's loss, past ${pct})`;
  }
  const below = r.high === Number.POSITIVE_INFINITY ? '' : ` and below ${r.high}`;
  return `${at}: cannot tell: B = ${first.batchSize} ends ${pctOf(first.excess)} above the base run, an interval that straddles ${pct}; the critical batch is at least ${r.low}${below}; more seeds would settle it`;
}

/** A relative excess with its interval, in percent. */
function pctOf(e: Interval): string {
  return `${num(e.estimate * 100, 2)}% (${num(e.low * 100, 2)}..${num(e.high * 100, 2)}%)`;
}

/** The critical batch at every checkpoint, in order of samples: the curve of issue 19. */
export function criticalBatchCurve(
  checkpoints: readonly CheckpointBranches[],
  options: BranchRuleOptions = {},
): CheckpointCritical[] {
  return [...checkpoints].sort((a, b) => a.samples - b.samples).map((cp) => criticalBatchAtCheckpoint(cp, options));
}

/** Zhang et al. 2024's overhead over perfect linear scaling: 20%. */
export const DEFAULT_SCALING_OVERHEAD = 0.2;

/** The critical batch by Zhang et al.'s definition. */
export interface OverheadCritical {
  /** 'found': interpolated where the overhead crosses; 'above-range': not reached in the swept range. */
  status: 'found' | 'above-range';
  /** The batch where steps exceed linear scaling from the reference batch by `overhead` (log-interpolated). */
  batch?: number;
  referenceBatch: number;
  /** Per batch: S(B) / (S(B_ref) B_ref / B) - 1 = E(B) / E(B_ref) - 1. */
  overheads: { batchSize: number; overhead: number }[];
}

/**
 * Zhang et al. 2024 (arXiv 2410.21676): the critical batch is where the steps to the target
 * exceed those of perfect linear scaling from a small batch by 20%, i.e. S(B) = 1.2 S(B_ref) B_ref / B,
 * or in examples E(B) = 1.2 E(B_ref). From measured steps (one per batch size; the median when several):
 * the overhead E(B) / E(B_ref) - 1 at each batch, B_ref the smallest, and ln B interpolated linearly in
 * the overhead between the last batch below it and the first at or above it. Under the trade-off curve
 * S = S_min + E_min / B this is overhead * B_crit + (1 + overhead) B_ref (tradeoff.ts), about 0.2 B_crit
 * for a small B_ref: a stricter point than McCandlish's B_crit (where E = 2 E_min).
 */
export function overheadCriticalBatch(
  points: readonly { batchSize: number; steps: number }[],
  options: { overhead?: number } = {},
): OverheadCritical {
  const overhead = options.overhead ?? DEFAULT_SCALING_OVERHEAD;
  if (!(overhead > 0)) throw new UsageError(`scaling overhead must be > 0, got ${overhead}; use e.g. 0.2`);
  const byBatch = new Map<number, number[]>();
  for (const p of points) {
    if (!(p.batchSize > 0 && p.steps > 0))
      throw new UsageError(
        `steps-to-target points need positive batch sizes and steps, got B = ${p.batchSize}, ${p.steps} steps`,
      );
    byBatch.set(p.batchSize, [...(byBatch.get(p.batchSize) ?? []), p.steps]);
  }
  const sorted = [...byBatch]
    .map(([b, s]) => ({ batchSize: b, steps: medianOf(s) }))
    .sort((a, b) => a.batchSize - b.batchSize);
  if (sorted.length < 2)
    throw new UsageError(`the 20%-overhead critical batch needs at least 2 batch sizes, got ${sorted.length}`);
  const ref = sorted[0] as { batchSize: number; steps: number };
  const overheads = sorted.map((p) => ({
    batchSize: p.batchSize,
    overhead: (p.steps * p.batchSize) / (ref.steps * ref.batchSize) - 1,
  }));
  const at = overheads.findIndex((o) => o.overhead >= overhead);
  const result = { referenceBatch: ref.batchSize, overheads };
  // The reference's own overhead is 0, so a crossing (at >= 1) always has a batch below it.
  if (at === -1) return { status: 'above-range', ...result };
  const a = overheads[at - 1] as { batchSize: number; overhead: number };
  const b = overheads[at] as { batchSize: number; overhead: number };
  const t = (overhead - a.overhead) / (b.overhead - a.overhead);
  return {
    status: 'found',
    batch: Math.exp(Math.log(a.batchSize) + t * (Math.log(b.batchSize) - Math.log(a.batchSize))),
    ...result,
  };
}

/** Median of a non-empty list. */
function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Default number of checkpoints of a branch study. */
export const DEFAULT_CHECKPOINT_COUNT = 6;
/** Default ratio between neighbouring checkpoints. */
export const DEFAULT_CHECKPOINT_RATIO = 2;

/**
 * Checkpoints spread geometrically over a run of `totalSamples`: T / ratio^k for k = count..1, i.e.
 * with the defaults (6 checkpoints, ratio 2) at 1/64, 1/32, ..., 1/2 of the run. Geometric because the
 * critical batch moves fastest early (Merrill et al. 2025: near 0 at initialization, rising quickly, then
 * levelling off), and the last at half the run so that its window and a schedule built on it still
 * matter. Each is rounded to a whole number of base steps (a multiple of `baseBatch`, at least one step);
 * those whose window would run past the end (c + windowSamples > T) are dropped, duplicates removed.
 */
export function geometricCheckpoints(options: {
  totalSamples: number;
  baseBatch: number;
  count?: number;
  ratio?: number;
  windowSamples?: number;
}): number[] {
  const { totalSamples: total, baseBatch } = options;
  const count = options.count ?? DEFAULT_CHECKPOINT_COUNT;
  const ratio = options.ratio ?? DEFAULT_CHECKPOINT_RATIO;
  const window = options.windowSamples ?? 0;
  if (!Number.isInteger(baseBatch) || baseBatch < 1)
    throw new UsageError(`base batch must be a positive integer, got ${baseBatch}`);
  if (!(Number.isFinite(total) && total >= baseBatch))
    throw new UsageError(`run length must be at least one base batch (${baseBatch} samples), got ${total}`);
  if (!Number.isInteger(count) || count < 1)
    throw new UsageError(`checkpoint count must be a positive integer, got ${count}`);
  if (!(ratio > 1)) throw new UsageError(`checkpoint ratio must be > 1, got ${ratio}; use e.g. 2`);
  if (!(window >= 0)) throw new UsageError(`branch window must be >= 0 samples, got ${window}`);
  const out = new Set<number>();
  for (let k = count; k >= 1; k--) {
    const c = Math.max(baseBatch, Math.round(total / ratio ** k / baseBatch) * baseBatch);
    if (c + window <= total) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}
