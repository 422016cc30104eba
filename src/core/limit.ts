/**
 * Where to probe next when looking for the largest batch that fits a real memory limit (a GPU's,
 * or a per-process cap), using everything the probes so far have said, failures included.
 *
 * On a GPU a CUDA context (0.5-1 GiB) and the allocator's blocks dominate the peaks at small B, so
 * the small-B peaks are flat or rise by a misleading amount (issue 17: the line through B <= 8
 * predicted 36,549 for a true 6,158). And a failed probe says more than "too big": PyTorch's message
 * states the cap it ran into (core/oom-message.ts). So:
 * - start (startBatch): one moderate probe chosen from the room left under the limit (the free
 *   memory, the cap): far enough up that its peak rises clearly above the context, low enough that
 *   it passes even when the small-B slope understates the per-sample memory several times;
 * - then (nextProbe): the line through the measured peaks (memoryLine) meets the limit, the real one
 *   where a failure stated it, at B_x; probe just below B_x, so a success adds a point near the
 *   limit, and just above the last success once the line says the maximum is within one tolerance;
 *   a failure never sends the search half-way down, it lowers the limit the line aims at;
 * - a failure with no measured rise yet (the start probe failed) goes to the larger of the
 *   geometric mean of the bracket and an eighth of the failed batch: a point that fits and rises.
 *
 * Pure: the probes are data, the caller runs them (searchLimit here drives a probe function, for
 * tests and simulations).
 */
import type { OomFigures } from './oom-message.js';

/** A probe that passed: a batch and its peak. */
export interface PeakPoint {
  batch: number;
  peakBytes: number;
  /**
   * peakBytes is only an upper bound: a JAX process cannot reset its high-water mark, so a probe below
   * an earlier, larger one (or an out-of-memory that raised the mark part-way) states that mark, not its
   * own peak. Such a point says the batch fits; it draws no line.
   */
  atMost?: boolean;
}

/**
 * What the peaks measure, which decides how a failure's figures convert: 'device' = the process's
 * device memory as NVML and nvidia-smi show it (CUDA context and library workspaces included);
 * 'allocator' = the framework allocator's own peak (torch.cuda.max_memory_allocated, JAX
 * peak_bytes_in_use, a BFC allocator's InUse).
 */
export type PeakMeasure = 'device' | 'allocator';

/** A probe that failed for memory, and what its message said, in the search's measure. */
export interface FailurePoint {
  batch: number;
  /** The peak at this batch was at least this: what the process held when it failed plus the allocation that failed. */
  peakAtLeastBytes?: number;
  /** The limit the process ran into. */
  limitBytes?: number;
}

/** The smallest of the defined numbers, or undefined. */
function minDefined(...xs: (number | undefined)[]): number | undefined {
  const d = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return d.length === 0 ? undefined : Math.min(...d);
}

/** a + b when both are defined. */
function plus(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a + b;
}

/**
 * A failure's figures in the search's measure.
 * - 'device': held = the process's memory (NVML). The limit is the smaller of what it could grow to
 *   on the device (held + free) and the cap plus what is not the allocator's (the cap limits the
 *   allocator's reserved memory; the CUDA context and workspaces come on top: held - reserved).
 * - 'allocator': held = allocated. The limit is the smaller of allocated + free (the allocator can
 *   reserve what is free) and the cap less the allocator's fragmentation (reserved - allocated: the
 *   cap counts reserved bytes, the measure allocated ones).
 * Both: the peak was at least held + the allocation that failed.
 */
export function failurePoint(batch: number, f: OomFigures | undefined, measure: PeakMeasure): FailurePoint {
  if (f === undefined) return { batch };
  if (measure === 'device') {
    const held = f.processBytes;
    const outside = f.reservedBytes === undefined || held === undefined ? undefined : held - f.reservedBytes;
    const limit = minDefined(
      plus(held, f.freeBytes),
      f.limitBytes === undefined ? undefined : f.limitBytes + Math.max(0, outside ?? 0),
    );
    return { batch, peakAtLeastBytes: plus(held, f.triedBytes), limitBytes: limit };
  }
  const held = f.allocatedBytes;
  const fragmentation = f.reservedBytes === undefined || held === undefined ? 0 : f.reservedBytes - held;
  const limit = minDefined(
    plus(held, f.freeBytes),
    f.limitBytes === undefined ? undefined : f.limitBytes - Math.max(0, fragmentation),
  );
  return { batch, peakAtLeastBytes: plus(held, f.triedBytes), limitBytes: limit };
}

/** One probe of a search, in the order it ran. */
export type LimitTrial = (
  | {
      ok: true;
      peakBytes: number;
      /** peakBytes is an upper bound (PeakPoint.atMost). */
      peakAtMost?: boolean;
    }
  | { ok: false; failure: FailurePoint }
) & { batch: number };

