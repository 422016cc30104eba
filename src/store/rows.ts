/**
 * Row shapes as SQLite returns them (snake_case, NULLs, 0/1 booleans) and their mapping to the Store's
 * records. Every JSON column and enumerated column is validated here, on the way out, so a damaged or
 * foreign row fails with BATCHLAB_STORE naming it (stored-json.ts) instead of deep inside a reader.
 */
import { BatchlabError } from '../core/errors.js';
import { STEP_FIELDS } from '../core/step-fields.js';
import { escapeControl } from '../core/text.js';
import type { EvalRecord, StepRecord } from '../core/types.js';
import type { ExperimentLock } from './lock.js';
import {
  envSchema,
  EXPERIMENT_SETTINGS_SCHEMAS,
  EXPERIMENT_SUMMARY_SCHEMAS,
  readStoredJson,
  runSummarySchema,
  trainConfigSchema,
} from './stored-json.js';
import {
  EXPERIMENT_KINDS,
  EXPERIMENT_STATUSES,
  PROBE_KINDS,
  PROBE_PHASES,
  RUN_STATUSES,
  type Experiment,
  type Probe,
  type Run,
} from './types.js';

export interface ExperimentRow {
  id: number;
  kind: string;
  created_at: string;
  status: string;
  settings: string;
  summary: string | null;
  env: string;
}
export interface RunRow {
  id: number;
  experiment_id: number;
  key: string;
  batch_size: number;
  micro_batch_size: number;
  accum_steps: number;
  seed: number;
  lr: number;
  status: string;
  reason: string | null;
  started_at: string | null;
  finished_at: string | null;
  summary: string | null;
  settings: string;
  /** Absent in a version-1 file opened read-only (it is not upgraded then). */
  attempt?: number;
  /** Absent in a file older than version 3 opened read-only. */
  job_id?: string | null;
}
/** A `steps` row: one column per STEP_FIELDS entry (REAL/nullable where the field may be NaN). */
export type StepRow = Record<string, number | null>;
export interface EvalRow {
  step: number;
  samples: number;
  split: string;
  loss: number | null;
  accuracy: number | null;
}
export interface ProbeRow {
  id: number;
  experiment_id: number;
  batch_size: number;
  ok: number;
  kind: string;
  peak_bytes: number | null;
  rss_bytes: number | null;
  ms: number | null;
  message: string | null;
  phase: string;
  /** Absent in a file of schema version 1-3 opened read-only (not migrated): its peaks were all measured. */
  peak_at_most?: number;
}
export interface LockRow {
  experiment_id: number;
  pid: number;
  host: string;
  acquired_at: string;
  refreshed_at: string;
}

/** Columns of the `steps` table in STEP_FIELDS order, and the INSERT that writes one step. */
export const STEP_COLUMNS = STEP_FIELDS.map((f) => f.column);
export const INSERT_STEP_SQL = `INSERT OR REPLACE INTO steps (run_id, ${STEP_COLUMNS.join(', ')})
  VALUES (?${', ?'.repeat(STEP_COLUMNS.length)})`;

/** The values INSERT_STEP_SQL binds after the run id, in column order. */
export function stepValues(step: StepRecord): number[] {
  return STEP_FIELDS.map((f) => step[f.key]);
}

/** SQLite stores NaN as NULL; a REAL metric read back as NULL was a NaN. */
export function real(v: number | null): number {
  return v === null ? Number.NaN : v;
}

export function toStep(row: StepRow): StepRecord {
  const rec = {} as StepRecord;
  for (const f of STEP_FIELDS) rec[f.key] = real(row[f.column] ?? null);
  return rec;
}

export function toEval(row: EvalRow): EvalRecord {
  const rec: EvalRecord = {
    step: row.step,
    samples: row.samples,
    split: row.split as EvalRecord['split'],
    loss: real(row.loss),
  };
  if (row.accuracy !== null) rec.accuracy = row.accuracy;
  return rec;
}

export function toExperiment(row: ExperimentRow, path: string): Experiment {
  const where = { path, table: 'experiments', id: row.id } as const;
  const kind = oneOf(row.kind, EXPERIMENT_KINDS, { ...where, column: 'kind' });
  return {
    id: row.id,
    kind,
    createdAt: row.created_at,
    status: oneOf(row.status, EXPERIMENT_STATUSES, { ...where, column: 'status' }),
    settings: readStoredJson(EXPERIMENT_SETTINGS_SCHEMAS[kind], row.settings, { ...where, column: 'settings' }),
    summary:
      row.summary === null
        ? null
        : readStoredJson(EXPERIMENT_SUMMARY_SCHEMAS[kind], row.summary, { ...where, column: 'summary' }),
    env: readStoredJson(envSchema, row.env, { ...where, column: 'env' }),
  };
}

export function toRun(row: RunRow, path: string): Run {
  const where = { path, table: 'runs', id: row.id } as const;
  return {
    id: row.id,
    experimentId: row.experiment_id,
    key: row.key,
    batchSize: row.batch_size,
    microBatchSize: row.micro_batch_size,
    accumSteps: row.accum_steps,
    seed: row.seed,
    lr: row.lr,
    status: oneOf(row.status, RUN_STATUSES, { ...where, column: 'status' }),
    reason: row.reason,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    attempt: row.attempt ?? (row.started_at === null ? 0 : 1),
    jobId: row.job_id ?? null,
    summary:
      row.summary === null ? null : readStoredJson(runSummarySchema, row.summary, { ...where, column: 'summary' }),
    settings: readStoredJson(trainConfigSchema, row.settings, { ...where, column: 'settings' }),
  };
}

export function toProbe(row: ProbeRow, path: string): Probe {
  const where = { path, table: 'probes', id: row.id } as const;
  return {
    id: row.id,
    experimentId: row.experiment_id,
    batchSize: row.batch_size,
    ok: row.ok !== 0,
    kind: oneOf(row.kind, PROBE_KINDS, { ...where, column: 'kind' }),
    peakBytes: row.peak_bytes,
    rssBytes: row.rss_bytes,
    ms: row.ms,
    message: row.message,
    phase: oneOf(row.phase, PROBE_PHASES, { ...where, column: 'phase' }),
    peakAtMost: (row.peak_at_most ?? 0) !== 0,
  };
}

export function toLock(row: LockRow): ExperimentLock {
  return {
    experimentId: row.experiment_id,
    pid: row.pid,
    host: row.host,
    acquiredAt: row.acquired_at,
    refreshedAt: row.refreshed_at,
  };
}

/** An enumerated column read back: one of `valid`, or BATCHLAB_STORE naming the row and the value. */
function oneOf<T extends string>(
  value: string,
  valid: readonly T[],
  where: { path: string; table: string; column: string; id: number },
): T {
  if ((valid as readonly string[]).includes(value)) return value as T;
  throw new BatchlabError(
    'BATCHLAB_STORE',
    `${escapeControl(where.path)}: ${where.table}.${where.column} of row ${where.id} is ` +
      `"${escapeControl(String(value))}", which this batchlab does not know (valid: ${valid.join(', ')}); ` +
      'the file was edited or written by another program; restore it from a copy or pass --db PATH',
  );
}
