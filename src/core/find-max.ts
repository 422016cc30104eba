/**
 * The pure steps of find-max (lab/find-max orchestrates the probes): its settings and their check, the
 * start of the search from the analytic probes (the memory line and the margin, core/margin.ts), the
 * secant refinement of that start, the guide of an untrusted climb, the step down after a failed
 * verification, and the advice for a target batch above the maximum. Each reads the probes as they ran.
 */
import { BatchlabError, UsageError } from './errors.js';
import {
  failurePoint,
  type LimitSearchSettings,
  type LimitTrial,
  type PeakMeasure,
  type PeakPoint,
  startBatch,
} from './limit.js';
import { scaleLr, type LrRule } from './lr.js';
import { ceilingOf, DEFAULT_MARGIN_FLOOR, MAX_MARGIN, type MarginDerivation, type PeakSample } from './margin.js';
import {
  accumulationPlan,
  DEFAULT_MAX_TRIALS,
  fitMemory,
  GROWTH_FLAT_FACTOR,
  type AccumulationChoice,
  type GrowthGuide,
  type MemoryFit,
} from './search.js';
import type { OomFigures } from './oom-message.js';
import type { StatedMemory } from './run.js';
import { std } from './stats.js';
import { formatBytes } from './units.js';

/** How one probe ended. 'timeout' and 'error' stop a search; 'over-budget' and 'oom' steer it. */
export type ProbeKind = 'ok' | 'over-budget' | 'oom' | 'error' | 'timeout';

/** The phases of find-max: the analytic profile at small B, the search, the verification of the answer. */
export type ProbePhase = 'analytic' | 'search' | 'verify';

/** A probe as the steps below read it (lab/find-max's ProbeRecord has more). */
export interface ProbePoint {
  phase: ProbePhase;
  batch: number;
  kind: ProbeKind;
  ok: boolean;
  /** Peak on the budget's measure: of a probe that ran to its end, or that was stopped over the limit. */
  peakBytes?: number;
  /** peakBytes is only an upper bound (a JAX high-water mark set before the probe; ProbeMeasurement.peakAtMost): no line, fit or margin uses it, except small probes that are all bounds (smallPeaks). */
  peakAtMost?: boolean;
  /** An out-of-memory's figures, where its message stated them. */
  oom?: OomFigures;
  /** What the process stated of its memory: its allocator's cap and reserved peak. */
  statedMemory?: StatedMemory;
}

/** Batch sizes of the analytic profile. */
export const ANALYTIC_BATCHES: readonly number[] = [1, 2, 4, 8];
/** Default steps of a probe: the first step creates the optimizer state, the next ones show the steady peak. */
export const DEFAULT_PROBE_STEPS = 3;
/** Default steps of the verification run of the answer. */
export const DEFAULT_VERIFY_STEPS = 20;
/** Default bisection tolerance: hi - lo <= 3% of lo, so the answer is within 3 / 103 = 2.9% below the true maximum (the GPU goal: within 3%). */
export const DEFAULT_TOLERANCE = 0.03;
/** Half-width of the search window around the refined start, in tolerances (step 2 of the module doc). */
export const WINDOW_TOLERANCES = 1;
/** Below this R^2 the line does not describe the peaks (e.g. RSS noise at small B): search up by doubling instead. */
export const MIN_TRUSTED_R2 = 0.9;
/** Verification attempts before giving up (each steps down from a failed one). */
export const MAX_VERIFY_ATTEMPTS = 3;

/** What find-max needs besides the prober. */
export interface FindMaxSettings {
  budgetBytes: number;
  /** What the budget is compared with, as a short name ('tensor', 'rss', 'gpu', 'reported'). */
  budgetOn: string;
  /** Smallest margin (--margin), in [0, MAX_MARGIN]. */
  marginFloor: number;
  /** Largest batch worth trying (the training-set size, or --max-batch for a command). */
  cap: number;
  probeSteps: number;
  verifySteps: number;
  /** Most probes per findMaxBatch search (batches already measured count too). */
  maxTrials: number;
  tolerance: number;
  analyticBatches: readonly number[];
  /** A batch the user wants; above the maximum, the report gives an accumulation plan for it. */
  targetBatch?: number;
  /** For the LR note of the target batch. */
  lr?: { rule: LrRule; baseLr?: number; baseBatch?: number };
  /** What is probed, stored with the experiment (the TF.js config, or the command). */
  subject: Record<string, unknown>;
}