/** Settings of startBatch and nextProbe. */
export interface LimitSearchSettings {
  /** The usable limit known before any failure (the budget after its margin), bytes. */
  limitBytes: number;
  /** A passed probe at small B (the largest of the small-B probes): lines start from it. */
  baseline: PeakPoint;
  /** A rise of the peak above the baseline smaller than this is too small to extrapolate a line from (noise, allocator rounding). */
  minRiseBytes: number;
  /** The measure's granularity (2 MiB allocator blocks for nvidia-smi): a flat stretch bounds the bytes per sample by it. */
  resolutionBytes: number;
  /** Done when (first failure - last success) <= max(1, tolerance x last success). */
  tolerance: number;
  /** Largest batch worth trying. */
  cap: number;
}

/** How much below the line's crossing the next probe aims, in tolerances: a success there brackets the maximum within one more probe. */
export const AIM_BELOW_TOLERANCES = 0.5;
/**
 * The start's divisor of the small-B line's prediction: GPU peaks at small B understate the bytes per
 * sample (allocator blocks reserved ahead, smaller cuDNN workspaces, lazily created state); 6x in
 * issue 17's ResNet-18. A start at 1/8 of the prediction passes up to 8x and still rises clearly.
 */
export const START_DIVISOR = 8;
/** After a failure with no measured rise, the next probe is at least this fraction of the failed batch (see the module doc). */
export const MODERATE_FRACTION = 1 / 8;
/** Of the batch a flat stretch proves to fit (flatBound), the share the climb takes: half, so a curve a little steeper than linear still passes. */
export const FLAT_FILL = 0.5;
/** Largest factor one step may climb from the last success on a line from a small rise; log2(64) = 6 bisection probes at worst. */
export const MAX_CLIMB_FACTOR = 64;

/** The usable limit: the caller's, lowered by any limit a failure stated. */
export function effectiveLimit(trials: readonly LimitTrial[], limitBytes: number): number {
  return Math.min(limitBytes, ...trials.flatMap((t) => (!t.ok && t.failure.limitBytes ? [t.failure.limitBytes] : [])));
}

/**
 * Where the peaks reach `limitBytes`, from the passed probes whose peak rose at least minRiseBytes
 * above the baseline (the rest is context and noise) and was measured, not bounded (PeakPoint.atMost):
 * - two or more risen probes: the parabola through the two largest and the one before them (the
 *   baseline when there are only two) when it curves up (memory that grows faster than linearly, e.g.
 *   attention, where a secant from far below overshoots); else the secant through the two largest;
 * - one: the secant from the baseline through it.
 * Undefined with no risen probe or a line that does not rise.
 */
export function lineCrossing(
  passed: readonly PeakPoint[],
  s: Pick<LimitSearchSettings, 'baseline' | 'minRiseBytes'>,
  limitBytes: number,
): number | undefined {
  const base = s.baseline;
  const risen = passed
    .filter((p) => !p.atMost && p.batch > base.batch && p.peakBytes - base.peakBytes >= s.minRiseBytes)
    .sort((a, b) => a.batch - b.batch);
  const top = risen.at(-1);
  if (top === undefined) return undefined;
  const from = risen.at(-2) ?? base;
  if (risen.length >= 2) {
    const curved = parabolaCrossing(risen.at(-3) ?? base, from, top, limitBytes);
    if (curved !== undefined) return curved;
  }
  const slope = (top.peakBytes - from.peakBytes) / (top.batch - from.batch);
  if (!(slope > 0)) return undefined;
  return top.batch + (limitBytes - top.peakBytes) / slope;
}

/**
 * Where the parabola through three points (batches increasing) reaches `limitBytes` above the last
 * one, when it curves up (second divided difference > 0) and rises there; else undefined. Newton form:
 * p(B) = y0 + d01 (B - x0) + d012 (B - x0)(B - x1).
 */
export function parabolaCrossing(p0: PeakPoint, p1: PeakPoint, p2: PeakPoint, limitBytes: number): number | undefined {
  const d01 = (p1.peakBytes - p0.peakBytes) / (p1.batch - p0.batch);
  const d12 = (p2.peakBytes - p1.peakBytes) / (p2.batch - p1.batch);
  const d012 = (d12 - d01) / (p2.batch - p0.batch);
  if (!(d012 > 0)) return undefined;
  // Solve a B^2 + b B + c = 0 for the root above p2.batch.
  const a = d012;
  const b = d01 - d012 * (p0.batch + p1.batch);
  const c = p0.peakBytes - d01 * p0.batch + d012 * p0.batch * p1.batch - limitBytes;
  const root = (-b + Math.sqrt(b * b - 4 * a * c)) / (2 * a);
  const slopeAtTop = 2 * a * p2.batch + b;
  return Number.isFinite(root) && slopeAtTop > 0 ? root : undefined;
}

