/**
 * Export of one experiment as JSON (everything, nested) or as CSV (one flat table per call).
 *
 * JSON document:
 *   { format: "batchlab-export", schemaVersion, experiment, runs: [ {...run, steps: [...], evals: [...]} ],
 *     probes: [...] }
 *   Field names are the store's camelCase names; a NaN metric (a diverged step) is written as null,
 *   because JSON has no NaN.
 *
 * CSV (RFC 4180: header row, CRLF line ends, fields holding a comma, quote, CR or LF are quoted with
 * quotes doubled). Empty field = no value; NaN/Infinity are written as `NaN`/`Infinity`. Tables:
 *   steps  — STEPS_CSV_COLUMNS: one row per step of every run. `run_*` columns describe the run the step
 *            belongs to (its planned batch size, seed, base lr, status); the unprefixed batch_size and lr
 *            are the step's own (a last partial batch, the lr after warm-up and schedule).
 *   runs   — RUNS_CSV_COLUMNS, then one `summary.<name>` column per top-level summary field found in
 *            any run (sorted by name; objects and arrays as JSON text).
 *   evals  — EVALS_CSV_COLUMNS: one row per evaluation.
 *   probes — PROBES_CSV_COLUMNS: one row per find-max probe.
 */
import { BatchlabError } from '../core/errors.js';
import { STEP_FIELDS } from '../core/step-fields.js';
import { escapeControl } from '../core/text.js';
import { writeOutputFile } from './output.js';
import { SCHEMA_VERSION } from './schema.js';
import type { Store } from './store.js';
import type { Run } from './types.js';

export type ExportFormat = 'json' | 'csv';
export type CsvTable = 'steps' | 'runs' | 'evals' | 'probes';
export const CSV_TABLES: readonly CsvTable[] = ['steps', 'runs', 'evals', 'probes'];

export interface ExportOptions {
  format: ExportFormat;
  /** Which table a CSV export holds. Default 'steps'. Ignored for JSON. */
  table?: CsvTable;
}

/** Columns shared by the run-joined tables. */
const RUN_JOIN_COLUMNS = [
  'experiment_id',
  'run_id',
  'run_key',
  'run_batch_size',
  'run_micro_batch_size',
  'run_accum_steps',
  'run_seed',
  'run_lr',
  'run_status',
] as const;

/** The run columns, then one column per per-step field (core/step-fields.ts), named as in the steps table. */
export const STEPS_CSV_COLUMNS: readonly string[] = [...RUN_JOIN_COLUMNS, ...STEP_FIELDS.map((f) => f.column)];

export const EVALS_CSV_COLUMNS = [...RUN_JOIN_COLUMNS, 'step', 'samples', 'split', 'loss', 'accuracy'] as const;

export const RUNS_CSV_COLUMNS = [
  'experiment_id',
  'run_id',
  'key',
  'batch_size',
  'micro_batch_size',
  'accum_steps',
  'seed',
  'lr',
  'status',
  'reason',
  'started_at',
  'finished_at',
] as const;

export const PROBES_CSV_COLUMNS = [
  'experiment_id',
  'probe_id',
  'phase',
  'batch_size',
  'ok',
  'kind',
  'peak_bytes',
  'rss_bytes',
  'ms',
  'message',
  'peak_at_most',
] as const;

/** Exports experiment `id` (BATCHLAB_NOT_FOUND if unknown) as one JSON document or one CSV table. */
export function exportExperiment(store: Store, id: number, opts: ExportOptions): string {
  if (opts.format === 'json') return exportJson(store, id);
  if (opts.format !== 'csv') {
    throw new BatchlabError(
      'BATCHLAB_BAD_ARGUMENT',
      `unknown export format "${escapeControl(String(opts.format))}"; valid: json, csv`,
    );
  }
  const table = opts.table ?? 'steps';
  switch (table) {
    case 'steps':
      return stepsCsv(store, id);
    case 'runs':
      return runsCsv(store, id);
    case 'evals':
      return evalsCsv(store, id);
    case 'probes':
      return probesCsv(store, id);
    default:
      throw new BatchlabError(
        'BATCHLAB_BAD_ARGUMENT',
        `unknown export table "${escapeControl(String(table))}"; valid: ${CSV_TABLES.join(', ')}`,
      );
  }
}

/**
 * Exports experiment `id` into the file `path` (export --output), atomically and never onto the store
 * itself (see output.ts). Returns the absolute path written.
 */
export function exportExperimentToFile(store: Store, id: number, opts: ExportOptions & { path: string }): string {
  const text = exportExperiment(store, id, opts);
  return writeOutputFile({ path: opts.path, data: text, storePath: store.path });
}

function exportJson(store: Store, id: number): string {
  const experiment = store.getExperiment(id);
  const runs = store.runsOf(id).map((run) => ({ ...run, steps: store.stepsOf(run.id), evals: store.evalsOf(run.id) }));
  const doc = {
    format: 'batchlab-export',
    schemaVersion: SCHEMA_VERSION,
    experiment,
    runs,
    probes: store.probesOf(id),
  };
  return JSON.stringify(doc) + '\n';
}

function runJoin(run: Run): unknown[] {
  return [
    run.experimentId,
    run.id,
    run.key,
    run.batchSize,
    run.microBatchSize,
    run.accumSteps,
    run.seed,
    run.lr,
    run.status,
  ];
}

function stepsCsv(store: Store, id: number): string {
  const rows: unknown[][] = [];
  for (const run of store.runsOf(id)) {
    const join = runJoin(run);
    for (const s of store.stepsOf(run.id)) rows.push([...join, ...STEP_FIELDS.map((f) => s[f.key])]);
  }
  return toCsv(STEPS_CSV_COLUMNS, rows);
}

function evalsCsv(store: Store, id: number): string {
  const rows: unknown[][] = [];
  for (const run of store.runsOf(id)) {
    const join = runJoin(run);
    for (const e of store.evalsOf(run.id)) rows.push([...join, e.step, e.samples, e.split, e.loss, e.accuracy]);
  }
  return toCsv(EVALS_CSV_COLUMNS, rows);
}

function runsCsv(store: Store, id: number): string {
  const runs = store.runsOf(id);
  const summaryKeys = [...new Set(runs.flatMap((r) => Object.keys(r.summary ?? {})))].sort();
  const header = [...RUNS_CSV_COLUMNS, ...summaryKeys.map((k) => `summary.${k}`)];
  const rows = runs.map((r) => [
    r.experimentId,
    r.id,
    r.key,
    r.batchSize,
    r.microBatchSize,
    r.accumSteps,
    r.seed,
    r.lr,
    r.status,
    r.reason,
    r.startedAt,
    r.finishedAt,
    ...summaryKeys.map((k) => r.summary?.[k]),
  ]);
  return toCsv(header, rows);
}

function probesCsv(store: Store, id: number): string {
  const rows = store
    .probesOf(id)
    .map((p) => [
      p.experimentId,
      p.id,
      p.phase,
      p.batchSize,
      p.ok,
      p.kind,
      p.peakBytes,
      p.rssBytes,
      p.ms,
      p.message,
      p.peakAtMost,
    ]);
  return toCsv(PROBES_CSV_COLUMNS, rows);
}

/** Renders a header and rows as RFC 4180 CSV with CRLF line ends (including after the last row). */
export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) lines.push(row.map(csvField).join(','));
  return lines.join('\r\n') + '\r\n';
}

/**
 * One CSV field: null/undefined → empty; numbers in shortest round-trip form (NaN, Infinity spelled
 * out); objects as JSON; quoted when it holds a comma, quote, CR or LF.
 */
export function csvField(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