/**
 * Settings with find-max's defaults for what is not given: the margin floor DEFAULT_MARGIN_FLOOR, probes
 * of DEFAULT_PROBE_STEPS steps at ANALYTIC_BATCHES first, a verification of DEFAULT_VERIFY_STEPS, the
 * search's DEFAULT_MAX_TRIALS and DEFAULT_TOLERANCE, the budget on the tensor peak of a step.
 */
export function findMaxSettings(
  o: Pick<FindMaxSettings, 'budgetBytes' | 'cap'> & Partial<FindMaxSettings>,
): FindMaxSettings {
  return {
    budgetOn: 'tensor',
    marginFloor: DEFAULT_MARGIN_FLOOR,
    probeSteps: DEFAULT_PROBE_STEPS,
    verifySteps: DEFAULT_VERIFY_STEPS,
    maxTrials: DEFAULT_MAX_TRIALS,
    tolerance: DEFAULT_TOLERANCE,
    analyticBatches: ANALYTIC_BATCHES,
    subject: {},
    ...o,
  };
}

/** The analytic phase's result. */
export interface Prediction {
  /** Largest batch the fit predicts under the limit; undefined without a usable fit. */
  batch: number | undefined;
  /** Where the search started. */
  start: number;
  /** Whether the fit was good enough to start from (R^2 >= MIN_TRUSTED_R2, memory growing with B). */
  trusted: boolean;
  limitBytes: number;
  /** Why the search starts where it does. */
  note: string;
}

/** What to do about a target batch. */
export interface TargetAdvice {
  targetBatch: number;
  /** The target itself fits: no accumulation. */
  fits: boolean;
  /** micro-batch x accumulation steps (when it does not fit). */
  plan: AccumulationChoice;
  /** LR for the effective batch: the rule, the value when a base LR and batch are known, and the words. */
  lr: { rule: LrRule; value?: number; text: string };
  /**
   * With the batch worth using (core/throughput batchWorthUsing): the plan with the most accumulation
   * steps whose micro-batch still reaches it, so within 5% of the best samples/s in less memory; only
   * when its micro-batch is smaller than the plan's (or than the target, when the target fits).
   */
  sameSpeed?: AccumulationChoice;
  /** The batch worth using it rests on. */
  worthFrom?: number;
}

/** Checks the numbers of the settings (the CLI parses them; a library caller may not have). */
export function checkSettings(s: FindMaxSettings): void {
  if (!(Number.isFinite(s.budgetBytes) && s.budgetBytes >= 1))
    throw new BatchlabError(
      'BATCHLAB_BAD_BUDGET',
      `memory budget must be a positive number of bytes, got ${s.budgetBytes}; use e.g. --memory-budget 4GiB`,
    );
  if (!(s.marginFloor >= 0 && s.marginFloor <= MAX_MARGIN))
    throw new UsageError(
      `margin must be in [0, ${MAX_MARGIN}], got ${s.marginFloor}; use e.g. --margin 0.1 (10% of the budget held back)`,
    );
  for (const [v, what] of [
    [s.cap, 'largest batch'],
    [s.probeSteps, 'probe steps'],
    [s.verifySteps, 'verification steps'],
    [s.maxTrials, 'max trials'],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`${what} must be a positive integer, got ${v}`);
  }
  if (!(s.tolerance >= 0 && s.tolerance < 1))
    throw new UsageError(`search tolerance must be in [0, 1), got ${s.tolerance}`);
  if (s.analyticBatches.length === 0 || s.analyticBatches.some((b) => !Number.isSafeInteger(b) || b < 1))
    throw new UsageError(`analytic batches must be positive integers, got ${s.analyticBatches.join(', ')}`);
}

/** The usable limit under a margin. */
export function limitOf(s: FindMaxSettings, margin: MarginDerivation | number): number {
  return s.budgetBytes * (1 - (typeof margin === 'number' ? margin : margin.margin));
}

