/** batchlab's SQLite store: experiments, runs, per-step metrics, probes; WAL; JSON/CSV export. */
export { openStore, Store, DEFAULT_BUSY_TIMEOUT_MS, KILLED_PARENT_REASON, type OpenStoreOptions } from './store.js';
export { StepWriter, type StepWriterOptions, type StepSink } from './step-writer.js';
export {
  exportExperiment,
  toCsv,
  csvField,
  CSV_TABLES,
  STEPS_CSV_COLUMNS,
  RUNS_CSV_COLUMNS,
  EVALS_CSV_COLUMNS,
  PROBES_CSV_COLUMNS,
  type ExportFormat,
  type ExportOptions,
  type CsvTable,
} from './export.js';
export { APPLICATION_ID, SCHEMA_VERSION } from './schema.js';
export * from './types.js';
