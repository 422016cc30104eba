/**
 * The JSON shape a report or dashboard page draws (`GET /api/experiments/:id/report`, and the data inlined
 * in a report). Types and constants only, importing nothing but the store's record types, so the browser
 * code (web/src) can share them without pulling in the store or node:fs.
 */
import type { Experiment, Probe, Run, RunStatus } from '../store/types.js';

/** Identifies the JSON shape, so a page can refuse data it does not understand. */
export const REPORT_DATA_FORMAT = 'batchlab-report/1';

/** Outcomes that ended a run without a usable curve: listed in the runs table, left out of charts. */
export const FAILED_RUN_STATUSES: readonly RunStatus[] = ['failed', 'oom', 'diverged', 'over-budget', 'timeout'];

/** Step metrics of one run as columns; index i of every array is the same step. */
export interface StepColumns {
  step: number[];
  samples: number[];
  /** Cumulative step time up to and including this step, in seconds (training time, no evals). */
  wallS: number[];
  /** null where the loss was NaN (JSON has no NaN). */
  loss: (number | null)[];
  stepMs: (number | null)[];
}

/** New steps of one run as the live stream sends them (`steps` events): no wall-time column. */
export type LiveStepColumns = Pick<StepColumns, 'step' | 'samples' | 'loss' | 'stepMs'>;

/** Evaluations of one split as columns. */
export interface EvalColumns {
  step: number[];
  samples: number[];
  loss: (number | null)[];
  /** null for regression (no accuracy). */
  accuracy: (number | null)[];
}

/** A stored run (its `summary` is the run summary of the lab, null until it finished) as charted. */
export interface ReportRun extends Omit<Run, 'experimentId' | 'settings'> {
  /** Colour of this batch size (src/report/palette.ts). */
  color: string;
  /** False for failed runs (FAILED_RUN_STATUSES): they are shown in the table only. */
  charted: boolean;
  /** Steps stored for the run (before downsampling). */
  stepCount: number;
  /** Last stored step number (0 if none): a live page asks for steps after it. */
  lastStep: number;
  /** Cumulative step time through lastStep, in seconds: a live page adds new steps' time to it. */
  lastWallS: number;
  /** Largest tensor peak over all steps, in bytes (null if none was measured). */
  maxStepPeakBytes: number | null;
  steps: StepColumns;
  evals: { test: EvalColumns; train: EvalColumns };
}

export interface ReportData {
  format: typeof REPORT_DATA_FORMAT;
  /** ISO 8601 UTC. */
  generatedAt: string;
  maxPointsPerRun: number;
  experiment: Experiment;
  runs: ReportRun[];
  probes: Probe[];
  /** Memory budget of the experiment in bytes (a settings/summary key named like "...budget...Bytes"). */
  budgetBytes: number | null;
}