/** Samples for the margin: every probe that measured its peak (not only bounded it) to the end or to the budget. */
export function peakSamples(records: readonly ProbePoint[]): PeakSample[] {
  return records
    .filter((r) => r.peakBytes !== undefined && !r.peakAtMost && (r.kind === 'ok' || r.kind === 'over-budget'))
    .map((r) => ({ batch: r.batch, peakBytes: r.peakBytes as number }));
}

/** The fit over the analytic probes that passed, the margin so far, and where the search starts. */
export function predictStart(
  records: readonly ProbePoint[],
  s: FindMaxSettings,
  failedAt: number | undefined,
): { fit?: MemoryFit; prediction: Prediction; margin: MarginDerivation } {
  const points = records
    .filter((r) => r.ok && !r.peakAtMost)
    .map((r) => ({ batchSize: r.batch, peakBytes: r.peakBytes as number }));
  const fit = new Set(points.map((p) => p.batchSize)).size >= 2 ? fitMemory(points) : undefined;
  const { margin, limitBytes, batch } = ceilingOf({
    fit,
    budgetBytes: s.budgetBytes,
    floor: s.marginFloor,
    samples: peakSamples(records),
  });
  const cap = failedAt !== undefined ? failedAt - 1 : s.cap;
  const largestPassed = Math.max(...points.map((p) => p.batchSize), 1);
  const trusted = batch !== undefined && batch >= 1 && (fit as MemoryFit).r2 >= MIN_TRUSTED_R2;
  const start = Math.max(1, Math.min(cap, trusted ? (batch as number) : 2 * largestPassed));
  const note = trusted
    ? `the search starts at the prediction`
    : fit === undefined
      ? `too few analytic points for a fit; searching from ${start}`
      : !(fit.bytesPerSample > 0)
        ? `memory did not grow with the batch at B <= ${largestPassed}; ${climbWords(start, largestPassed)}`
        : `the line fits the small-B peaks poorly (R^2 ${fit.r2.toFixed(2)} < ${MIN_TRUSTED_R2}); ${climbWords(start, largestPassed)}`;
  return { fit, prediction: { batch, start, trusted, limitBytes, note }, margin };
}

/**
 * The window the search starts in around a trusted start: start - low <= tolerance x low and
 * high - start <= tolerance x start, a bracket the bisection accepts as it is (WINDOW_TOLERANCES wide
 * each way). Untrusted: the whole range.
 */
export function searchWindow(
  start: number,
  tolerance: number,
  cap: number,
  trusted: boolean,
): { low: number; high: number } {
  if (!trusted) return { low: 1, high: cap };
  const width = WINDOW_TOLERANCES * tolerance;
  return {
    low: Math.max(1, Math.min(start - 1, Math.ceil(start / (1 + width)))),
    high: Math.min(cap, start + Math.max(1, Math.floor(width * start))),
  };
}

/**
 * Secant refinement of the start: the line through the largest analytic point (bA, pA) and the probe at
 * the prediction (p0, peak0) gives slope = (peak0 - pA) / (p0 - bA) and the start bA + (limit - pA) / slope.
 * Undefined when the probe at p0 measured no peak (a real OOM) or the slope is not positive.
 */
export function secantStart(
  anchor: { batch: number; peakBytes: number },
  far: { batch: number; peakBytes?: number },
  limitBytes: number,
): number | undefined {
  if (far.peakBytes === undefined || far.batch <= anchor.batch) return undefined;
  const slope = (far.peakBytes - anchor.peakBytes) / (far.batch - anchor.batch);
  if (!(slope > 0)) return undefined;
  return anchor.batch + Math.floor((limitBytes - anchor.peakBytes) / slope);
}

/** How the untrusted climb is described to the user. */
function climbWords(start: number, anchor: number): string {
  return `climbing from ${start}: x${GROWTH_FLAT_FACTOR} while the peak stays flat, then to where the secant of the risen peaks (the first from B = ${anchor}) meets the limit`;
}

/** Noise floor of the climb: a rise of the peak under this fraction of the room above the baseline reads as flat. */
export const MIN_RISE_FRACTION = 0.01;

