/** One TF.js run in this process, recorded nowhere: the library's `train` (and `batchlab train`). */
import type { TrainResult } from '../../core/run.js';
import type { RunSummary } from '../../core/summary.js';
import type { BackendChoice } from '../../engine/backends/select.js';
import { classifyError, TrainFailedError } from '../../engine/oom.js';
import { type SchedulePhasePlan, TfjsTrainer, type TrainConfig } from '../../engine/tfjs/trainer.js';
import type { RunPlan, TrainHooks } from '../../engine/trainer.js';
import { planOnly } from './outcome.js';
import { checkpointWriter, summarize } from './record.js';

/** What `train` gives back: the plan it ran, every measured step and evaluation, and the run's summary. */
export interface TrainOutcome {
  plan: RunPlan;
  result: TrainResult;
  summary: RunSummary;
}

/** What a run knows before its first step: its plan, the data it trains on, and why this backend. */
export interface TrainStart extends RunPlan {
  dataset: { name: string; trainCount: number; testCount: number; inputShape: number[] };
  backendChoice: BackendChoice;
  /** Held-out evaluations every this many steps (0: at the end only). */
  evalEvery: number;
  /** A batch-size schedule's phases (first step, batch and its split, LR); undefined for one batch. */
  phases?: readonly SchedulePhasePlan[];
}

/** Options of `train` besides its hooks. */
export interface TrainOptions {
  /**
   * With config.evalEvery 0: evaluate about this many times over the run instead of only at the end
   * (`batchlab train` asks for 10), once the run's length is known.
   */
  evalsPerRun?: number;
}

/**
 * Trains `config` in this process: loads the data, picks the backend (onStart sees the plan), trains
 * with every step measured, and summarizes the run as a sweep does (throughput, loss noise, B_simple,
 * the gap). A bad setting throws a typed error before any step (checkTrainConfig); a divergence throws
 * DivergedError, an allocation failure BATCHLAB_OOM. Aborting `hooks.signal` stops after the current step (status 'interrupted').
 * A sweep or a probe runs each run in a child process of its own instead (executeRun), so that a real
 * out-of-memory cannot end the caller.
 */
export async function train(
  config: TrainConfig,
  hooks: TrainHooks & { onStart?(start: TrainStart): void } = {},
  options: TrainOptions = {},
): Promise<TrainOutcome> {
  const ctx = await new TfjsTrainer(config, undefined, { writeCheckpoint: checkpointWriter() }).prepare();
  const evalEvery =
    config.evalEvery === 0 && options.evalsPerRun !== undefined
      ? Math.max(1, Math.round(ctx.totalSteps / options.evalsPerRun))
      : config.evalEvery;
  const run = { ...config, evalEvery };
  const plan = planOnly(ctx);
  const d = ctx.data;
  hooks.onStart?.({
    ...plan,
    dataset: { name: d.name, trainCount: d.train.count, testCount: d.test.count, inputShape: [...d.inputShape] },
    backendChoice: ctx.backendChoice,
    evalEvery,
    phases: ctx.phases,
  });
  const result = await new TfjsTrainer(run, ctx, { writeCheckpoint: checkpointWriter() })
    .run(hooks)
    .catch(asOutOfMemory);
  return { plan, result, summary: summarize(result, plan, run) };
}

/** An allocation failure (by the one OOM table) becomes BATCHLAB_OOM, as a run in a worker reports it; anything else is rethrown. */
function asOutOfMemory(err: unknown): never {
  const failure = classifyError(err);
  if (failure.status === 'oom') throw new TrainFailedError({ status: 'oom', reason: failure.reason });
  throw err;
}
