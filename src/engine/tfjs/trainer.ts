/**
 * The TF.js trainer: one training run from a plain, serializable config (load the data, pick the
 * backend, build the schedule, train with our own loop in train.ts). The CLI's `train` command runs it
 * in process; sweeps and probes run it in a child process of their own (lab/run/worker.ts).
 */
import { readFileSync } from 'node:fs';
import {
  type AccumulationPlan,
  describePlan,
  planAccumulation,
  stepsPerEpoch,
  stepsWithinBudget,
  type LastBatchPolicy,
} from '../../core/batching.js';
import { type BatchSchedule, type PhaseSpan, phaseSpans, spanAt } from '../../core/batch-schedule.js';
import { BatchSizeError, DataFileError, UsageError } from '../../core/errors.js';
import { lrAt, type LrRule, type LrScheduleKind, type LrScheduleOptions } from '../../core/lr.js';
import { checkLayerWeights, checkRunSettings, checkWarmup } from '../../core/run-checks.js';
import { accumulationPlan } from '../../core/search.js';
import type { OptimizerConfig, TrainBudget, TrainResult, TrainTarget } from '../../core/run.js';
import { loadDataset } from '../../data/registry.js';
import type { Dataset, LoadOptions } from '../../data/types.js';
import { DEFAULT_HIDDEN, modelHasConv, type ModelSpec, outputUnits } from '../../models/index.js';
import { selectBackend, type BackendChoice } from '../backends/select.js';
import type { RunPlan, Trainer, TrainHooks } from '../trainer.js';
import { type DataTensors, trainTfjs } from './train.js';

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
  /** Train on past the target for this fraction of its steps (TrainSettings.targetOvershoot); default 0. */
  targetOvershoot?: number;
  /** At least this many steps past the target (TrainSettings.targetOvershootMinSteps); default 0. */
  targetOvershootMinSteps?: number;
  /** Measure the gradient noise scale every N steps (see TrainSettings.noiseEvery). */
  noiseEvery?: number;
  /** First step at which noiseEvery applies (default 1). */
  noiseFromStep?: number;
  /** Estimate the top Hessian eigenvalue at the end. */
  sharpness?: { batchSamples: number; iterations: number };
  /**
   * A batch-size schedule (core/batch-schedule.ts): the batch of each step, its LR by `lrRule` from `lr`
   * at `baseBatch`, each batch split into micro-batches of at most `maxMicroBatch` (default: none).
   * `batchSize` and `accumSteps` are then those of the first phase.
   */
  batchSchedule?: { schedule: BatchSchedule; lrRule: LrRule; baseBatch: number; maxMicroBatch?: number };
  /** Resume from the checkpoint file `resumeFrom`; save one of the final state to `saveTo` (tfjs/checkpoint.ts). */
  checkpoint?: { resumeFrom?: string; saveTo?: string };
}

/**
 * A config with the command line's defaults for what is not given: batch 64 without accumulation, one
 * epoch, SGD with momentum at LR 0.05, a constant schedule, seed 1, evaluation at the end only (the
 * final train metrics on up to 10,000 samples), no noise measurement, sharpness or target.
 */
export function trainConfig(o: Pick<TrainConfig, 'dataset' | 'model'> & Partial<TrainConfig>): TrainConfig {
  return {
    datasetOptions: {},
    batchSize: 64,
    accumSteps: 1,
    budget: { epochs: 1 },
    lastBatch: 'keep',
    optimizer: { name: 'momentum' },
    lr: 0.05,
    schedule: 'constant',
    warmupSteps: 0,
    seed: 1,
    evalEvery: 0,
    evalTrainLimit: 10_000,
    ...o,
  };
}

/** What a TF.js run needs to print before it starts; `backend` is the backend's name. */
export interface RunContext extends RunPlan {
  data: Dataset;
  /** The backend and why it was chosen. */
  backendChoice: BackendChoice;
  /** A schedule run's phases as they run, with their micro-batch x accumulation plans. */
  phases?: SchedulePhasePlan[];
  /** The checkpoint to resume from, read at prepare so a bad file fails before any work. */
  resume?: { bytes: Uint8Array; file: string };
}

/** One phase of a schedule run: its span (first step, batch, LR) and how its batch is split. */
export interface SchedulePhasePlan extends PhaseSpan {
  plan: AccumulationPlan;
}

/** Writes a checkpoint file (atomically: lab passes store/output.ts's writeOutputFile). */
export type CheckpointWriter = (path: string, bytes: Uint8Array) => void;

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

/** The LR schedule of a run of `totalSteps` steps. */
export function lrScheduleOf(config: TrainConfig, totalSteps: number): LrScheduleOptions {
  return {
    kind: config.schedule,
    baseLr: config.lr,
    warmupSteps: config.warmupSteps,
    totalSteps: Math.max(totalSteps, config.warmupSteps + 1),
    stepEvery: config.lrStepEvery,
    gamma: config.lrGamma,
  };
}

