/**
 * Largest batch that fits: the memory model peakBytes = a + b B, its prediction under a budget, the
 * probe search that starts from that prediction, and the accumulation plan for a batch that does not fit.
 */
import type { AccumulationPlan } from './batching.js';
import { BatchSizeError, UsageError } from './errors.js';
import { fitLine } from './fit.js';

/** Default relative precision of the bisection: stop when (firstFailure - lastSuccess) <= 2% of lastSuccess. */
export const DEFAULT_SEARCH_TOLERANCE = 0.02;
/** Default most probes per search. */
export const DEFAULT_MAX_TRIALS = 24;

/** Outcome of one probe (a short training run at one batch size, in its own process). */
export type ProbeResult =
  | { ok: true; peakBytes: number }
  | {
      ok: false;
      /** 'over-budget': ran but peak memory exceeded the budget; 'oom': the allocator failed; 'error': anything else (a bug, a bad model) — never read as "too big". */
      kind: 'over-budget' | 'oom' | 'error';
      message: string;
    };

/** One probe in the order it ran. */
export interface Trial {
  batch: number;
  result: ProbeResult;
}

/** Options of findMaxBatch. */
export interface FindMaxOptions {
  /** Runs one probe; a rejected promise aborts the search and propagates. */
  probe: (batch: number) => Promise<ProbeResult>;
  /** First batch to try: the analytic prediction (predictMaxBatch), rounded and clamped to [minBatch, cap]. */
  predictedMax: number;
  /** Largest batch worth trying, e.g. the training-set size. */
  cap: number;
  /** Smallest batch to try, default 1. */
  minBatch?: number;
  /** Most probes, default DEFAULT_MAX_TRIALS. */
  maxTrials?: number;
  /** Bisection stops when firstFailure - lastSuccess <= max(1, tolerance * lastSuccess); default DEFAULT_SEARCH_TOLERANCE; 0 = exact. */
  tolerance?: number;
  /** Steers the climb up from a success (nextBatchUp) instead of plain doubling; for a start with no trusted prediction. */
  growth?: GrowthGuide;
}

/**
 * How the climb up from a passed probe picks its next batch when no trusted prediction exists (e.g.
 * a GPU, where the CUDA context hides the per-sample memory at B <= 8).
 */
export interface GrowthGuide {
  /** Usable memory limit: the secant aims at it. */
  limitBytes: number;
  /** A passed probe at small B: the secant is drawn from it. */
  baseline: { batch: number; peakBytes: number };
  /** Smallest rise of the peak above the baseline read as growth rather than measurement noise. */
  minRiseBytes: number;
  /** Growth factor while the peak has not visibly risen; default GROWTH_FLAT_FACTOR. */
  flatFactor?: number;
  /** Largest growth factor of one step; default GROWTH_MAX_FACTOR. */
  maxFactor?: number;
}

/** Growth per step while memory looks flat: an overshoot costs log2(4) = 2 bisection probes, a doubling climb twice the probes. */
export const GROWTH_FLAT_FACTOR = 4;
/** Largest jump a secant may ask for (a prediction from a small rise is uncertain); log2(64) = 6 bisection probes at worst. */
export const GROWTH_MAX_FACTOR = 64;

/** A passed probe: a batch and its measured peak. */
export interface PeakPoint {
  batch: number;
  peakBytes: number;
}

/**
 * The next batch of the climb, given the probes that passed so far (the largest, B, is where it stands).
 * With a crossing B* from secantCrossing: B* x (1 + tolerance / 2), just past it, so that a good
 * prediction brackets the answer within one tolerance in one or two probes; clamped to
 * [B (1 + tolerance) + 1, maxFactor B].
 * Without one (the peak has not visibly risen): B x flatFactor. Always > B; the caller clamps it to its cap.
 */
export function nextBatchUp(passed: readonly PeakPoint[], guide: GrowthGuide, tolerance: number): number {
  const b = Math.max(...passed.map((p) => p.batch));
  const predicted = secantCrossing(passed, guide);
  if (predicted === undefined) return b * (guide.flatFactor ?? GROWTH_FLAT_FACTOR);
  const lowest = Math.floor(b * (1 + tolerance)) + 1;
  return Math.min(
    (guide.maxFactor ?? GROWTH_MAX_FACTOR) * b,
    Math.max(lowest, Math.ceil(predicted * (1 + tolerance / 2))),
  );
}

