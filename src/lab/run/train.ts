/** One TF.js run in this process, recorded nowhere: the library's `train`. */
import type { TrainResult } from '../../core/run.js';
import type { RunSummary } from '../../core/summary.js';
import { TfjsTrainer, type TrainConfig } from '../../engine/tfjs/trainer.js';
import type { RunPlan, TrainHooks } from '../../engine/trainer.js';
import { planOnly } from './outcome.js';
import { checkpointWriter, summarize } from './record.js';

/** What `train` gives back: the plan it ran, every measured step and evaluation, and the run's summary. */
export interface TrainOutcome {
  plan: RunPlan;
  result: TrainResult;
  summary: RunSummary;
}

/**
 * Trains `config` in this process: loads the data, picks the backend (onStart sees the plan), trains
 * with every step measured, and summarizes the run as a sweep does (throughput, loss noise, B_simple,
 * the gap). A divergence or an allocation failure throws. A sweep or a probe runs each run in a child
 * process of its own instead (executeRun), so that a real out-of-memory cannot end the caller.
 */
export async function train(
  config: TrainConfig,
  hooks: TrainHooks & { onStart?(plan: RunPlan): void } = {},
): Promise<TrainOutcome> {
  const trainer = new TfjsTrainer(config, undefined, checkpointWriter());
  const plan = planOnly(await trainer.prepare());
  hooks.onStart?.(plan);
  const result = await trainer.run(hooks);
  return { plan, result, summary: summarize(result, plan, config) };
}