/**
 * The guide of the climb up (core/search nextBatchUp) from the analytic probes: the secant starts at
 * the largest analytic batch that passed; a rise counts as growth from max(3 x the spread of the
 * analytic peaks, MIN_RISE_FRACTION x the room between that peak and the limit). Undefined without a
 * passed analytic probe.
 */
export function growthGuide(records: readonly ProbePoint[], limitBytes: number): GrowthGuide | undefined {
  const passed = smallPeaks(records);
  const last = passed[passed.length - 1];
  if (last === undefined) return undefined;
  const spread = std(
    passed.map((r) => r.peakBytes as number),
    { sample: false },
  );
  const baseline = { batch: last.batch, peakBytes: last.peakBytes as number };
  return {
    limitBytes,
    baseline,
    minRiseBytes: Math.max(3 * spread, MIN_RISE_FRACTION * Math.max(0, limitBytes - baseline.peakBytes)),
  };
}

/**
 * The small (analytic) probes that passed with a measured peak, in the order they ran; when none was
 * measured, those with a bounded peak (ProbePoint.peakAtMost): that happens where the process's start-up
 * set JAX's high-water mark above every small step's own peak. The bounds then stand in for the peaks:
 * the first line may come out too flat, an overshoot the search's failures correct; without them there
 * would be no search at all.
 */
export function smallPeaks(records: readonly ProbePoint[]): ProbePoint[] {
  const passed = records.filter((r) => r.phase === 'analytic' && r.ok && r.peakBytes !== undefined);
  const measured = passed.filter((r) => !r.peakAtMost);
  return measured.length > 0 ? measured : passed;
}

/**
 * Bytes per sample near `batch`: the secant from the largest passed probe below it to (batch, peakBytes).
 * Local, because the small-B fit may be flat or noisy (a GPU's context, RSS) while memory near the
 * answer grows steadily; and a verification's longer run peaks higher than the short probes, which
 * makes this slope steeper and the step down safer. Undefined without such a probe or a positive slope.
 */
export function localBytesPerSample(
  batch: number,
  peakBytes: number,
  records: readonly ProbePoint[],
): number | undefined {
  const below = records.filter((r) => r.ok && r.peakBytes !== undefined && !r.peakAtMost && r.batch < batch);
  if (below.length === 0) return undefined;
  const near = below.reduce((a, r) => (r.batch > a.batch ? r : a));
  const slope = (peakBytes - (near.peakBytes as number)) / (batch - near.batch);
  return slope > 0 ? slope : undefined;
}

/**
 * The next candidate after a verification run failed at `batch`: over the limit, shed the excess at the
 * local bytes per sample (or peak / B without one); out of memory, the largest batch that passed a
 * search probe below it (or half). At least tolerance / 2 below `batch`, so that a peak a little over
 * the limit (a longer run's growth, noise) does not cost a verification per few samples.
 */
export function stepDown(
  batch: number,
  rec: ProbePoint,
  limitBytes: number,
  records: readonly ProbePoint[],
  tolerance: number,
): number {
  let next: number;
  if (rec.peakBytes !== undefined && rec.peakBytes > limitBytes) {
    const perSample = localBytesPerSample(batch, rec.peakBytes, records) ?? rec.peakBytes / batch;
    next = batch - Math.ceil((rec.peakBytes - limitBytes) / perSample);
  } else {
    const passedBelow = records.filter((r) => r.ok && r.phase === 'search' && r.batch < batch).map((r) => r.batch);
    next = passedBelow.length > 0 ? Math.max(...passedBelow) : Math.floor(batch / 2);
  }
  return Math.min(batch - 1, Math.floor(batch * (1 - tolerance / 2)), next);
}

/** The words of each LR rule, with its paper. */
const LR_RULE_WORDS: Readonly<Record<LrRule, string>> = {
  linear: 'linear rule (Goyal et al. 2017; for SGD, with warm-up)',
  sqrt: 'square-root rule (Malladi et al. 2022; for Adam)',
  fixed: 'fixed LR',
};

