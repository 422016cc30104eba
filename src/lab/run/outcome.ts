/** How a run ended, as every experiment sees it (sweep, find-max, recommend, noise), whatever trained it. */
import type { ErrorCode } from '../../core/errors.js';
import type { OomFigures } from '../../core/oom-message.js';
import type { StatedMemory } from '../../core/run.js';
import type { RunSummary } from '../../core/summary.js';
import type { FailureStatus } from '../../engine/oom.js';
import type { RunPlan, StepProgress } from '../../engine/trainer.js';

/** The statuses a finished attempt leaves in the store: 'done', or how it was stopped or failed. */
export type RunEndStatus = 'done' | FailureStatus;

/** How one run ended. */
export interface RunOutcome {
  status: RunEndStatus;
  /** The run's summary: always for 'done'; for 'interrupted' when the trainer stopped cleanly. */
  summary?: RunSummary;
  /** Error code of anything but 'done' ('BATCHLAB_OOM', 'BATCHLAB_DIVERGED', 'BATCHLAB_INTERRUPTED', ...). */
  code?: ErrorCode;
  /** Why it ended so ('' when done): the first line says it; further lines (a stderr tail) are detail. */
  reason: string;
  /** A failed run's peak on the budget's measure, when it measured one before it was stopped (over budget). */
  peakBytes?: number;
  /** A failed run's resident high-water mark, when known. */
  vmHwmBytes?: number;
  /** An out-of-memory's figures, where its message stated them (core/oom-message.ts). */
  oom?: OomFigures;
  /** A run that trained: each step's time in ms, in order (a probe's throughput reads them). */
  stepMs?: number[];
  /** A command's own statement of its memory cap and reserved peak (docs/protocol.md, section 2). */
  statedMemory?: StatedMemory;
  /** Wall time of the whole run, process start and recording included. */
  wallMs: number;
}

/** Progress of one run, and how to stop it. */
export interface RunHooks {
  /** Before the first step: backend, B = b x k, steps the budget allows. */
  onStart?(plan: RunPlan): void;
  /** Steps as they happen (a child process reports them at most every 200 ms). */
  onStep?(progress: StepProgress): void;
  /** Aborting stops the run after its current step ('interrupted'; a resume runs it again). */
  signal?: AbortSignal;
}

/** Where a run is recorded: its steps, evaluations, status, reason and summary. */
export interface RunRecord {
  dbPath: string;
  runId: number;
}

/**
 * A run being recorded, with the attempt Store.startRun began for it: every write of the attempt (steps,
 * evaluations, its end) carries it, so a stopped attempt that still writes is refused, never mixed in.
 */
export interface AttemptRecord extends RunRecord {
  attempt: number;
}

/** The reason stored for a run stopped cleanly. */
export const INTERRUPTED_REASON = 'stopped by Ctrl-C, SIGTERM or a lost parent';

/** A plan's own fields (a TF.js plan also holds the dataset, which must not cross a process boundary or be kept). */
export function planOnly(p: RunPlan): RunPlan {
  const { backend, batchSize, microBatchSize, accumSteps, plan, totalSteps } = p;
  return { backend, batchSize, microBatchSize, accumSteps, plan, totalSteps };
}