/**
 * Where memory reaches the limit, by the secant through the largest passed probe (B1, p1) and the one
 * before it (B0, p0): B1 + max(0, limitBytes - p1) / ((p1 - p0) / (B1 - B0)). Only probes whose peak
 * rose at least minRiseBytes above the baseline count (below that the peak is noise, or the flat part
 * a GPU's context makes); with one such probe the secant starts at the baseline. The local secant
 * follows memory that grows faster than linearly better than one from the baseline would.
 * Undefined with no risen probe or a slope that is not positive.
 */
export function secantCrossing(passed: readonly PeakPoint[], guide: GrowthGuide): number | undefined {
  const base = guide.baseline;
  const risen = passed
    .filter(
      (p) => p.batch > base.batch && p.peakBytes - base.peakBytes >= guide.minRiseBytes && p.peakBytes > base.peakBytes,
    )
    .sort((a, b) => a.batch - b.batch);
  const top = risen[risen.length - 1];
  if (top === undefined) return undefined;
  const from = risen.length >= 2 ? risen[risen.length - 2] : base;
  const slope = (top.peakBytes - from.peakBytes) / (top.batch - from.batch);
  if (!(slope > 0)) return undefined;
  return top.batch + Math.max(0, guide.limitBytes - top.peakBytes) / slope;
}

/** Bisection probes that may go to the secant's crossing instead of the midpoint (a guard against a slow regula falsi). */
export const GUIDED_BISECTION_PROBES = 2;

/** Result of findMaxBatch. */
export interface FindMaxResult {
  /**
   * 'found': bracketed within the tolerance; 'capped': `cap` itself fits; 'none-fits': even minBatch
   * failed; 'error': a probe reported kind 'error' and the search stopped; 'trial-limit': maxTrials ran out.
   */
  outcome: 'found' | 'capped' | 'none-fits' | 'error' | 'trial-limit';
  /** Largest batch that passed a probe (always a tested value); undefined if none passed. */
  maxBatch: number | undefined;
  /** Peak memory of the probe at maxBatch. */
  peakBytes: number | undefined;
  /** Smallest batch that failed for memory (over-budget or oom); undefined if none did. */
  firstFailure: number | undefined;
  /** The 'error' probe, when outcome is 'error'. */
  error?: { batch: number; message: string };
  /** Every probe in the order it ran. */
  trials: Trial[];
}

/** Validates the numeric options of findMaxBatch and fills in defaults. */
function searchSettings(o: FindMaxOptions): {
  start: number;
  cap: number;
  minBatch: number;
  maxTrials: number;
  tolerance: number;
} {
  const minBatch = o.minBatch ?? 1;
  const maxTrials = o.maxTrials ?? DEFAULT_MAX_TRIALS;
  const tolerance = o.tolerance ?? DEFAULT_SEARCH_TOLERANCE;
  if (!Number.isInteger(o.cap) || o.cap < 1)
    throw new BatchSizeError(`search cap must be a positive integer (e.g. the training-set size), got ${o.cap}`);
  if (!Number.isInteger(minBatch) || minBatch < 1 || minBatch > o.cap) {
    throw new BatchSizeError(`smallest batch to try must be an integer in [1, ${o.cap}], got ${minBatch}`);
  }
  if (!Number.isInteger(maxTrials) || maxTrials < 1)
    throw new UsageError(`maxTrials must be a positive integer, got ${maxTrials}`);
  if (!(tolerance >= 0 && tolerance < 1))
    throw new UsageError(`search tolerance must be in [0, 1), got ${tolerance}; use e.g. 0.02`);
  const guess = Number.isFinite(o.predictedMax) ? Math.round(o.predictedMax) : minBatch;
  return { start: Math.min(o.cap, Math.max(minBatch, guess)), cap: o.cap, minBatch, maxTrials, tolerance };
}

/**
 * Finds the largest batch size whose probe passes.
 * 1. Probe the analytic prediction (not 2: a good prediction saves the long climb).
 * 2. If it passed, double (capped at `cap`; with a growth guide, nextBatchUp instead) until a probe
 *    fails or `cap` passes; if it failed, halve (floored, down to minBatch) until a probe passes or
 *    minBatch fails.
 * 3. Bisect between the last success lo and the first failure hi (mid = floor((lo + hi) / 2); with a
 *    growth guide up to two probes go to guided guesses inside it, guidedGuess) until
 *    hi - lo <= max(1, tolerance * lo).
 * Memory failures ('over-budget', 'oom') steer the search; an 'error' probe stops it at once with
 * outcome 'error' (a crash is never taken for OOM). The answer is always a batch that was probed and
 * passed. With a prediction within 2x of the truth this takes about log2(max) + 2 probes, fewer with
 * a tolerance.
 */