/** The LR for the effective batch B: its value and formula when the base LR and batch are known, else how to scale one. */
function targetLr(B: number, lr: NonNullable<FindMaxSettings['lr']>): TargetAdvice['lr'] {
  const intro = `LR for the effective batch ${B}: ${LR_RULE_WORDS[lr.rule]}`;
  const scale = (base: string, b0: string) =>
    lr.rule === 'linear' ? `${base} x ${B} / ${b0}` : lr.rule === 'sqrt' ? `${base} x sqrt(${B} / ${b0})` : base;
  if (lr.baseLr === undefined || lr.baseBatch === undefined) {
    const how = lr.rule === 'fixed' ? 'unchanged' : scale('', 'B0').trim();
    return {
      rule: lr.rule,
      text: `${intro}: the LR tuned at batch B0 ${how}; pass --base-lr and --base-batch to compute it`,
    };
  }
  const value = scaleLr({ rule: lr.rule, baseLr: lr.baseLr, baseBatch: lr.baseBatch, batch: B });
  const formula = scale(String(lr.baseLr), String(lr.baseBatch));
  return { rule: lr.rule, value, text: `${intro}: ${formula} = ${+value.toPrecision(4)}` };
}

/**
 * The accumulation plan for a target batch above the maximum, and the LR for its effective batch; with
 * `worthFrom` (the smallest batch within 5% of the best samples/s) also the plan with smaller
 * micro-batches that runs about as fast (sameSpeed).
 */
export function targetAdvice(
  targetBatch: number,
  maxBatch: number,
  lr: FindMaxSettings['lr'] = { rule: 'linear' },
  worthFrom?: number,
): TargetAdvice {
  const plan = accumulationPlan(targetBatch, maxBatch);
  const fits = targetBatch <= maxBatch;
  const advice: TargetAdvice = { targetBatch, fits, plan, lr: targetLr(plan.effectiveBatch, lr) };
  if (worthFrom === undefined) return advice;
  const same = sameSpeedPlan(targetBatch, worthFrom, maxBatch);
  const fitsAs = fits ? targetBatch : plan.microBatchSize;
  return same !== undefined && same.microBatchSize < fitsAs ? { ...advice, sameSpeed: same, worthFrom } : advice;
}

/**
 * The exact split of `targetBatch` with the most accumulation steps k whose micro-batch target / k is
 * at least `worthFrom` and at most `maxBatch`: the smallest micro-batch that still runs at full speed.
 * Undefined when no divisor lies in that range.
 */
export function sameSpeedPlan(
  targetBatch: number,
  worthFrom: number,
  maxBatch: number,
): AccumulationChoice | undefined {
  const fewest = Math.ceil(targetBatch / maxBatch);
  for (let k = Math.floor(targetBatch / Math.max(1, worthFrom)); k >= fewest; k--) {
    if (targetBatch % k === 0) return accumulationPlan(targetBatch, targetBatch / k);
  }
  return undefined;
}

/**
 * Batch sizes of the small probes before a limit search (core/limit.ts): on a GPU the peaks up to B = 8
 * are the CUDA context and the allocator's blocks, so B = 2 and 4 would add two probes and no slope.
 */
export const SMALL_BATCHES: readonly number[] = [1, 8];

/** How a limit search reads a prober's peaks: what its OOM figures mean in its measure (failurePoint), and the measure's granularity. */
export interface LimitReading {
  peak: PeakMeasure;
  /** 2 MiB allocator blocks for nvidia-smi; a page for a process's own report. */
  resolutionBytes: number;
}

/** What a prober knows of the limit before its first probe, in its own measure (a warm process's ready line). */
export interface KnownLimits {
  /** A cap the process runs under (PyTorch's per-process memory fraction). */
  limitBytes?: number;
  /** Free device memory: the process can grow by at most this. */
  freeBytes?: number;
}

/**
 * The known limits with the cap the small probes stated (a helper's memory_limit_bytes, docs/protocol.md
 * section 2), so a fresh search aims at the cap without running into it first. In the allocator's
 * measure the cap counts as it is; in device terms it gets what lay outside the allocator on top (the
 * CUDA context: the probe's device peak less its reserved peak, the largest over the probes, since a
 * sampled device peak may miss part of the reserved one). A device cap needs the reserved peak.
 */
