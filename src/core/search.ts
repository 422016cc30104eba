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
}

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
function searchSettings(o: FindMaxOptions): { start: number; cap: number; minBatch: number; maxTrials: number; tolerance: number } {
  const minBatch = o.minBatch ?? 1;
  const maxTrials = o.maxTrials ?? DEFAULT_MAX_TRIALS;
  const tolerance = o.tolerance ?? DEFAULT_SEARCH_TOLERANCE;
  if (!Number.isInteger(o.cap) || o.cap < 1) throw new BatchSizeError(`search cap must be a positive integer (e.g. the training-set size), got ${o.cap}`);
  if (!Number.isInteger(minBatch) || minBatch < 1 || minBatch > o.cap) {
    throw new BatchSizeError(`smallest batch to try must be an integer in [1, ${o.cap}], got ${minBatch}`);
  }
  if (!Number.isInteger(maxTrials) || maxTrials < 1) throw new UsageError(`maxTrials must be a positive integer, got ${maxTrials}`);
  if (!(tolerance >= 0 && tolerance < 1)) throw new UsageError(`search tolerance must be in [0, 1), got ${tolerance}; use e.g. 0.02`);
  const guess = Number.isFinite(o.predictedMax) ? Math.round(o.predictedMax) : minBatch;
  return { start: Math.min(o.cap, Math.max(minBatch, guess)), cap: o.cap, minBatch, maxTrials, tolerance };
}

/**
 * Finds the largest batch size whose probe passes.
 * 1. Probe the analytic prediction (not 2: a good prediction saves the long climb).
 * 2. If it passed, double (capped at `cap`) until a probe fails or `cap` passes; if it failed, halve
 *    (floored, down to minBatch) until a probe passes or minBatch fails.
 * 3. Bisect between the last success lo and the first failure hi (mid = floor((lo + hi) / 2)) until
 *    hi - lo <= max(1, tolerance * lo).
 * Memory failures ('over-budget', 'oom') steer the search; an 'error' probe stops it at once with
 * outcome 'error' (a crash is never taken for OOM). The answer is always a batch that was probed and
 * passed. With a prediction within 2x of the truth this takes about log2(max) + 2 probes, fewer with
 * a tolerance.
 */
export async function findMaxBatch(options: FindMaxOptions): Promise<FindMaxResult> {
  const st: SearchState = { settings: searchSettings(options), probe: options.probe, trials: [], lo: undefined, hi: undefined };
  const stop = await bracket(st);
  if (stop !== undefined) return finish(st, stop);
  // Bisection between the last success lo and the first failure hi.
  for (;;) {
    const l = (st.lo as { batch: number }).batch;
    const h = st.hi as number;
    if (h - l <= Math.max(1, st.settings.tolerance * l)) return finish(st, 'found');
    if (st.trials.length >= st.settings.maxTrials) return finish(st, 'trial-limit');
    if ((await runProbe(st, Math.floor((l + h) / 2))) === 'error') return finish(st, 'error');
  }
}

/** Mutable state of one search, owned by one findMaxBatch call. */
interface SearchState {
  settings: ReturnType<typeof searchSettings>;
  probe: FindMaxOptions['probe'];
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
      next = Math.min(s.cap, next * 2);
    } else {
      if (next <= s.minBatch) return 'none-fits';
      next = Math.max(s.minBatch, Math.floor(next / 2));
    }
  }
}

/** Builds the result from the state; for 'error' it carries the failing probe's batch and message. */
function finish(st: SearchState, outcome: FindMaxResult['outcome']): FindMaxResult {
  const result: FindMaxResult = { outcome, maxBatch: st.lo?.batch, peakBytes: st.lo?.peakBytes, firstFailure: st.hi, trials: st.trials };
  const last = st.trials[st.trials.length - 1];
  if (outcome === 'error' && last !== undefined && !last.result.ok) result.error = { batch: last.batch, message: last.result.message };
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
  return { interceptBytes: line.intercept, bytesPerSample: line.slope, r2: line.r2, n: line.n, residualStdBytes: line.residualStd };
}

/**
 * Largest batch the memory model says fits: floor((budgetBytes - marginBytes - a) / b). 0 when even
 * the fixed part a does not fit; undefined when b <= 0 (memory did not grow with the batch, so the
 * model cannot predict a limit: probe instead).
 */
export function predictMaxBatch(fit: Pick<MemoryFit, 'interceptBytes' | 'bytesPerSample'>, budgetBytes: number, options: { marginBytes?: number } = {}): number | undefined {
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
  for (const [v, what] of [[targetBatch, 'target batch size'], [maxMicroBatch, 'largest micro-batch']] as const) {
    if (!Number.isInteger(v) || v < 1) throw new BatchSizeError(`${what} must be a positive integer, got ${v}; pass e.g. 64`);
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
