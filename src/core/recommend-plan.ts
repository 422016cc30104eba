/**
 * The probe plan of `batchlab recommend`: which short runs to make, sized to cost at most a share
 * (default 5%) of the compute of the sweep it replaces.
 *
 * The reference sweep is `batchlab sweep`'s default: batch sizes 16..1024 (those <= the training set),
 * one epoch each, so its compute (samples processed) is count(B <= N) x N. A sweep to a target usually
 * costs more (several epochs per batch size), so this is the stricter yardstick.
 *
 * Phases and their compute (training samples):
 * - memory: B = 1, 2, 4, 8 for MEMORY_PROBE_STEPS steps each (45 samples);
 * - noise: noiseEvery = 1 at a moderate batch (the user's base batch, halved while the budget allows
 *   fewer than NOISE_MIN_STEPS steps) for up to NOISE_MAX_STEPS steps; gets NOISE_SHARE of what is left;
 * - throughput: B = 16, 64, 256, 1024 (capped by memory and data) for THROUGHPUT_STEPS steps each, the
 *   largest dropped while over the rest of the budget.
 */
import { BatchlabError } from './errors.js';
import { fitStepTime, saturationBatch, type StepTimeFit } from './throughput.js';

/** `batchlab sweep`'s default batch sizes: the sweep a recommendation replaces. */
export const REFERENCE_SWEEP_BATCHES = [16, 32, 64, 128, 256, 512, 1024] as const;
/** The most a probe may cost, as a share of the reference sweep's samples. */
export const DEFAULT_PROBE_SHARE = 0.05;
export const MEMORY_PROBE_BATCHES = [1, 2, 4, 8] as const;
/** Steps per memory probe: the first step allocates; the peak is the max over steps. */
export const MEMORY_PROBE_STEPS = 3;
export const THROUGHPUT_PROBE_BATCHES = [16, 64, 256, 1024] as const;
/** Steps per throughput probe, of which the first THROUGHPUT_WARMUP_EXCLUDED are left out (allocation, caches). */
export const THROUGHPUT_STEPS = 6;
export const THROUGHPUT_WARMUP_EXCLUDED = 2;
/** Noise probe length: at most this many steps (McCandlish et al. measure over a few hundred)... */
export const NOISE_MAX_STEPS = 300;
/** ...and at least this many, or the two windows hold too few steps for a bootstrap. */
export const NOISE_MIN_STEPS = 100;
/** Smallest batch the noise probe halves down to (b = B/2 = 4 samples). */
export const NOISE_MIN_BATCH = 8;
/** Share of the budget left after the memory phase that goes to the noise probe. */
export const NOISE_SHARE = 0.6;

export interface ProbePlan {
  /** Samples of the reference sweep and the probe budget (share x that). */
  sweepSamples: number;
  budgetSamples: number;
  memory: { batchSize: number; steps: number }[];
  /** The early noise probe; undefined with `earlyNoise: false` (recommend --target measures it on a run to the target instead). */
  noise?: { batchSize: number; steps: number };
  throughput: { batchSize: number; steps: number }[];
  /** Planned samples of all phases. */
  samples: number;
}

/** Compute of the reference sweep: one epoch at every default batch size <= N. */
export function referenceSweepSamples(trainCount: number): number {
  return REFERENCE_SWEEP_BATCHES.filter((b) => b <= trainCount).length * trainCount;
}

const samplesOf = (runs: readonly { batchSize: number; steps: number }[]): number =>
  runs.reduce((s, r) => s + r.batchSize * r.steps, 0);

/** Memory probes at 1, 2, 4, 8 (those <= N). */
export function memoryPlan(trainCount: number): { batchSize: number; steps: number }[] {
  return MEMORY_PROBE_BATCHES.filter((b) => b <= trainCount).map((batchSize) => ({
    batchSize,
    steps: MEMORY_PROBE_STEPS,
  }));
}

/** The noise probe within `samples`: the base batch (even, <= ceiling), then powers of two below it until NOISE_MIN_STEPS fit; undefined if none does. */
function noisePlan(samples: number, start: number): { batchSize: number; steps: number } | undefined {
  let b = Math.max(2, 2 * Math.floor(start / 2));
  for (;;) {
    const steps = Math.min(NOISE_MAX_STEPS, Math.floor(samples / b));
    if (steps >= NOISE_MIN_STEPS) return { batchSize: b, steps };
    if (b <= NOISE_MIN_BATCH) return undefined;
    b = Math.max(NOISE_MIN_BATCH, 2 ** (Math.ceil(Math.log2(b)) - 1)); // the power of two below b
  }
}

/** Throughput probes <= the ceiling (plus the ceiling itself below 1024), largest dropped while over `samples`; [] if fewer than 2 fit. */
function throughputPlan(samples: number, ceiling: number): { batchSize: number; steps: number }[] {
  const sizes: number[] = THROUGHPUT_PROBE_BATCHES.filter((b) => b <= ceiling);
  if (ceiling < THROUGHPUT_PROBE_BATCHES.at(-1)! && ceiling > (sizes.at(-1) ?? 0) * 2) sizes.push(ceiling);
  let runs = sizes.map((batchSize) => ({ batchSize, steps: THROUGHPUT_STEPS }));
  while (runs.length > 2 && samplesOf(runs) > samples) runs = runs.slice(0, -1);
  return runs.length >= 2 && samplesOf(runs) <= samples ? runs : [];
}