export async function findMaxBatch(options: FindMaxOptions): Promise<FindMaxResult> {
  const st: SearchState = {
    settings: searchSettings(options),
    probe: options.probe,
    growth: options.growth,
    trials: [],
    lo: undefined,
    hi: undefined,
  };
  const stop = await bracket(st);
  if (stop !== undefined) return finish(st, stop);
  // Bisection between the last success lo and the first failure hi; with a growth guide the first
  // GUIDED_BISECTION_PROBES go to the secant's crossing when it lies inside the bracket.
  // The crossing is only worth a probe when it rests on a success the last prediction did not have.
  let guided = st.growth ? GUIDED_BISECTION_PROBES : 0;
  let predictedFrom = st.lo?.batch;
  for (;;) {
    const lo = st.lo as PeakPoint;
    const h = st.hi as number;
    if (h - lo.batch <= Math.max(1, st.settings.tolerance * lo.batch)) return finish(st, 'found');
    if (st.trials.length >= st.settings.maxTrials) return finish(st, 'trial-limit');
    const guess =
      guided > 0 && st.growth !== undefined ? guidedGuess(st, st.growth, lo.batch !== predictedFrom) : undefined;
    const inside = guess !== undefined && guess > lo.batch && guess < h;
    if (inside) {
      guided--;
      predictedFrom = lo.batch;
    }
    if ((await runProbe(st, inside ? guess : Math.floor((lo.batch + h) / 2))) === 'error') return finish(st, 'error');
  }
}

/**
 * A guided bisection probe. On a success the last prediction did not have (`fresh`): the secant's
 * crossing. Else the failure hi was that prediction, a step past the crossing: one tolerance below it,
 * ceil(hi / (1 + tolerance)), whose success closes the bracket at once.
 */
function guidedGuess(st: SearchState, growth: GrowthGuide, fresh: boolean): number | undefined {
  if (!fresh) return Math.ceil((st.hi as number) / (1 + st.settings.tolerance));
  const crossing = secantCrossing(passedPoints(st), growth);
  return crossing === undefined ? undefined : Math.floor(crossing);
}

/** The probes of a search that passed, with their peaks. */
function passedPoints(st: SearchState): PeakPoint[] {
  return st.trials.flatMap((t) => (t.result.ok ? [{ batch: t.batch, peakBytes: t.result.peakBytes }] : []));
}

/** Mutable state of one search, owned by one findMaxBatch call. */
interface SearchState {
  settings: ReturnType<typeof searchSettings>;
  probe: FindMaxOptions['probe'];
  growth: GrowthGuide | undefined;
  trials: Trial[];
  /** Largest batch that passed so far, with its peak memory. */
  lo: { batch: number; peakBytes: number } | undefined;
  /** Smallest batch that failed for memory so far. */
  hi: number | undefined;
}

/** Runs one probe and records it; returns 'error' to stop, else whether it passed. */
async function runProbe(st: SearchState, batch: number): Promise<boolean | 'error'> {
  const r = await st.probe(batch);
  st.trials.push({ batch, result: r });
  if (r.ok) {
    st.lo = { batch, peakBytes: r.peakBytes };
    return true;
  }
  if (r.kind === 'error') return 'error';
  st.hi = batch;
  return false;
}

/**
 * Doubles up from a success or halves down from a failure until [lo passes, hi fails] is bracketed
 * (returns undefined), or the search ends early (returns the outcome).
 */
async function bracket(st: SearchState): Promise<FindMaxResult['outcome'] | undefined> {
  const s = st.settings;
  let next = s.start;
  for (;;) {
    if (st.trials.length >= s.maxTrials) return 'trial-limit';
    const passed = await runProbe(st, next);
    if (passed === 'error') return 'error';
    if (passed ? st.hi !== undefined : st.lo !== undefined) return undefined; // crossed the boundary
    if (passed) {
      if (next >= s.cap) return 'capped';
      const up = st.growth ? nextBatchUp(passedPoints(st), st.growth, s.tolerance) : next * 2;
      next = Math.min(s.cap, up);
    } else {
      if (next <= s.minBatch) return 'none-fits';
      next = Math.max(s.minBatch, Math.floor(next / 2));
    }
  }
}