/** The sizes of a dataset a model is checked against: samples to train on, inputs and outputs per sample. */
export interface DataFacts {
  trainCount: number;
  /** Input features per sample and output units (classes, or the regression target's width), when known. */
  shape?: { inputs: number; outputs: number };
}

/** The facts of a loaded dataset. */
export function dataFacts(data: Dataset): Required<DataFacts> {
  return {
    trainCount: data.train.count,
    shape: { inputs: data.inputShape.reduce((a, b) => a * b, 1), outputs: outputUnits(data) },
  };
}

/**
 * Checks a run's config before any work: every setting (core/run-checks), the batch (or every batch of a
 * schedule, and its split) against the training set, an MLP's layers against the data's input and output
 * sizes (when known), the warm-up against the run's length, and the LR schedule. Returns the steps the
 * budget allows.
 */
export function checkTrainConfig(config: TrainConfig, data: DataFacts): number {
  checkRunSettings(config);
  const plan = planAccumulation({ batchSize: config.batchSize, accumSteps: config.accumSteps });
  const phases = config.batchSchedule && schedulePhases(config);
  const largest = Math.max(plan.batchSize, ...(phases ?? []).map((p) => p.batch));
  if (largest > data.trainCount) {
    throw new BatchSizeError(
      `batch size ${largest} is larger than the training set of ${config.dataset} (${data.trainCount} samples); pass --batch-size ${data.trainCount} or less`,
    );
  }
  if (config.model.name === 'mlp' && data.shape)
    checkLayerWeights([data.shape.inputs, ...(config.model.hidden ?? DEFAULT_HIDDEN), data.shape.outputs]);
  const totalSteps = phases
    ? stepsWithinBudget({
        budget: config.budget,
        trainCount: data.trainCount,
        policy: config.lastBatch,
        batchAt: (step) => spanAt(phases, step).batch,
      })
    : budgetSteps(config.budget, data.trainCount, plan.batchSize, config.lastBatch);
  checkWarmup(config.warmupSteps, totalSteps, phases?.[0]?.batch ?? plan.batchSize);
  lrAt(1, lrScheduleOf(config, totalSteps));
  return totalSteps;
}

/** Loads the data and picks the backend; checks the config against the data (checkTrainConfig). */
export async function prepareRun(config: TrainConfig, data?: Dataset): Promise<RunContext> {
  // The data seed is separate from the run seed, so runs with different seeds share one held-out split.
  const loaded = data ?? loadDataset(config.dataset, config.datasetOptions);
  const totalSteps = checkTrainConfig(config, dataFacts(loaded));
  const plan = planAccumulation({ batchSize: config.batchSize, accumSteps: config.accumSteps });
  const phases = config.batchSchedule && schedulePhases(config);
  const backend = await selectBackend({ requested: config.backend, needsConv: modelHasConv(config.model) });
  const first = phases?.[0]?.plan ?? plan;
  return {
    data: loaded,
    backend: backend.name,
    backendChoice: backend,
    batchSize: first.batchSize,
    microBatchSize: first.microBatchSize,
    accumSteps: first.accumSteps,
    plan: phases ? `schedule ${phases.map((p) => describePlan(p.plan)).join(', ')}` : describePlan(plan),
    totalSteps,
    phases,
    resume: config.checkpoint?.resumeFrom === undefined ? undefined : readCheckpointFile(config.checkpoint.resumeFrom),
  };
}

/**
 * A schedule run's phases (core/batch-schedule.phaseSpans) with each batch split into micro-batches of
 * at most maxMicroBatch (core/search.accumulationPlan); a split that cannot give the batch exactly is
 * refused, so the effective batch of every step is the schedule's.
 */
function schedulePhases(config: TrainConfig): SchedulePhasePlan[] {
  const s = config.batchSchedule!;
  const spans = phaseSpans(s.schedule, { rule: s.lrRule, baseLr: config.lr, baseBatch: s.baseBatch });
  return spans.map((span) => {
    const choice = accumulationPlan(span.batch, s.maxMicroBatch ?? span.batch);
    if (!choice.exact)
      throw new BatchSizeError(
        `batch ${span.batch} of the schedule cannot be split exactly into micro-batches of at most ${s.maxMicroBatch} (${choice.text}); use batches that are multiples of a micro-batch that fits, e.g. powers of two`,
      );
    return {
      ...span,
      plan: { batchSize: span.batch, microBatchSize: choice.microBatchSize, accumSteps: choice.accumSteps },
    };
  });
}

/** The batch and micro-batch of a schedule run's step (the plan of its phase, core spanAt). */
function phasePlanAt(
  phases: readonly SchedulePhasePlan[],
  step: number,
): { batchSize: number; microBatchSize: number } {
  const { phase } = spanAt(phases, step);
  const plan = (phases.find((p) => p.phase === phase) as SchedulePhasePlan).plan;
  return { batchSize: plan.batchSize, microBatchSize: plan.microBatchSize };
}

