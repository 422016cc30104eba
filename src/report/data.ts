/**
 * The data a report or dashboard page draws, read from the Store and shaped for charts: per run,
 * column arrays (step, samples, cumulative wall time, loss) downsampled for display, held-out evals,
 * and the run and sweep summaries as stored. The browser code (web/src) turns this into charts;
 * keeping the reading and downsampling here keeps the page free of SQL and testable in Node.
 */
import type { StepRecord, EvalRecord } from '../core/types.js';
import type { JsonObject, Run, Store } from '../store/index.js';
import { minMaxIndices, pick } from './downsample.js';
import { colorForBatch } from './palette.js';
import {
  FAILED_RUN_STATUSES,
  REPORT_DATA_FORMAT,
  type EvalColumns,
  type ReportData,
  type ReportRun,
  type StepColumns,
} from './types.js';

export {
  FAILED_RUN_STATUSES,
  REPORT_DATA_FORMAT,
  type EvalColumns,
  type LiveStepColumns,
  type ReportData,
  type ReportRun,
  type StepColumns,
} from './types.js';

/** Points kept per run and curve: twice a wide chart's pixel columns, so min/max pairs stay visible. */
export const DEFAULT_MAX_POINTS_PER_RUN = 1200;

export interface LoadReportOptions {
  /** Points kept per run curve; default DEFAULT_MAX_POINTS_PER_RUN. */
  maxPointsPerRun?: number;
  /** Clock for generatedAt; default now. */
  now?: () => Date;
}

/**
 * Reads experiment `experimentId` with its runs, steps, evals and probes. Throws BATCHLAB_NOT_FOUND
 * (from the Store) for an unknown id.
 */
export function loadReportData(store: Store, experimentId: number, opts: LoadReportOptions = {}): ReportData {
  const maxPoints = opts.maxPointsPerRun ?? DEFAULT_MAX_POINTS_PER_RUN;
  const experiment = store.getExperiment(experimentId);
  const runs = store
    .runsOf(experimentId)
    .map((run) => reportRun({ run, steps: store.stepsOf(run.id), evals: store.evalsOf(run.id), maxPoints }));
  return {
    format: REPORT_DATA_FORMAT,
    generatedAt: (opts.now ?? (() => new Date()))().toISOString(),
    maxPointsPerRun: maxPoints,
    experiment,
    runs,
    probes: store.probesOf(experimentId),
    budgetBytes: findBudgetBytes(experiment.settings) ?? findBudgetBytes(experiment.summary ?? {}),
  };
}

/** One run's chart data from its full step and eval records. */
export function reportRun(input: {
  run: Run;
  steps: readonly StepRecord[];
  evals: readonly EvalRecord[];
  maxPoints: number;
}): ReportRun {
  const { run, steps } = input;
  const full = stepColumns(steps);
  const keep = minMaxIndices(full.loss, input.maxPoints);
  const peaks = steps.map((s) => s.peakBytes).filter((b) => Number.isFinite(b));
  return {
    id: run.id,
    key: run.key,
    batchSize: run.batchSize,
    microBatchSize: run.microBatchSize,
    accumSteps: run.accumSteps,
    seed: run.seed,
    lr: run.lr,
    status: run.status,
    reason: run.reason,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    attempt: run.attempt,
    jobId: run.jobId,
    summary: run.summary,
    color: colorForBatch(run.batchSize),
    charted: !FAILED_RUN_STATUSES.includes(run.status),
    stepCount: steps.length,
    lastStep: steps.length === 0 ? 0 : steps[steps.length - 1]!.step,
    lastWallS: full.wallS.length === 0 ? 0 : full.wallS[full.wallS.length - 1]!,
    maxStepPeakBytes: peaks.length === 0 ? null : peaks.reduce((a, b) => Math.max(a, b)),
    steps: {
      step: pick(full.step, keep),
      samples: pick(full.samples, keep),
      wallS: pick(full.wallS, keep),
      loss: pick(full.loss, keep),
      stepMs: pick(full.stepMs, keep),
    },
    evals: { test: evalColumns(input.evals, 'test'), train: evalColumns(input.evals, 'train') },
  };
}

/** Full-resolution columns; wall time is the running sum of step times (a NaN step time adds 0). */
export function stepColumns(steps: readonly StepRecord[]): StepColumns {
  const cols: StepColumns = { step: [], samples: [], wallS: [], loss: [], stepMs: [] };
  let wallMs = 0;
  for (const s of steps) {
    if (Number.isFinite(s.stepMs)) wallMs += s.stepMs;
    cols.step.push(s.step);
    cols.samples.push(s.samples);
    cols.wallS.push(wallMs / 1000);
    cols.loss.push(finiteOrNull(s.loss));
    cols.stepMs.push(finiteOrNull(s.stepMs));
  }
  return cols;
}

function evalColumns(evals: readonly EvalRecord[], split: EvalRecord['split']): EvalColumns {
  const cols: EvalColumns = { step: [], samples: [], loss: [], accuracy: [] };
  for (const e of evals) {
    if (e.split !== split) continue;
    cols.step.push(e.step);
    cols.samples.push(e.samples);
    cols.loss.push(finiteOrNull(e.loss));
    cols.accuracy.push(e.accuracy === undefined ? null : finiteOrNull(e.accuracy));
  }
  return cols;
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/**
 * The memory budget recorded with an experiment. find-max names it `budgetBytes` in its settings,
 * recommend `memory.budgetBytes` in its summary; any finite positive number whose key contains "budget"
 * and ends in "Bytes" counts, at the top level first, then one object level down.
 */
export function findBudgetBytes(obj: JsonObject): number | null {
  const isBudget = (key: string, value: unknown): value is number =>
    /budget/i.test(key) && /Bytes$/.test(key) && typeof value === 'number' && value > 0 && Number.isFinite(value);
  for (const [key, value] of Object.entries(obj)) if (isBudget(key, value)) return value;
  for (const value of Object.values(obj)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    for (const [key, inner] of Object.entries(value)) if (isBudget(key, inner)) return inner;
  }
  return null;
}