/** Builds the result from the state; for 'error' it carries the failing probe's batch and message. */
function finish(st: SearchState, outcome: FindMaxResult['outcome']): FindMaxResult {
  const result: FindMaxResult = {
    outcome,
    maxBatch: st.lo?.batch,
    peakBytes: st.lo?.peakBytes,
    firstFailure: st.hi,
    trials: st.trials,
  };
  const last = st.trials[st.trials.length - 1];
  if (outcome === 'error' && last !== undefined && !last.result.ok)
    result.error = { batch: last.batch, message: last.result.message };
  return result;
}

/** Memory model peakBytes = interceptBytes + bytesPerSample B. */
export interface MemoryFit {
  /** Memory that does not grow with the batch: weights, optimizer state, workspace. */
  interceptBytes: number;
  /** Memory per sample in the batch: activations kept for the backward pass, gradients of inputs. */
  bytesPerSample: number;
  r2: number;
  n: number;
  /** Residual standard deviation of the fit, bytes (0 for 2 points). */
  residualStdBytes: number;
}

/** Least-squares fit of peakBytes = a + b B over measured points (fit.fitLine). Needs 2+ distinct batch sizes. */
export function fitMemory(points: readonly { batchSize: number; peakBytes: number }[]): MemoryFit {
  const line = fitLine(
    points.map((p) => p.batchSize),
    points.map((p) => p.peakBytes),
  );
  return {
    interceptBytes: line.intercept,
    bytesPerSample: line.slope,
    r2: line.r2,
    n: line.n,
    residualStdBytes: line.residualStd,
  };
}

/**
 * Largest batch the memory model says fits: floor((budgetBytes - marginBytes - a) / b). 0 when even
 * the fixed part a does not fit; undefined when b <= 0 (memory did not grow with the batch, so the
 * model cannot predict a limit: probe instead).
 */
export function predictMaxBatch(
  fit: Pick<MemoryFit, 'interceptBytes' | 'bytesPerSample'>,
  budgetBytes: number,
  options: { marginBytes?: number } = {},
): number | undefined {
  if (!(budgetBytes > 0)) throw new UsageError(`memory budget must be positive, got ${budgetBytes} bytes`);
  if (!(fit.bytesPerSample > 0)) return undefined;
  const room = budgetBytes - (options.marginBytes ?? 0) - fit.interceptBytes;
  return Math.max(0, Math.floor(room / fit.bytesPerSample));
}

/** An accumulation plan for a target batch, and whether it reaches the target exactly. */
export interface AccumulationChoice extends AccumulationPlan {
  /** The batch asked for. */
  targetBatch: number;
  /** microBatchSize x accumSteps (same as batchSize). */
  effectiveBatch: number;
  /** effectiveBatch === targetBatch. */
  exact: boolean;
  /** Plain words, e.g. "512 = 128 x 4" or "1021 -> 1024 = 256 x 4 (1021 has no divisor <= 256 with <= 8 steps)". */
  text: string;
}

/**
 * Splits a target batch into micro-batches that fit. With k_min = ceil(target / maxMicroBatch):
 * if target <= maxMicroBatch, no accumulation (b = target, k = 1); else the largest divisor b of the
 * target with b <= maxMicroBatch and k = target / b <= 2 k_min (so a prime target does not become
 * target x 1); if none, k = k_min and b = ceil(target / k_min), giving effective batch b k_min, which is
 * at least the target and overshoots it by less than k_min samples.
 */
export function accumulationPlan(targetBatch: number, maxMicroBatch: number): AccumulationChoice {
  for (const [v, what] of [
    [targetBatch, 'target batch size'],
    [maxMicroBatch, 'largest micro-batch'],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new BatchSizeError(`${what} must be a positive integer, got ${v}; pass e.g. 64`);
  }
  const make = (b: number, k: number, why = ''): AccumulationChoice => ({
    batchSize: b * k,
    microBatchSize: b,
    accumSteps: k,
    targetBatch,
    effectiveBatch: b * k,
    exact: b * k === targetBatch,
    text: `${b * k === targetBatch ? '' : `${targetBatch} -> `}${b * k} = ${b} x ${k}${why}`,
  });
  if (targetBatch <= maxMicroBatch) return make(targetBatch, 1);
  const kMin = Math.ceil(targetBatch / maxMicroBatch);
  for (let k = kMin; k <= 2 * kMin; k++) {
    if (targetBatch % k === 0) return make(targetBatch / k, k);
  }
  const b = Math.ceil(targetBatch / kMin);
  return make(b, kMin, ` (${targetBatch} has no divisor <= ${maxMicroBatch} with <= ${2 * kMin} steps)`);
}
