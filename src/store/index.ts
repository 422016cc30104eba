/** batchlab's SQLite store: experiments, runs, per-step metrics, probes; WAL; JSON/CSV export. */
export { openStore, Store, DEFAULT_BUSY_TIMEOUT_MS, KILLED_PARENT_REASON, type OpenStoreOptions } from './store.js';
export { StepWriter, type StepWriterOptions, type StepSink } from './step-writer.js';
export {
  exportExperiment,
  exportExperimentToFile,
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
export { APPLICATION_ID, SCHEMA_VERSION, OLDEST_MIGRATABLE_VERSION } from './schema.js';
export { writeOutputFile, OutputFileError, type WriteOutputOptions, type OutputFs } from './output.js';
export {
  ExperimentLockedError,
  isProcessAlive,
  lockState,
  LOCK_REFRESH_MS,
  STALE_LOCK_MS,
  type ExperimentLock,
  type LockOwner,
  type LockState,
} from './lock.js';
export {
  classifyRunFailure,
  ENVIRONMENTAL_ERROR_CODES,
  OWN_FAILURE_STATUSES,
  StaleAttemptError,
  STOP_ERROR_CODES,
  type RunFailureClass,
} from './attempts.js';
export { readStoredJson, writeStoredJson, type StoredRunSummary } from './stored-json.js';
export * from './types.js';
