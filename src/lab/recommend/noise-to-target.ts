/**
 * The noise probe of `recommend --target`: B_simple where the target is reached, the critical batch a
 * study would measure (McCandlish et al. 2018, arXiv 1812.06162: B_crit ~ B_noise ~ B_simple, and B_simple
 * grows as the loss falls, so it must be read at the loss of the target, not early in training).
 *
 * One run at batch b trains to the target and on for TARGET_OVERSHOOT of its steps (at least two segments'
 * worth, 2 MIN_SEGMENT_STEPS, for a target reached in few steps), every step computed
 * as two half-batches (the same update), so each step carries |g|^2 at b/2 and b. Then:
 * 1. the target in training-loss terms: the mean training loss around the step where the held-out target
 *    was reached (noise-at-loss.trainLossAtStep; an `acc:` target is translated into a loss this way);
 * 2. B_simple along training in segments of at least MIN_SEGMENT_STEPS steps, each tied to its mean
 *    training loss (noiseAlongTraining): up to CHART_SEGMENTS over the whole run for the chart, and up to 8
 *    over the steps from NEAR_TARGET_FROM of the way to the target to the end, for the prediction;
 * 3. B_simple at the target loss (noiseAtLoss) from the latter: 'measured' when they lie on both sides of
 *    its loss (the overshoot is there for that), else 'extrapolated' along B_simple ~ loss^k fitted to
 *    them, with the interval.
 * Its compute is about one run to the target (x 1.2): the study it replaces runs several at every batch size.
 */
import { UsageError } from '../../core/errors.js';
import {
  DEFAULT_NOISE_SEGMENTS,
  type NoiseAtLoss,
  type NoiseAtTarget,
  noiseAlongTraining,
  noiseAtLoss,
  trainLossAtStep,
} from '../../core/noise-at-loss.js';
import { NOISE_BOOTSTRAP_WINDOWS, NOISE_PROBE_CONFIDENCE } from '../../core/noise-windows.js';
import { createRng } from '../../core/random.js';
import { TARGET_OVERSHOOT } from '../../core/recommend-plan.js';
import type { TrainTarget } from '../../core/run.js';
import {
  DEFAULT_STUDY_EVAL_SAMPLES,
  DEFAULT_STUDY_EVALS_PER_EPOCH,
  studyEvalEvery,
  studyMaxSteps,
} from '../../core/study-plan.js';
import type { StepRecord } from '../../core/types.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { probeConfig } from '../run/probe.js';
import { type ProbeContext, runStoredProbe } from '../run/stored-probe.js';

/** Fewest steps in a segment: its bootstrap cuts it into NOISE_BOOTSTRAP_WINDOWS windows of at least 2 steps. */
export const MIN_SEGMENT_STEPS = 2 * NOISE_BOOTSTRAP_WINDOWS;

/** Segments of the whole run for the chart of B_simple against the loss: up to 16. */
export const CHART_SEGMENTS = 2 * DEFAULT_NOISE_SEGMENTS;
/**
 * The prediction reads segments of the steps from this share of the way to the target on: short ones
 * (up to 8) where the loss is near the target's, so B_simple, a ratio of means, is not pulled toward the
 * larger |G|^2 earlier in a long segment, and the transient of early training is left to the chart.
 */
export const NEAR_TARGET_FROM = 0.5;

/** B_simple in up to `most` segments of at least MIN_SEGMENT_STEPS steps; [] when 2 do not fit. */
function segmentsOf(steps: readonly StepRecord[], most: number, seed: number): NoiseAtLoss[] {
  const count = Math.min(most, Math.floor(steps.length / MIN_SEGMENT_STEPS));
  if (count < 2) return [];
  return noiseAlongTraining(steps, {
    rng: createRng((seed + 1) * 7919),
    segments: count,
    windows: NOISE_BOOTSTRAP_WINDOWS,
    confidence: NOISE_PROBE_CONFIDENCE,
  });
}

/** What the probe to the target measured. */
export interface NoiseToTarget {
  batchSize: number;
  lr: number;
  runId: number;
  /** Training samples the run processed, and its wall time. */
  samples: number;
  wallMs: number;
  /** Where the held-out target was reached (undefined: not within the budget). */
  reached?: { step: number; samples: number };
  /** The training loss where the target was reached. */
  targetLoss?: number;
  /** B_simple along the whole run against the training loss (the chart). */
  segments: NoiseAtLoss[];
  /** The segments the prediction reads: from NEAR_TARGET_FROM of the way to the target to the end of the run. */
  nearSegments: NoiseAtLoss[];
  /** B_simple at the target loss, 'measured' or 'extrapolated', with its interval. */
  atTarget?: NoiseAtTarget;
  /** Why there is no prediction, when there is none. */
  note?: string;
}

