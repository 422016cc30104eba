/**
 * Messages between a parent (child.ts) and a TF.js worker process (worker.ts), over Node's IPC channel.
 * A worker takes jobs one at a time: 'job' starts one, 'stop' stops the current one after its step. A
 * warm worker (pool.ts) takes the next job after 'end'; the parent closes the channel to let it exit.
 */
import type { RunTiming } from '../../core/summary.js';
import type { RunPlan, StepProgress } from '../../engine/trainer.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { AttemptRecord, RunOutcome } from './outcome.js';

export interface WorkerJob {
  config: TrainConfig;
  /** Where the worker records the run (steps, evals, result) and under which attempt; absent for probes that store nothing. */
  record?: AttemptRecord;
  /** How the run is timed when other runs share the machine (stored with its summary). */
  timing?: RunTiming;
  /**
   * Warm workers: load the data first and reset VmHWM just before the run, so each run's VmHWM counts
   * from the same start (the process with TF.js and the dataset loaded). Without it (a fresh process per
   * run: probes, --isolate) VmHWM is the whole process's, data loading included.
   */
  resetHighWaterMark?: boolean;
}

/** What a warm worker may load while it waits for its first run. */
export type WarmHint = Pick<TrainConfig, 'dataset' | 'datasetOptions' | 'backend' | 'model'>;

export type ParentMessage = { type: 'job'; job: WorkerJob } | { type: 'stop' } | { type: 'warm'; hint: WarmHint };

export type WorkerMessage =
  | { type: 'start'; plan: RunPlan }
  | { type: 'step'; progress: StepProgress }
  /** `retire`: why this process must not take another run (a run left tensors behind); absent when it may. */
  | { type: 'end'; outcome: RunOutcome; retire?: string };
