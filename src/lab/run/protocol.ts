/**
 * Messages between a parent (child.ts) and a TF.js worker process (worker.ts), over Node's IPC channel.
 * A worker takes jobs one at a time: 'job' starts one, 'stop' stops the current one after its step. A
 * warm worker (pool.ts) takes the next job after 'end'; the parent closes the channel to let it exit.
 */
import type { RunTiming } from '../../core/summary.js';
import type { RunPlan, StepProgress } from '../../engine/trainer.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { RunOutcome, RunRecord } from './outcome.js';

export interface WorkerJob {
  config: TrainConfig;
  /** Where the worker records the run (steps, evals, result); absent for probes that store nothing. */
  record?: RunRecord;
  /** How the run is timed when other runs share the machine (stored with its summary). */
  timing?: RunTiming;
}

export type ParentMessage = { type: 'job'; job: WorkerJob } | { type: 'stop' };

export type WorkerMessage =
  | { type: 'start'; plan: RunPlan }
  | { type: 'step'; progress: StepProgress }
  /** `retire`: why this process must not take another run (a run left tensors behind); absent when it may. */
  | { type: 'end'; outcome: RunOutcome; retire?: string };
