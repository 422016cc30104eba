/**
 * The gradient noise scale over windows of steps (McCandlish et al. 2018, App. A): B_simple with a
 * window-bootstrap confidence interval per window (noise.noiseScaleWithCI), the window an estimate is
 * taken from, and the checks of a noise measurement. The runs are lab/noise's.
 *
 * B_simple grows as the loss falls (McCandlish et al. 2018, Sec. 3), so every value says the steps it
 * covers; `batchlab noise --at-step N` re-measures it later in training.
 */
import { UsageError } from './errors.js';
import { noiseScaleWithCI, type NoiseStatus } from './noise.js';
import { createRng } from './random.js';
import type { StepRecord } from './types.js';

/** Confidence of the B_simple intervals. */
export const NOISE_PROBE_CONFIDENCE = 0.95;
/** Bootstrap windows per measurement window (contiguous blocks of steps keep correlated steps together). */
export const NOISE_BOOTSTRAP_WINDOWS = 10;

/** B_simple over one window of steps. */
export interface NoiseWindow {
  /** First and last step of the window (1-based, inclusive). */
  fromStep: number;
  toStep: number;
  bSimple?: number;
  ciLow?: number;
  /** Undefined when the interval is unbounded above (|G|^2 not resolved in some resamples). */
  ciHigh?: number;
  confidence: number;
  status: NoiseStatus;
  /** Steps in the window that carried two batch sizes. */
  measuredSteps: number;
}

/** B_simple with its CI over each window of `steps`. */
export function noiseOverWindows(
  steps: readonly StepRecord[],
  windows: readonly [number, number][],
  seed: number,
): NoiseWindow[] {
  return windows.map(([fromStep, toStep], i) => {
    const inWindow = steps.filter((s) => s.step >= fromStep && s.step <= toStep);
    const est = noiseScaleWithCI(inWindow, {
      confidence: NOISE_PROBE_CONFIDENCE,
      windows: NOISE_BOOTSTRAP_WINDOWS,
      rng: createRng((seed + 1) * 7919 + i),
    });
    return {
      fromStep,
      toStep,
      bSimple: est.bSimple,
      ciLow: est.low,
      ciHigh: est.high !== undefined && Number.isFinite(est.high) ? est.high : undefined,
      confidence: NOISE_PROBE_CONFIDENCE,
      status: est.status,
      measuredSteps: est.steps,
    };
  });
}

/** The window B_simple is taken from: the latest one with an estimate (B_simple grows during training). */
export function latestEstimate(windows: readonly NoiseWindow[]): NoiseWindow | undefined {
  return [...windows].reverse().find((w) => w.status === 'ok' && w.bSimple !== undefined && w.ciLow !== undefined);
}

/** The command that re-measures B_simple later in training. */
export function remeasureCommand(o: {
  dataset: string;
  model: string;
  batchSize: number;
  atStep: number;
  window: number;
}): string {
  return `batchlab noise --dataset ${o.dataset} --model ${o.model} --batch-size ${o.batchSize} --at-step ${o.atStep} --window ${o.window}`;
}

/** Checks the batch (even, >= 2, <= the training set) and the window (enough steps for the bootstrap). */
export function checkNoiseOptions(o: { batchSize: number; window: number }, trainCount: number): void {
  if (o.batchSize < 2 || o.batchSize % 2 !== 0) {
    throw new UsageError(
      `the noise scale splits each batch in two halves, so --batch-size must be even and >= 2, got ${o.batchSize}; pass e.g. --batch-size 64`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  if (o.batchSize > trainCount) {
    throw new UsageError(
      `--batch-size ${o.batchSize} is larger than the training set (${trainCount} samples); a noise scale needs batches of at most ${trainCount}`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  if (o.window < NOISE_BOOTSTRAP_WINDOWS * 2) {
    throw new UsageError(
      `--window must be at least ${NOISE_BOOTSTRAP_WINDOWS * 2} steps for the bootstrap CI, got ${o.window}; pass e.g. --window 200`,
    );
  }
}