/** Options of measureNoiseToTarget. */
export interface NoiseToTargetOptions {
  base: TrainConfig;
  batchSize: number;
  lr: number;
  target: TrainTarget;
  /** Training-set size (evaluation interval, budget). */
  trainCount: number;
  /** Give up after this many epochs without reaching the target. */
  maxEpochs: number;
}

/** The run's config: the target with the overshoot, every step split in halves, evaluated as a study's trials are. */
export function noiseToTargetConfig(o: NoiseToTargetOptions): { config: TrainConfig; maxSteps: number } {
  const plan = { trainCount: o.trainCount, evalsPerEpoch: DEFAULT_STUDY_EVALS_PER_EPOCH, maxEpochs: o.maxEpochs };
  const maxSteps = studyMaxSteps(plan, o.batchSize);
  const config = probeConfig(o.base, o.batchSize, maxSteps, {
    lr: o.lr,
    lastBatch: 'drop',
    noiseEvery: 1,
    noiseFromStep: 1,
    target: o.target,
    targetOvershoot: TARGET_OVERSHOOT,
    targetOvershootMinSteps: 2 * MIN_SEGMENT_STEPS,
    evalEvery: studyEvalEvery(plan, o.batchSize),
    evalTestLimit: DEFAULT_STUDY_EVAL_SAMPLES,
  });
  return { config, maxSteps };
}

/** Trains to the target measuring the noise scale all the way, and reads B_simple at the target's training loss. */
export async function measureNoiseToTarget(ctx: ProbeContext, o: NoiseToTargetOptions): Promise<NoiseToTarget> {
  if (o.batchSize < 2 || o.batchSize % 2 !== 0) {
    throw new UsageError(
      `the noise probe splits each batch in two halves, so its batch must be even, got ${o.batchSize}; pass an even --base-batch`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  const { config, maxSteps } = noiseToTargetConfig(o);
  const started = performance.now();
  const run = await runStoredProbe(ctx, `probe:noise-to-target:b=${o.batchSize}`, config, maxSteps);
  const target = run.summary.target;
  const reached =
    target?.reached && target.steps !== undefined && target.samples !== undefined
      ? { step: target.steps, samples: target.samples }
      : undefined;
  const out: NoiseToTarget = {
    batchSize: o.batchSize,
    lr: o.lr,
    runId: run.runId,
    samples: run.summary.samples,
    wallMs: performance.now() - started,
    segments: segmentsOf(run.steps, CHART_SEGMENTS, o.base.seed),
    nearSegments: [],
  };
  if (reached === undefined) {
    out.note = `the noise run did not reach the target within ${o.maxEpochs} epochs at LR ${+o.lr.toPrecision(4)}: no training loss to read B_simple at; raise --max-epochs or check the target`;
    return out;
  }
  return { ...out, reached, ...readAtTarget(run.steps, reached.step, o.base.seed) };
}

/**
 * The reading at the target: its training loss, the segments from half way to it on, and B_simple at that
 * loss (noiseAtLoss), or a note saying why there is none.
 */
function readAtTarget(
  steps: readonly StepRecord[],
  targetStep: number,
  seed: number,
): Pick<NoiseToTarget, 'nearSegments' | 'targetLoss' | 'atTarget' | 'note'> {
  const nearSegments = segmentsOf(
    steps.filter((s) => s.step >= NEAR_TARGET_FROM * targetStep),
    DEFAULT_NOISE_SEGMENTS,
    seed,
  );
  const targetLoss = trainLossAtStep(steps, targetStep);
  if (targetLoss === undefined) {
    return {
      nearSegments,
      note: `no training loss to read at step ${targetStep}: too early or not finite; pass a smaller --base-batch`,
    };
  }
  if (nearSegments.length < 2) {
    return {
      nearSegments,
      targetLoss,
      note: `the run reached the target in ${targetStep} steps, too few for B_simple in 2 segments of ${MIN_SEGMENT_STEPS} steps near it; pass a smaller --base-batch`,
    };
  }
  try {
    return {
      nearSegments,
      targetLoss,
      atTarget: noiseAtLoss(nearSegments, targetLoss, { confidence: NOISE_PROBE_CONFIDENCE }),
    };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return { nearSegments, targetLoss, note: err.message };
  }
}