/**
 * The flatness bound: a peak that rose by `rise` (less than minRiseBytes) from the baseline to `flat`
 * bounds the bytes per sample by max(rise, resolutionBytes) / (flat.batch - baseline.batch), if memory
 * is linear; every B up to flat.batch + room / that then fits. Undefined when flat.batch <= baseline.batch.
 */
export function flatBound(
  flat: PeakPoint,
  s: Pick<LimitSearchSettings, 'baseline' | 'resolutionBytes'>,
  limitBytes: number,
): number | undefined {
  const span = flat.batch - s.baseline.batch;
  if (!(span > 0)) return undefined;
  const maxBytesPerSample = Math.max(flat.peakBytes - s.baseline.peakBytes, s.resolutionBytes) / span;
  return flat.batch + Math.max(0, limitBytes - flat.peakBytes) / maxBytesPerSample;
}

/** Options of startBatch. */
export interface StartOptions {
  /** Passed probes at small B (e.g. B = 1 and 8). */
  small: readonly PeakPoint[];
  /** The usable limit, bytes. */
  limitBytes: number;
  /** Free device memory now: the process can grow by at most this (from the prober's ready report or nvidia-smi). */
  freeBytes?: number;
  resolutionBytes: number;
  cap: number;
}

/**
 * The first probe above the small-B probes: with room = min(limit, base peak + free) - base peak and
 * bytes per sample s = max(rise, resolutionBytes) / span over the small-B probes (an estimate when
 * they rose, an upper bound when they were flat), the small-B line predicts B_pred = base + room / s;
 * the start is base + (B_pred - base) / START_DIVISOR, at least base + 1 and at most cap. One small
 * probe only: 4 x its batch.
 */
export function startBatch(o: StartOptions): { batch: number; why: string; predicted?: number } {
  const sorted = [...o.small].sort((a, b) => a.batch - b.batch);
  const first = sorted[0];
  const base = sorted.at(-1);
  if (first === undefined || base === undefined) throw new Error('startBatch needs at least one small-B probe');
  const clamp = (b: number): number => Math.max(base.batch + 1, Math.min(o.cap, Math.floor(b)));
  if (base.batch === first.batch) return { batch: clamp(4 * base.batch), why: 'one small-B probe: 4x its batch' };
  const limit = Math.min(o.limitBytes, base.peakBytes + (o.freeBytes ?? Number.POSITIVE_INFINITY));
  const room = Math.max(0, limit - base.peakBytes);
  const perSample = Math.max(base.peakBytes - first.peakBytes, o.resolutionBytes) / (base.batch - first.batch);
  const predicted = base.batch + room / perSample;
  return {
    batch: clamp(base.batch + (predicted - base.batch) / START_DIVISOR),
    why: `the small-B peaks predict ${Math.floor(predicted)}; starting at 1/${START_DIVISOR} of it`,
    predicted: Math.floor(predicted),
  };
}

/** What nextProbe decided. */
export type NextProbe =
  | { batch: number; why: string }
  | { done: 'found' | 'capped' | 'none-fits'; lo?: PeakPoint; hi?: number };

/** Probes that passed under `limit`, the baseline included; a pass above it counts as a failure. */
function split(
  trials: readonly LimitTrial[],
  s: LimitSearchSettings,
  limit: number,
): { passed: PeakPoint[]; failed: number[] } {
  const passed: PeakPoint[] = [s.baseline];
  const failed: number[] = [];
  for (const t of trials) {
    if (t.ok && t.peakBytes <= limit)
      passed.push({ batch: t.batch, peakBytes: t.peakBytes, ...(t.peakAtMost ? { atMost: true } : {}) });
    else failed.push(t.batch);
  }
  return { passed, failed };
}

/**
 * The next probe of the search, from every probe so far (see the module doc). With lo = the largest
 * success and hi = the smallest failure above it:
 * 1. done when hi - lo <= max(1, tolerance x lo) ('found'), or lo = cap ('capped');
 * 2. with a line crossing B_x: B_x (1 - tolerance / 2), but at least floor(lo (1 + tolerance)) (a
 *    failure there closes the bracket) and at most MAX_CLIMB_FACTOR x lo; inside a bracket, below hi,
 *    else ceil(hi / (1 + tolerance)) (a success there closes it);
 * 3. without a crossing: climbing, FLAT_FILL of the way to the flatness bound (at least 4 lo);
 *    bracketed, max(sqrt(lo hi), MODERATE_FRACTION hi). Above a lo whose peak is only bounded
 *    (PeakPoint.atMost) the line counts as none: drawn through measured peaks below lo, it says nothing
 *    checked about the memory between lo and hi, and the steps of one tolerance it takes next to a
 *    bracket's end would crawl across it (a JAX search after an out-of-memory raised the mark).
 */
