/**
 * Turns one run's measured steps into its RunSummary: throughput with warm-up excluded, loss noise,
 * gradient noise scale with a confidence interval, the generalization gap, and the intervals of the run's
 * own measurements (computed here, where the per-step rows are at hand: a sweep's summary sees only these
 * summaries).
 */
import { accuracyInterval, lossNoiseInterval, type MeasuredInterval, medianStepTimeInterval } from './intervals.js';
import { noiseScaleSeries, noiseScaleWithCI } from './noise.js';
import { createRng, deriveSeed } from './random.js';
import type { SplitMetrics, TrainResult, TrainTarget } from './run.js';
import { lossNoise } from './stats.js';
import type { NoiseSummary, RunIntervals, RunSummary, RunTiming } from './summary.js';
import { stepTimeStats } from './throughput.js';
import type { StepRecord } from './types.js';

/** Steps left out of the throughput statistics: the first few (allocation, kernel set-up). */
export const WARMUP_STEPS_EXCLUDED = 5;
/** EMA weight for the loss-noise residuals: about a 20-step memory. */
export const LOSS_NOISE_ALPHA = 0.05;
/** Confidence of the B_simple interval. */
export const NOISE_CONFIDENCE = 0.95;
/** Points kept of the B_simple series for charts. */
const NOISE_SERIES_POINTS = 200;

/** What the summary needs to know that the measured steps do not say. */
export interface RunFacts
  extends Pick<RunSummary, 'batchSize' | 'microBatchSize' | 'accumSteps' | 'seed' | 'lr' | 'backend'> {
  target?: TrainTarget;
  vmHwmBytes?: number;
  /** How the run was timed, when it shared the machine with other runs. */
  timing?: RunTiming;
}

export function summarizeRun(result: TrainResult, facts: RunFacts): RunSummary {
  const regular = result.steps.filter(
    (s) => s.accumSteps === facts.accumSteps && s.batchSize === facts.batchSize && Number.isFinite(s.stepMs),
  );
  const warmupExcluded = Math.min(WARMUP_STEPS_EXCLUDED, Math.max(0, regular.length - 1));
  const times =
    regular.length > 0
      ? stepTimeStats(
          regular.map((s) => s.stepMs),
          { warmupSteps: warmupExcluded },
        )
      : undefined;
  const { train, test } = result.final;
  return {
    batchSize: facts.batchSize,
    microBatchSize: facts.microBatchSize,
    accumSteps: facts.accumSteps,
    seed: facts.seed,
    lr: facts.lr,
    backend: facts.backend,
    steps: result.steps.length,
    samples: result.samples,
    wallMs: result.wallMs,
    trainMs: result.trainMs,
    stepMs: { median: times?.medianMs ?? NaN, p90: times?.p90Ms ?? NaN, warmupExcluded },
    samplesPerSec: times ? (facts.batchSize * 1000) / times.medianMs : NaN,
    peakBytes: result.peakBytes,
    vmHwmBytes: facts.vmHwmBytes,
    lossNoise: runLossNoise(result.steps),
    noise: summarizeNoise(result.steps, facts.seed),
    final: { train, test },
    gap: {
      accuracy:
        train.accuracy !== undefined && test.accuracy !== undefined ? train.accuracy - test.accuracy : undefined,
      loss: test.loss - train.loss,
    },
    distanceFromInit: result.distanceFromInit,
    sharpness: result.sharpness,
    ...(result.phasesMs ? { phasesMs: result.phasesMs } : {}),
    ...(facts.timing ? { timing: facts.timing } : {}),
    intervals: runIntervals({
      stepMs: regular.map((s) => s.stepMs),
      warmupSteps: warmupExcluded,
      losses: lossNoiseLosses(result.steps),
      test,
      seed: facts.seed,
    }),
    target: facts.target && {
      ...facts.target,
      reached: result.reachedTarget !== undefined,
      steps: result.reachedTarget?.step,
      samples: result.reachedTarget?.samples,
      wallMs: result.reachedTarget?.wallMs,
    },
  };
}

