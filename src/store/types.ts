/**
 * Records the Store reads and writes. Field names are the camelCase of the column names; units are in
 * the names. Timestamps are ISO 8601 UTC strings. JSON fields come back as parsed plain objects,
 * validated against the schemas of stored-json.ts.
 */
import type { StoredRunSummary } from './stored-json.js';

export const EXPERIMENT_KINDS = ['sweep', 'find-max', 'recommend', 'train', 'noise', 'branch', 'study'] as const;
export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];

export const EXPERIMENT_STATUSES = ['running', 'done', 'interrupted', 'failed'] as const;
export type ExperimentStatus = (typeof EXPERIMENT_STATUSES)[number];

export const RUN_STATUSES = [
  'pending',
  'running',
  'done',
  'failed',
  'interrupted',
  'oom',
  'diverged',
  'over-budget',
  'timeout',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses a resume still has to run: never started, started, or cut off by a killed parent. */
export const UNFINISHED_RUN_STATUSES = ['pending', 'running', 'interrupted'] as const satisfies readonly RunStatus[];

/** Statuses `finishRun` accepts: every outcome of an attempt ('interrupted' = stopped, may be resumed). */
export type FinishedRunStatus = Exclude<RunStatus, 'pending' | 'running'>;

export const PROBE_KINDS = ['ok', 'over-budget', 'oom', 'error', 'timeout'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export const PROBE_PHASES = ['analytic', 'search', 'verify'] as const;
export type ProbePhase = (typeof PROBE_PHASES)[number];

/** A JSON object as stored in a JSON column (settings, summary, env). */
export type JsonObject = Record<string, unknown>;

export interface Experiment {
  id: number;
  kind: ExperimentKind;
  /** ISO 8601 UTC. */
  createdAt: string;
  status: ExperimentStatus;
  /** The full settings a resume must match. */
  settings: JsonObject;
  /** Fits, "what this sweep shows" lines, recommendation; null until written. */
  summary: JsonObject | null;
  /** Backend, versions, hardware. */
  env: JsonObject;
}

/** An experiment with how many of its runs are in each status (statuses with no run are absent). */
export interface ExperimentListing extends Experiment {
  runCount: number;
  runCounts: Partial<Record<RunStatus, number>>;
}

export interface Run {
  id: number;
  experimentId: number;
  /** Stable name of the run within its experiment, e.g. "b=64,seed=1". */
  key: string;
  /** Effective batch size B (samples per update). */
  batchSize: number;
  /** Micro-batch b (samples per forward/backward pass). */
  microBatchSize: number;
  /** Accumulation steps k; B = b x k. */
  accumSteps: number;
  seed: number;
  /** Base learning rate of the run (per-step values, after warm-up and schedule, are in steps). */
  lr: number;
  status: RunStatus;
  /** Why the run ended the way it did (e.g. the OOM message), or null. */
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /**
   * How many times the run was started (0: never). Each start (Store.startRun) begins a new attempt and
   * clears the steps and evals of the previous one; writes that still arrive from an older attempt are
   * refused, so a run's steps always come from one attempt.
   */
  attempt: number;
  /**
   * The Slurm job running (or that ran) the current attempt, when the run went to a cluster
   * (--launcher slurm); null for a run on this machine. A resume waits for a job still queued or running.
   */
  jobId: string | null;
  /** Final metrics, throughput stats, peak bytes, B_simple, gap, ... (RunSummary); null until finished. */
  summary: StoredRunSummary | null;
  settings: JsonObject;
}

/** What `upsertRun` needs to plan a run. */
export interface RunPlan {
  experimentId: number;
  key: string;
  batchSize: number;
  /** Defaults to batchSize (no accumulation). */
  microBatchSize?: number;
  /** Defaults to batchSize / microBatchSize. */
  accumSteps?: number;
  seed: number;
  lr: number;
  settings?: object;
}

/** One find-max probe: a short training attempt at one batch size, in a child process. */
export interface Probe {
  id: number;
  experimentId: number;
  batchSize: number;
  ok: boolean;
  kind: ProbeKind;
  /** Tensor-memory high-water mark of the probe, in bytes; null if not measured. */
  peakBytes: number | null;
  /** Resident-set high-water mark (VmHWM) of the probe process, in bytes; null if not measured. */
  rssBytes: number | null;
  /** Wall time of the probe, in ms; null if not measured. */
  ms: number | null;
  message: string | null;
  phase: ProbePhase;
  /** peakBytes is only an upper bound (a JAX high-water mark set before the probe), not the probe's own peak. */
  peakAtMost: boolean;
}

export type NewProbe = Omit<Probe, 'id' | 'peakBytes' | 'rssBytes' | 'ms' | 'message' | 'peakAtMost'> & {
  peakAtMost?: boolean;
  peakBytes?: number | null;
  rssBytes?: number | null;
  ms?: number | null;
  message?: string | null;
};