export function withStatedLimits(
  known: KnownLimits,
  records: readonly ProbePoint[],
  reading: LimitReading,
): KnownLimits {
  const stated = records.filter((r) => r.ok && r.statedMemory?.limitBytes !== undefined);
  if (stated.length === 0) return known;
  const cap = Math.min(...stated.map((r) => r.statedMemory?.limitBytes as number));
  const outside = stated.flatMap((r) =>
    r.statedMemory?.peakReservedBytes === undefined || r.peakBytes === undefined
      ? []
      : [Math.max(0, r.peakBytes - r.statedMemory.peakReservedBytes)],
  );
  if (reading.peak === 'device' && outside.length === 0) return known;
  const limitBytes = reading.peak === 'device' ? cap + Math.max(...outside) : cap;
  return { ...known, limitBytes: Math.min(limitBytes, known.limitBytes ?? Number.POSITIVE_INFINITY) };
}

/** How the limit search reads the allocated peaks under a binding cap: the allocator's own measure, 1 MiB apart. */
export const CAP_READING: LimitReading = { peak: 'allocator', resolutionBytes: 2 ** 20 };

/**
 * The cap to search against in the allocator's measure (memory_limit_bytes, the smallest stated), when
 * one binds before the budget: its value in the budget's measure (`known.limitBytes`, withStatedLimits:
 * the context on top in device terms) lies below the budget's limit. Undefined when no probe stated a
 * cap, when a small probe that passed did not state its allocated peak, or when the budget binds first.
 *
 * Why: under a cap the caching allocator's reserved peak and the device peak crowd up under the cap
 * long before the batch that fails, so a line through them stalls or overshoots. On an H200 with a
 * 24 GiB cap (bench/gpu/h200-2026-11-29), ResNet-18 reserved 23.9 GiB at B = 3,143, where 13 GB were
 * allocated; the allocated peaks stayed on a line (1.27 GB at B = 256, 8.64 at 2,048, 17.1 at 4,096:
 * 4.13 MB a sample) that meets the cap at about 6,196, for a true limit in [6,194, 6,205).
 */
export function bindingCap(
  records: readonly ProbePoint[],
  o: { known: KnownLimits; limitBytes: number },
): number | undefined {
  const small = records.filter((r) => r.phase === 'analytic' && r.ok);
  if (small.length === 0 || small.some((r) => r.statedMemory?.peakAllocatedBytes === undefined)) return undefined;
  const caps = records.flatMap((r) => (r.statedMemory?.limitBytes === undefined ? [] : [r.statedMemory.limitBytes]));
  if (caps.length === 0) return undefined;
  const cap = Math.min(...caps);
  return (o.known.limitBytes ?? cap) < o.limitBytes ? cap : undefined;
}

/**
 * A probe in the allocator's measure, for the limit search under a binding cap (bindingCap): a pass
 * keeps its allocated peak (peakBytes), every other probe loses its peak (the budget's measure, not
 * this one).
 */
export function allocatedPointOf(p: ProbePoint): ProbePoint {
  const { peakBytes: _budgetPeak, peakAtMost: _bounded, ...rest } = p;
  const allocated = p.ok ? p.statedMemory?.peakAllocatedBytes : undefined;
  return allocated === undefined ? rest : { ...rest, peakBytes: allocated };
}

/**
 * A probe as the limit search under a binding cap reads it. A pass: its allocated peak (a pass that
 * did not state one, as a JAX probe below the process's high-water mark, is bounded by the cap: it
 * fit, and that is all it says, so it brackets and draws no line). A failure: no limit
 * of its own, since the cap is known exactly and a failure's fragmentation (reserved - allocated:
 * 2 GiB at B = 16,576, 0.2 GiB near the limit on the H200) would lower it for every later probe; an
 * out-of-memory keeps allocated + tried as the least its peak would have been.
 */
