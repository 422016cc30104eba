/**
 * One training run from a plain config: load the data, pick the backend, build the schedule, train.
 * The CLI's `train` command and a sweep's child processes both call this.
 */
import { describePlan, planAccumulation, stepsPerEpoch, type LastBatchPolicy } from '../core/batching.js';
import { BatchSizeError, UsageError } from '../core/errors.js';
import { lrAt, type LrScheduleKind } from '../core/lr.js';
import { loadDataset } from '../data/registry.js';
import type { Dataset, LoadOptions } from '../data/types.js';
import { selectBackend, type BackendChoice } from '../engine/backends/select.js';
import type { TrainBudget, TrainHooks, TrainResult, TrainTarget } from '../engine/trainer.js';
import type { OptimizerConfig } from '../engine/tfjs/optimizers.js';
import { trainTfjs } from '../engine/tfjs/train.js';
import { modelHasConv, type ModelSpec } from '../models/index.js';

export interface TrainConfig {
  dataset: string;
  /** Loader options (limit, file, data seed, ...). */
  datasetOptions: LoadOptions;
  model: ModelSpec;
  /** Effective batch B. */
  batchSize: number;
  /** k; the micro-batch is B / k. */
  accumSteps: number;
  budget: TrainBudget;
  lastBatch: LastBatchPolicy;
  optimizer: OptimizerConfig;
  /** Peak learning rate (reached after warm-up). */
  lr: number;
  schedule: LrScheduleKind;
  warmupSteps: number;
  /** 'step' schedule: decay every this many steps by `lrGamma`. */
  lrStepEvery?: number;
  lrGamma?: number;
  seed: number;
  /** Force a TF.js backend; otherwise the best available one. */
  backend?: string;
  evalEvery: number;
  evalTrainLimit: number;
  /** Held-out samples for the periodic evaluations (the final one uses all). */
  evalTestLimit?: number;
  target?: TrainTarget;
  /** Measure the gradient noise scale every N steps (see TrainSettings.noiseEvery). */
  noiseEvery?: number;
  /** First step at which noiseEvery applies (default 1). */
  noiseFromStep?: number;
  /** Estimate the top Hessian eigenvalue at the end. */
  sharpness?: { batchSamples: number; iterations: number };
}

/** What a run needs to print before it starts. */
export interface RunContext {
  data: Dataset;
  backend: BackendChoice;
  /** "64 = 16 x 4": effective batch = micro-batch x accumulation steps. */
  plan: string;
  /** Steps the budget allows (an upper bound when a target may stop the run earlier). */
  totalSteps: number;
}

/** Steps the budget allows: the smallest of its limits. */
export function budgetSteps(
  budget: TrainBudget,
  trainCount: number,
  batchSize: number,
  policy: LastBatchPolicy,
): number {
  const perEpoch = stepsPerEpoch(trainCount, batchSize, policy);
  const limits = [
    budget.epochs !== undefined ? budget.epochs * perEpoch : Infinity,
    budget.maxSteps ?? Infinity,
    budget.maxSamples !== undefined ? Math.ceil(budget.maxSamples / batchSize) : Infinity,
  ];
  const steps = Math.min(...limits);
  if (!Number.isFinite(steps))
    throw new UsageError('no training budget given; pass --epochs N, --steps N or --samples N');
  return steps;
}

/** Loads the data and picks the backend; checks the batch against the data. */
export async function prepareRun(config: TrainConfig, data?: Dataset): Promise<RunContext> {
  const plan = planAccumulation({ batchSize: config.batchSize, accumSteps: config.accumSteps });
  // The data seed is separate from the run seed, so runs with different seeds share one held-out split.
  const loaded = data ?? loadDataset(config.dataset, config.datasetOptions);
  if (plan.batchSize > loaded.train.count) {
    throw new BatchSizeError(
      `batch size ${plan.batchSize} is larger than the training set of ${config.dataset} (${loaded.train.count} samples); pass --batch-size ${loaded.train.count} or less`,
    );
  }
  const backend = await selectBackend({ requested: config.backend, needsConv: modelHasConv(config.model) });
  const totalSteps = budgetSteps(config.budget, loaded.train.count, plan.batchSize, config.lastBatch);
  return { data: loaded, backend, plan: describePlan(plan), totalSteps };
}

/** Trains with `config` on a prepared context. */
export async function runTraining(config: TrainConfig, ctx: RunContext, hooks: TrainHooks = {}): Promise<TrainResult> {
  const schedule = {
    kind: config.schedule,
    baseLr: config.lr,
    warmupSteps: config.warmupSteps,
    totalSteps: Math.max(ctx.totalSteps, config.warmupSteps + 1),
    stepEvery: config.lrStepEvery,
    gamma: config.lrGamma,
  };
  lrAt(1, schedule); // validates the schedule before any work starts
  return trainTfjs({
    data: ctx.data,
    model: config.model,
    settings: {
      batchSize: config.batchSize,
      accumSteps: config.accumSteps,
      budget: config.budget,
      lastBatch: config.lastBatch,
      seed: config.seed,
      optimizer: config.optimizer,
      lrAt: (step) => lrAt(step, schedule),
      evalEvery: config.evalEvery,
      evalTrainLimit: config.evalTrainLimit,
      evalTestLimit: config.evalTestLimit,
      target: config.target,
      noiseEvery: config.noiseEvery,
      noiseFromStep: config.noiseFromStep,
      sharpness: config.sharpness,
    },
    hooks,
  });
}