/** The error for a training set too small to measure a noise scale within the share. */
export class ProbeTooSmallError extends BatchlabError {
  constructor(trainCount: number, share: number) {
    super(
      'BATCHLAB_BAD_ARGUMENT',
      `the training set of ${trainCount} samples is too small to measure a gradient noise scale within ${+(share * 100).toPrecision(3)}% of a sweep's compute: ` +
        `the probe needs ${NOISE_MIN_STEPS} steps at batch ${NOISE_MIN_BATCH} or more, which takes at least ${requiredTrainSamples(share).toLocaleString('en-US')} training samples; ` +
        'use more data, raise --probe-share (e.g. 0.5), or run `batchlab sweep` instead',
    );
  }
}

/** Smallest training set whose probe budget fits the smallest noise probe (bisection on the monotone budget). */
export function requiredTrainSamples(share: number): number {
  const need = (n: number) =>
    NOISE_SHARE * (share * referenceSweepSamples(n) - samplesOf(memoryPlan(n))) >= NOISE_MIN_STEPS * NOISE_MIN_BATCH;
  let lo = 1;
  let hi = 1 << 30;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (need(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Plans the probe for N training samples, a base batch and the memory ceiling (N when no budget). Throws
 * ProbeTooSmallError. With `earlyNoise: false` there is no early noise probe (recommend --target runs one
 * to the target instead) and the throughput phase gets the whole budget after the memory phase.
 */
export function planProbe(opts: {
  trainCount: number;
  baseBatch: number;
  maxBatch: number;
  share?: number;
  earlyNoise?: boolean;
}): ProbePlan {
  const share = opts.share ?? DEFAULT_PROBE_SHARE;
  const sweepSamples = referenceSweepSamples(opts.trainCount);
  const budgetSamples = share * sweepSamples;
  const memory = memoryPlan(opts.trainCount);
  const afterMemory = budgetSamples - samplesOf(memory);
  const ceiling = Math.min(opts.maxBatch, opts.trainCount);
  const noise =
    opts.earlyNoise === false ? undefined : noisePlan(NOISE_SHARE * afterMemory, Math.min(opts.baseBatch, ceiling));
  if (noise === undefined && opts.earlyNoise !== false) throw new ProbeTooSmallError(opts.trainCount, share);
  const noiseRuns = noise === undefined ? [] : [noise];
  const throughput = throughputPlan(afterMemory - samplesOf(noiseRuns), ceiling);
  const plan: ProbePlan = {
    sweepSamples,
    budgetSamples,
    memory,
    throughput,
    samples: samplesOf([...memory, ...noiseRuns, ...throughput]),
  };
  if (noise !== undefined) plan.noise = noise;
  return plan;
}

/**
 * With a target (`recommend --target`), the noise probe trains to it and on for this share of the steps
 * it took, so that B_simple is measured on both sides of the training loss where the target is reached
 * (the segments of noise-at-loss.ts straddle it) and read there instead of extrapolated.
 */
export const TARGET_OVERSHOOT = 0.2;
/** The most a recommendation with a target may cost, as a share of the study it replaces (product.md). */
export const STUDY_SHARE_LIMIT = 0.25;

/**
 * The compute of the study a recommendation replaces, as recommend estimates it before any study: one
 * run to the target at each of the study's batch sizes, E(B) = E_min (1 + B / B_crit) (tradeoff.ts), with
 * E_min from the probe's own run, E_min = E(b) / (1 + b / B_crit). It is the least a study could spend
 * (its LR search runs several trials per batch size, the others cut at the best's steps), so the share
 * printed against it is an upper bound on the real one; `batchlab study` prints the real compute.
 */
export function studyComputeEstimate(o: {
  samplesToTarget: number;
  batchSize: number;
  bCrit: number;
  batchSizes: readonly number[];
}): number {
  const eMin = o.samplesToTarget / (1 + o.batchSize / o.bCrit);
  return o.batchSizes.reduce((sum, b) => sum + eMin * (1 + b / o.bCrit), 0);
}

/** Two measurement windows after the initial transient: skip the first sixth, then two equal halves (1-based, inclusive). */
export function noiseWindows(fromStep: number, steps: number): [number, number][] {
  const skip = Math.max(1, Math.round(steps / 6));
  const start = fromStep + skip;
  const end = fromStep + steps - 1;
  const mid = Math.floor((start + end) / 2);
  return [
    [start, mid],
    [mid + 1, end],
  ];
}

/** The step-time curve of the throughput phase. */
export interface ThroughputMeasurement {
  points: { batchSize: number; stepMs: number; samplesPerSec: number; peakBytes: number }[];
  fit?: Pick<StepTimeFit, 'alphaMs' | 'betaMsPerSample' | 'r2'>;
  saturationBatch?: number;
  warmupStepsExcluded: number;
}

/** Fits over the throughput points (2+ batch sizes), else the points alone. */
export function throughputFits(points: ThroughputMeasurement['points']): ThroughputMeasurement {
  const base = { points, warmupStepsExcluded: THROUGHPUT_WARMUP_EXCLUDED };
  if (points.length < 2) return base;
  const tp = points.map((p) => ({ batchSize: p.batchSize, stepMs: p.stepMs }));
  const f = fitStepTime(tp);
  return {
    ...base,
    fit: { alphaMs: f.alphaMs, betaMsPerSample: f.betaMsPerSample, r2: f.r2 },
    saturationBatch: saturationBatch(tp)?.batchSize,
  };
}