export function capTrialOf(p: ProbePoint, capBytes: number): LimitTrial {
  if (p.ok) {
    const allocated = p.statedMemory?.peakAllocatedBytes;
    return allocated === undefined
      ? { batch: p.batch, ok: true, peakBytes: capBytes, peakAtMost: true }
      : { batch: p.batch, ok: true, peakBytes: allocated };
  }
  const f = p.kind === 'oom' ? p.oom : undefined;
  const atLeast =
    f?.allocatedBytes === undefined || f.triedBytes === undefined ? undefined : f.allocatedBytes + f.triedBytes;
  return {
    batch: p.batch,
    ok: false,
    failure: { batch: p.batch, ...(atLeast === undefined ? {} : { peakAtLeastBytes: atLeast }) },
  };
}

/** The limit search's settings and its first probe. */
export interface LimitPlan {
  settings: LimitSearchSettings;
  start: { batch: number; why: string; predicted?: number };
}

/**
 * The limit search from the small probes that passed: the baseline is the largest of them, the usable
 * limit the budget's (after the margin) lowered by a cap the prober states, a rise counts from
 * growthGuide's minRiseBytes (3 x the spread of the small peaks, at least 1% of the room), and the
 * start is startBatch's (1/8 of what the small-B peaks predict, within the free memory).
 */
export function limitPlan(
  records: readonly ProbePoint[],
  o: { limitBytes: number; known: KnownLimits; reading: LimitReading; tolerance: number; cap: number },
): LimitPlan {
  const small: PeakPoint[] = smallPeaks(records)
    .map((r) => ({ batch: r.batch, peakBytes: r.peakBytes as number }))
    .sort((a, b) => a.batch - b.batch);
  const baseline = small.at(-1);
  if (baseline === undefined) throw new Error('a limit search needs a small probe that passed');
  const limitBytes = Math.min(o.limitBytes, o.known.limitBytes ?? Number.POSITIVE_INFINITY);
  const guide = growthGuide(records, limitBytes) as GrowthGuide;
  const { resolutionBytes } = o.reading;
  return {
    settings: {
      limitBytes,
      baseline,
      minRiseBytes: guide.minRiseBytes,
      resolutionBytes,
      tolerance: o.tolerance,
      cap: o.cap,
    },
    start: startBatch({ small, limitBytes, freeBytes: o.known.freeBytes, resolutionBytes, cap: o.cap }),
  };
}

/**
 * The prediction a limit search reports: where the small-B peaks say the limit is met, and why the
 * search starts where it does; `capBytes` when the search runs under a binding cap (bindingCap).
 */
export function limitPrediction(
  plan: LimitPlan,
  o: { limitBytes: number; known: KnownLimits; capBytes?: number },
): Prediction {
  const cap =
    o.capBytes !== undefined
      ? `; the process runs under a cap of ${formatBytes(o.capBytes)} on its allocator, which binds first: the line runs through the allocated peaks`
      : o.known.limitBytes === undefined
        ? ''
        : `; the process runs under a cap of ${formatBytes(o.known.limitBytes)}`;
  return {
    batch: plan.start.predicted,
    start: plan.start.batch,
    trusted: false,
    limitBytes: o.limitBytes,
    note: `limit search from B = ${plan.settings.baseline.batch}: ${plan.start.why}${cap}; each next probe goes where the line through the peaks meets the limit, the one a failure's message states where it states one`,
  };
}

/**
 * A probe as the limit search reads it: a pass with its peak (bounded or measured); a failure with what
 * its OOM message says in the prober's measure (failurePoint); over the budget, a peak at least the one
 * measured (none from a bound: judge counts a bound above the limit as over without knowing the peak).
 */
export function limitTrialOf(p: ProbePoint, peak: PeakMeasure): LimitTrial {
  if (p.ok)
    return {
      batch: p.batch,
      ok: true,
      peakBytes: p.peakBytes as number,
      ...(p.peakAtMost ? { peakAtMost: true } : {}),
    };
  if (p.kind === 'over-budget')
    return {
      batch: p.batch,
      ok: false,
      failure: { batch: p.batch, ...(p.peakAtMost ? {} : { peakAtLeastBytes: p.peakBytes }) },
    };
  return { batch: p.batch, ok: false, failure: failurePoint(p.batch, p.oom, peak) };
}