export function nextProbe(trials: readonly LimitTrial[], s: LimitSearchSettings): NextProbe {
  const limit = effectiveLimit(trials, s.limitBytes);
  const { passed, failed } = split(trials, s, limit);
  const lo = passed.reduce((a, p) => (p.batch > a.batch ? p : a));
  const hi = minDefined(...failed.filter((b) => b > lo.batch));
  if (hi !== undefined && hi - lo.batch <= Math.max(1, s.tolerance * lo.batch)) return { done: 'found', lo, hi };
  if (hi === undefined && lo.batch >= s.cap) return { done: 'capped', lo };
  const top = hi === undefined ? s.cap : hi - 1;
  const inside = (b: number): number => Math.max(lo.batch + 1, Math.min(top, Math.floor(b)));
  const line = lineCrossing(passed, s, limit);
  const crossing = lo.atMost ? undefined : line;
  // Two failures in a row since the last success: the line was wrong twice; a point between the
  // bracket's ends that passes gives it a new measured peak near the limit.
  if (hi !== undefined && failuresSinceSuccess(trials) >= 2)
    return {
      batch: inside(Math.sqrt(lo.batch * hi)),
      why: `two failures in a row below the line; between ${lo.batch} and ${hi}`,
    };
  if (crossing !== undefined) {
    const aim = Math.min(
      MAX_CLIMB_FACTOR * lo.batch,
      Math.max(Math.floor(lo.batch * (1 + s.tolerance)), crossing * (1 - AIM_BELOW_TOLERANCES * s.tolerance)),
    );
    if (hi === undefined || aim < hi)
      return { batch: inside(aim), why: `the line meets the limit at ${Math.floor(crossing)}` };
    return {
      batch: inside(Math.ceil(hi / (1 + s.tolerance))),
      why: `the line meets the limit above the failure at ${hi}`,
    };
  }
  if (hi === undefined) {
    const bound = flatBound(lo, s, limit) ?? 4 * lo.batch;
    return {
      batch: inside(Math.max(4 * lo.batch, lo.batch + FLAT_FILL * (bound - lo.batch))),
      why: 'the peaks are still flat',
    };
  }
  return {
    batch: inside(Math.max(Math.sqrt(lo.batch * hi), MODERATE_FRACTION * hi)),
    why: lo.atMost
      ? `the peak at ${lo.batch} is only bounded (a high-water mark); between ${lo.batch} and ${hi}`
      : `no measured rise below the failure at ${hi}`,
  };
}

/** Failed probes since the last success (all of them when none passed). */
function failuresSinceSuccess(trials: readonly LimitTrial[]): number {
  let n = 0;
  for (let i = trials.length - 1; i >= 0 && !trials[i]?.ok; i--) n++;
  return n;
}

/** Options of searchLimit. */
export interface SearchLimitOptions extends LimitSearchSettings {
  /** Runs one probe; `why` says why it goes there (nextProbe's reason, 'start' for the first). */
  probe: (batch: number, why: string) => Promise<LimitTrial>;
  /** The first probe (startBatch's). */
  start: number;
  /** Most probes. */
  maxTrials: number;
}

/** Result of searchLimit. */
export interface SearchLimitResult {
  outcome: 'found' | 'capped' | 'none-fits' | 'trial-limit';
  /** Largest batch that passed (a probed value), or undefined. */
  maxBatch?: number;
  firstFailure?: number;
  trials: LimitTrial[];
  /** Why each probe went where it did, in order. */
  reasons: string[];
}

/** Runs the search: the start probe, then nextProbe until done or maxTrials. */
export async function searchLimit(o: SearchLimitOptions): Promise<SearchLimitResult> {
  const trials: LimitTrial[] = [];
  const reasons: string[] = [];
  let next: NextProbe = { batch: o.start, why: 'start' };
  while ('batch' in next) {
    if (trials.length >= o.maxTrials) return finishLimit('trial-limit', trials, reasons, o);
    reasons.push(next.why);
    trials.push(await o.probe(next.batch, next.why));
    next = nextProbe(trials, o);
  }
  return finishLimit(next.done, trials, reasons, o);
}

function finishLimit(
  outcome: SearchLimitResult['outcome'],
  trials: LimitTrial[],
  reasons: string[],
  s: LimitSearchSettings,
): SearchLimitResult {
  const limit = effectiveLimit(trials, s.limitBytes);
  const { passed, failed } = split(trials, s, limit);
  const won = passed.filter((p) => p !== s.baseline);
  const maxBatch = won.length === 0 ? undefined : Math.max(...won.map((p) => p.batch));
  const firstFailure = minDefined(...failed.filter((b) => maxBatch === undefined || b > maxBatch));
  return {
    outcome: maxBatch === undefined && outcome === 'found' ? 'none-fits' : outcome,
    maxBatch,
    firstFailure,
    trials,
    reasons,
  };
}