/**
 * Standard deviation of the per-step loss around its EMA, over the steps after the first 10% (where the
 * loss falls fastest and the trend, not the noise, would dominate the residuals). NaN when a step has no
 * finite loss: a command need not report one (docs/protocol.md, section 2), e.g. a memory probe.
 */
export function runLossNoise(steps: readonly StepRecord[]): number {
  const losses = lossNoiseLosses(steps);
  return losses.length >= MIN_LOSS_NOISE_STEPS && losses.every(Number.isFinite)
    ? lossNoise(losses, LOSS_NOISE_ALPHA)
    : NaN;
}

/** Fewest steps (after the first 10%) the loss noise is measured on. */
const MIN_LOSS_NOISE_STEPS = 3;

/** The losses the loss noise is measured on: every step after the first 10%. */
function lossNoiseLosses(steps: readonly StepRecord[]): number[] {
  return steps.slice(Math.floor(steps.length / 10)).map((s) => s.loss);
}

/**
 * The run's own intervals (FINDING_CONFIDENCE, 95%): Wilson for the held-out accuracy when the held-out size
 * is known; circular block bootstrap (seeded from the run's seed, so a summary is reproducible) for the
 * median step time after the warm-up and for the loss noise. An interval that the steps cannot bound (too
 * few blocks: infinite ends) is left out rather than stored as a number it is not.
 */
export function runIntervals(input: {
  stepMs: readonly number[];
  warmupSteps: number;
  losses: readonly number[];
  test: SplitMetrics;
  seed: number;
}): RunIntervals {
  const { test } = input;
  const out: RunIntervals = {};
  if (test.accuracy !== undefined && Number.isFinite(test.accuracy) && (test.count ?? 0) >= 1)
    out.testAccuracy = accuracyInterval(test.accuracy, test.count as number);
  if (input.stepMs.length - input.warmupSteps >= 2) {
    const rng = createRng(deriveSeed(input.seed, 'step-time-interval'));
    out.stepMs = bounded(medianStepTimeInterval(input.stepMs, { warmupSteps: input.warmupSteps, rng }));
  }
  if (input.losses.length >= MIN_LOSS_NOISE_STEPS && input.losses.every(Number.isFinite)) {
    const rng = createRng(deriveSeed(input.seed, 'loss-noise-interval'));
    out.lossNoise = bounded(lossNoiseInterval(input.losses, { alpha: LOSS_NOISE_ALPHA, rng }));
  }
  return out;
}

function bounded(interval: MeasuredInterval): MeasuredInterval | undefined {
  return Number.isFinite(interval.low) && Number.isFinite(interval.high) ? interval : undefined;
}

/** B_simple over the whole run with a window-bootstrap CI, and its smoothed series for charts. */
export function summarizeNoise(steps: readonly StepRecord[], seed: number): NoiseSummary {
  const est = noiseScaleWithCI(steps, { confidence: NOISE_CONFIDENCE, rng: createRng(seed ^ 0xb00) });
  const points = noiseScaleSeries(steps);
  const every = Math.max(1, Math.ceil(points.length / NOISE_SERIES_POINTS));
  const series = points
    .filter((p, i) => p.bSimple !== undefined && (i % every === 0 || i === points.length - 1))
    .map((p) => [p.step, p.bSimple!] as [number, number]);
  const measured = steps.filter((s) => s.accumSteps > 1);
  return {
    bSimple: est.bSimple,
    ciLow: est.low,
    ciHigh: est.high === Infinity ? undefined : est.high,
    confidence: NOISE_CONFIDENCE,
    fromStep: measured[0]?.step ?? 0,
    toStep: measured.at(-1)?.step ?? 0,
    measuredSteps: est.steps,
    status: est.status,
    series,
  };
}
