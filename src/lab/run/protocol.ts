/** Messages between a parent (child.ts) and a TF.js run's worker process (worker.ts), over Node's IPC channel. */
import type { RunPlan, StepProgress } from '../../engine/trainer.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { AttemptRecord, RunOutcome } from './outcome.js';

export interface WorkerJob {
  config: TrainConfig;
  /** Where the worker records the run (steps, evals, result) and under which attempt; absent for probes that store nothing. */
  record?: AttemptRecord;
}

export type ParentMessage = { type: 'job'; job: WorkerJob };

export type WorkerMessage =
  | { type: 'start'; plan: RunPlan }
  | { type: 'step'; progress: StepProgress }
  | { type: 'end'; outcome: RunOutcome };
