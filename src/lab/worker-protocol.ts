/** Messages between a parent (child.ts) and a run's worker process (worker.ts), over Node's IPC channel. */
import type { BackendChoice } from '../engine/backends/select.js';
import type { RunSummary } from './summary.js';
import type { TrainConfig } from './train.js';

export interface WorkerJob {
  config: TrainConfig;
  /** Where the worker records the run (steps, evals, result); absent for probes that store nothing. */
  store?: { dbPath: string; runId: number };
}

export type ParentMessage = { type: 'job'; job: WorkerJob };

export type WorkerMessage =
  | { type: 'start'; backend: BackendChoice; plan: string; totalSteps: number }
  | { type: 'step'; step: number; samples: number; loss: number; stepMs: number; batchSize: number }
  | { type: 'done'; status: 'done' | 'interrupted'; summary: RunSummary }
  | { type: 'failed'; status: 'diverged' | 'oom' | 'error'; code: string; message: string };
