/**
 * Checks of a run's settings, made before anything is trained or written to the store, so that a bad
 * value gets one line naming it (exit 2) instead of a NaN, a stack overflow or a run that silently does
 * something else. The TF.js trainer checks every run with checkRunSettings; experiments check their base
 * settings (and, for a sweep, every run's length against the warm-up) before they create a row.
 */
import { planAccumulation } from './batching.js';
import { BatchSizeError, UnknownNameError, UsageError } from './errors.js';
import { LR_SCHEDULES } from './lr.js';
import { assertOptimizerName, type OptimizerConfig } from './run.js';

/**
 * The most hidden layers of an MLP (`--hidden`). The layers are built and traced one inside the other,
 * so thousands of them overflowed the stack; 100 is far beyond what batch-size studies train.
 */
export const MAX_HIDDEN_LAYERS = 100;
/** The widest hidden layer (`--hidden`): 65,536 units (784 x 65,536 weights are 205 MB already). */
export const MAX_HIDDEN_WIDTH = 65_536;

/** The fields of a run's settings these checks read (the TF.js trainer's TrainConfig has them all). */
export interface RunSettingsToCheck {
  batchSize: number;
  accumSteps: number;
  /** Peak learning rate, after warm-up. */
  lr: number;
  optimizer: OptimizerConfig;
  schedule: string;
  warmupSteps: number;
  seed: number;
  evalEvery: number;
  noiseEvery?: number;
  model: { name: string; hidden?: readonly number[] };
  sharpness?: { batchSamples: number; iterations: number };
}

/** Throws a typed error (exit 2) naming the first bad value of `s`. */
export function checkRunSettings(s: RunSettingsToCheck): void {
  planAccumulation({ batchSize: s.batchSize, accumSteps: s.accumSteps });
  checkLearningRate(s.lr, '--lr');
  checkOptimizer(s.optimizer);
  checkSchedule(s);
  checkHidden(s.model.hidden);
  if (!(Number.isSafeInteger(s.seed) && s.seed >= 0))
    throw new UsageError(`seed must be an integer >= 0, got ${s.seed}; pass e.g. --seed 1`);
  checkCount(s.evalEvery, '--eval-every');
  if (s.noiseEvery !== undefined) checkCount(s.noiseEvery, '--noise-every');
  if (s.sharpness !== undefined) {
    checkPositiveInt(s.sharpness.batchSamples, 'sharpness batch samples');
    checkPositiveInt(s.sharpness.iterations, '--sharpness-iterations');
  }
}

/** A learning rate is a finite number > 0 (0 trains nothing; a negative one climbs the loss). */
export function checkLearningRate(lr: number, flag: string): void {
  if (!(Number.isFinite(lr) && lr > 0))
    throw new UsageError(`${flag} must be a positive number, got ${lr}; pass e.g. ${flag} 0.05`);
}

/**
 * Optimizer hyper-parameters: momentum and Adam's betas in [0, 1) (at 1 the running average never
 * forgets, and the step grows without bound), epsilon > 0.
 */
export function checkOptimizer(o: OptimizerConfig): void {
  assertOptimizerName(o.name);
  if (o.momentum !== undefined && !(o.momentum >= 0 && o.momentum < 1))
    throw new UsageError(`--momentum must be in [0, 1), got ${o.momentum}; pass e.g. --momentum 0.9`);
  for (const [value, what] of [
    [o.beta1, 'adam beta1'],
    [o.beta2, 'adam beta2'],
  ] as const) {
    if (value !== undefined && !(value >= 0 && value < 1))
      throw new UsageError(`${what} must be in [0, 1), got ${value}`);
  }
  if (o.epsilon !== undefined && !(Number.isFinite(o.epsilon) && o.epsilon > 0))
    throw new UsageError(`adam epsilon must be a positive number, got ${o.epsilon}`);
}

/** The schedule's name and warm-up; lrAt (lr.ts) checks the rest once the run's length is known. */
function checkSchedule(s: RunSettingsToCheck): void {
  if (!(LR_SCHEDULES as readonly string[]).includes(s.schedule))
    throw new UnknownNameError('BATCHLAB_UNKNOWN_SCHEDULE', 'schedule', s.schedule, LR_SCHEDULES);
  checkCount(s.warmupSteps, '--warmup-steps');
}

/** Hidden widths: at most MAX_HIDDEN_LAYERS layers, each a positive integer up to MAX_HIDDEN_WIDTH. */
export function checkHidden(hidden: readonly number[] | undefined): void {
  if (hidden === undefined) return;
  if (hidden.length > MAX_HIDDEN_LAYERS)
    throw new UsageError(
      `--hidden gives ${hidden.length} layers; at most ${MAX_HIDDEN_LAYERS} are allowed, e.g. --hidden 256,128`,
    );
  for (const width of hidden) {
    if (!(Number.isSafeInteger(width) && width >= 1 && width <= MAX_HIDDEN_WIDTH))
      throw new UsageError(
        `--hidden width must be an integer from 1 to ${MAX_HIDDEN_WIDTH}, got ${width}; pass e.g. --hidden 256,128`,
      );
  }
}

/** The most weights one layer may hold: TF.js sizes a tensor with a 32-bit integer. */
export const MAX_LAYER_WEIGHTS = 2 ** 31 - 1;

/**
 * The dense layers of an MLP from `widths` = [inputs, ...hidden, outputs]: each kernel (in x out weights)
 * must fit in one tensor; a larger one failed deep inside TF.js with "Invalid typed array length".
 */
export function checkLayerWeights(widths: readonly number[]): void {
  for (let i = 1; i < widths.length; i++) {
    const weights = widths[i - 1]! * widths[i]!;
    if (weights > MAX_LAYER_WEIGHTS)
      throw new UsageError(
        `the layer from ${widths[i - 1]} to ${widths[i]} units would hold ${weights} weights, more than one tensor can (${MAX_LAYER_WEIGHTS}); pass narrower --hidden widths`,
      );
  }
}

/**
 * A warm-up must end before the run does: `totalSteps` is the run's length (its budget's cap). With
 * warmupSteps >= totalSteps the LR never reaches the rate asked for.
 */
export function checkWarmup(warmupSteps: number, totalSteps: number, batchSize: number): void {
  if (warmupSteps > 0 && warmupSteps >= totalSteps)
    throw new UsageError(
      `--warmup-steps ${warmupSteps} is not shorter than the run at batch ${batchSize} (${totalSteps} steps), so its LR would never reach the peak; pass --warmup-steps ${Math.max(0, totalSteps - 1)} or less, or a longer budget`,
    );
}

function checkCount(n: number, what: string): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new UsageError(`${what} must be an integer >= 0, got ${n}`);
}

function checkPositiveInt(n: number, what: string): void {
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new UsageError(`${what} must be a positive integer, got ${n}`);
}

/** A batch size is a positive integer no larger than the training set. */
export function checkBatchFits(batchSize: number, trainCount: number, flag: string): void {
  if (batchSize > trainCount)
    throw new BatchSizeError(
      `batch size ${batchSize} is larger than the training set (${trainCount} samples); pass ${flag} ${trainCount} or less`,
    );
}