/** A checkpoint file's bytes; a missing or unreadable file is a DataFileError naming it. */
function readCheckpointFile(file: string): { bytes: Uint8Array; file: string } {
  try {
    return { bytes: readFileSync(file), file };
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new DataFileError(file, `cannot read the checkpoint (${reason}); check the path`);
  }
}

/**
 * Where a warm worker keeps the dataset from run to run (engine/tfjs/warm.ts DatasetCache), so only the
 * first run of a process pays for loading it; prepare() asks it, so its time is the run's `data` phase.
 */
export interface DataSource {
  data(config: TrainConfig): Dataset;
  /** The splits as tensors on the current backend (asked for after the backend was picked). */
  tensors(config: TrainConfig): DataTensors;
}

/** Trains with `config` on a prepared context; `write` saves the final checkpoint when the config asks for one. */
async function runTraining(
  config: TrainConfig,
  ctx: RunContext,
  hooks: TrainHooks,
  use: { write?: CheckpointWriter; tensors?: DataTensors },
): Promise<TrainResult> {
  const schedule = lrScheduleOf(config, ctx.totalSteps);
  const phases = ctx.phases;
  const saveTo = config.checkpoint?.saveTo;
  const { write, tensors } = use;
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
      // A schedule's LR is its phase's (the rule's LR for that batch) times the LR schedule's factor
      // (warm-up, decay): lrAt / config.lr is exactly 1 for a constant schedule.
      lrAt: phases
        ? (step) => spanAt(phases, step).lr * (lrAt(step, schedule) / config.lr)
        : (step) => lrAt(step, schedule),
      planAt: phases ? (step) => phasePlanAt(phases, step) : undefined,
      evalEvery: config.evalEvery,
      evalTrainLimit: config.evalTrainLimit,
      evalTestLimit: config.evalTestLimit,
      target: config.target,
      targetOvershoot: config.targetOvershoot,
      targetOvershootMinSteps: config.targetOvershootMinSteps,
      noiseEvery: config.noiseEvery,
      noiseFromStep: config.noiseFromStep,
      sharpness: config.sharpness,
      resumeFrom: ctx.resume,
      saveCheckpoint: saveTo === undefined || write === undefined ? undefined : (bytes) => write(saveTo, bytes),
    },
    hooks,
    tensors,
  });
}

/** The process's resident high-water mark (VmHWM in /proc/self/status), in bytes; undefined off Linux. */
export function readVmHwmBytes(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A TF.js run of `config`. `prepared` skips loading again when the caller prepared the run itself (the
 * CLI prints the plan first). The result carries this process's VmHWM, so run it in a process of its
 * own when that number matters (lab/run does).
 */
export class TfjsTrainer implements Trainer<RunContext> {
  readonly config: TrainConfig;
  private prepared: Promise<RunContext> | undefined;
  private readonly source: DataSource | undefined;
  private tensors: DataTensors | undefined;
  /** Time prepare() took: loading the data (or taking it from the source) and picking the backend. */
  private prepareMs = 0;

  private readonly writeCheckpoint: CheckpointWriter | undefined;

  /**
   * `source`: where to take the dataset and its tensors from (kept by the caller); default: loaded for
   * this run. `writeCheckpoint` saves the checkpoint a config asks for (`checkpoint.saveTo`); without
   * one such a config is refused.
   */
  constructor(
    config: TrainConfig,
    prepared?: RunContext,
    use: { source?: DataSource; writeCheckpoint?: CheckpointWriter } = {},
  ) {
    this.config = config;
    this.prepared = prepared && Promise.resolve(prepared);
    this.source = use.source;
    this.writeCheckpoint = use.writeCheckpoint;
  }

  prepare(): Promise<RunContext> {
    if (this.config.checkpoint?.saveTo !== undefined && this.writeCheckpoint === undefined)
      return Promise.reject(
        new UsageError('this run saves a checkpoint but its trainer was given no file writer; pass one to TfjsTrainer'),
      );
    this.prepared ??= this.timedPrepare();
    return this.prepared;
  }

  private async timedPrepare(): Promise<RunContext> {
    const startMs = performance.now();
    try {
      const ctx = await prepareRun(this.config, this.source?.data(this.config));
      this.tensors = this.source?.tensors(this.config);
      return ctx;
    } finally {
      this.prepareMs = performance.now() - startMs;
    }
  }

  async run(hooks: TrainHooks = {}): Promise<TrainResult> {
    const result = await runTraining(this.config, await this.prepare(), hooks, {
      write: this.writeCheckpoint,
      tensors: this.tensors,
    });
    const phasesMs = result.phasesMs && { ...result.phasesMs, data: this.prepareMs };
    return { ...result, phasesMs, vmHwmBytes: readVmHwmBytes() };
  }
}
