/**
 * The SQLite schema of a batchlab database and the checks that decide whether a file is one.
 *
 * A batchlab database is marked twice: `PRAGMA application_id = APPLICATION_ID` says "batchlab wrote
 * this", `PRAGMA user_version = SCHEMA_VERSION` says which layout it has. Both live in the 100-byte file
 * header, so they can be read without touching any table.
 *
 * Enumerated columns (kind, status, phase) have no CHECK constraint on purpose: SQLite cannot alter a
 * CHECK without rebuilding the table, and new kinds will come; the Store validates them in TypeScript.
 */
import { STEP_FIELDS, type StepField } from '../core/step-fields.js';

/** "BTLB" as a 32-bit integer: batchlab's mark in the SQLite header (offset 68). */
export const APPLICATION_ID = 0x42544c42;

/**
 * Layout version written to `PRAGMA user_version`. Bump it, and add a migration to MIGRATIONS, on any
 * DDL change or any change of the stored JSON shapes (stored-json.ts).
 *   1: experiments, runs, steps, evals, probes.
 *   2: runs.attempt (how many times a run was started; steps of an older attempt are never mixed in) and
 *      experiment_locks (one owner per experiment: a second resume is refused, a dead owner's lock taken over).
 *   3: runs.job_id (the Slurm job that runs or ran the run's current attempt; a resume waits for it
 *      instead of submitting the run twice).
 *   4: probes.peak_at_most (1: the probe's peak_bytes is only an upper bound, a JAX high-water mark set
 *      before the probe; shown as a bound, and plotted apart from measured peaks).
 */
export const SCHEMA_VERSION = 4;

/** The oldest layout this batchlab upgrades in place (older batchlab files are refused with advice). */
export const OLDEST_MIGRATABLE_VERSION = 1;

/** Magic string at byte 0 of every SQLite 3 database file. */
export const SQLITE_MAGIC = 'SQLite format 3\u0000';

/*
 * DDL of the current layout. Timestamps are ISO 8601 UTC text (readable in the sqlite3 shell, sortable).
 * JSON columns hold text written by JSON.stringify. REAL columns of `steps`/`evals` are nullable because
 * SQLite stores a NaN as NULL; the Store reads NULL back as NaN so a diverged step keeps its NaN loss.
 * Version 1's DDL is kept, frozen, in test/store/fixtures/schema-v1.sql, where the migration test
 * builds a version-1 file from it.
 */
const EXPERIMENTS_DDL = `
CREATE TABLE experiments (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'running',
  settings    TEXT NOT NULL,
  summary     TEXT,
  env         TEXT NOT NULL
);`;

/**
 * `runs` of version 3: version 1's table plus `attempt`, the number of times the run was started (0:
 * never), and `job_id`, the Slurm job of its current attempt (NULL: it runs, or ran, on this machine).
 */
const RUNS_DDL = `
CREATE TABLE runs (
  id                INTEGER PRIMARY KEY,
  experiment_id     INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  key               TEXT NOT NULL,
  batch_size        INTEGER NOT NULL,
  micro_batch_size  INTEGER NOT NULL,
  accum_steps       INTEGER NOT NULL,
  seed              INTEGER NOT NULL,
  lr                REAL NOT NULL,
  status            TEXT NOT NULL DEFAULT 'pending',
  reason            TEXT,
  started_at        TEXT,
  finished_at       TEXT,
  summary           TEXT,
  settings          TEXT NOT NULL DEFAULT '{}',
  attempt           INTEGER NOT NULL DEFAULT 0,
  job_id            TEXT,
  UNIQUE (experiment_id, key)
);`;

/**
 * One lock per experiment (schema version 2): the process (pid on host) that is running it, since
 * `acquired_at`, last confirmed alive at `refreshed_at`. See lock.ts for when a lock is stale.
 */
const EXPERIMENT_LOCKS_DDL = `
CREATE TABLE experiment_locks (
  experiment_id  INTEGER PRIMARY KEY REFERENCES experiments(id) ON DELETE CASCADE,
  pid            INTEGER NOT NULL,
  host           TEXT NOT NULL,
  acquired_at    TEXT NOT NULL,
  refreshed_at   TEXT NOT NULL
);`;

const EVALS_PROBES_DDL = `
CREATE TABLE evals (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step      INTEGER NOT NULL,
  split     TEXT NOT NULL,
  samples   INTEGER NOT NULL,
  loss      REAL,
  accuracy  REAL,
  PRIMARY KEY (run_id, step, split)
) WITHOUT ROWID;

CREATE TABLE probes (
  id             INTEGER PRIMARY KEY,
  experiment_id  INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  batch_size     INTEGER NOT NULL,
  ok             INTEGER NOT NULL,
  kind           TEXT NOT NULL,
  peak_bytes     INTEGER,
  rss_bytes      INTEGER,
  ms             REAL,
  message        TEXT,
  phase          TEXT NOT NULL,
  peak_at_most   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX probes_by_experiment ON probes (experiment_id, id);`;

/** The SQL type of a per-step column: counts are NOT NULL INTEGERs; a field that may be NaN is nullable. */
function stepColumnType(field: StepField): string {
  const type = field.type === 'int' ? 'INTEGER' : 'REAL';
  return field.nanAsNull ? type : `${type} NOT NULL`;
}

/** The `steps` table, derived from STEP_FIELDS (core/step-fields.ts): one column per field, in its order. */
export function stepsTableDdl(): string {
  const columns = STEP_FIELDS.map((f) => `  ${f.column.padEnd(20)}${stepColumnType(f)},`);
  return [
    'CREATE TABLE steps (',
    `  ${'run_id'.padEnd(20)}INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,`,
    ...columns,
    '  PRIMARY KEY (run_id, step)',
    ') WITHOUT ROWID;',
  ].join('\n');
}

/** DDL of the current layout (SCHEMA_VERSION), as a fresh database gets it. */
export const SCHEMA_DDL = [EXPERIMENTS_DDL, RUNS_DDL, stepsTableDdl(), EVALS_PROBES_DDL, EXPERIMENT_LOCKS_DDL].join(
  '\n',
);

/**
 * Upgrades, by the version they start from. Each runs inside the caller's write transaction, so a
 * failure leaves the file at its old version, untouched. A run of version 1 that was ever started
 * counts as attempt 1.
 */
export const MIGRATIONS: Readonly<Record<number, string>> = {
  1: `
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET attempt = 1 WHERE started_at IS NOT NULL;
${EXPERIMENT_LOCKS_DDL}`,
  2: `ALTER TABLE runs ADD COLUMN job_id TEXT;`,
  3: `ALTER TABLE probes ADD COLUMN peak_at_most INTEGER NOT NULL DEFAULT 0;`,
};

/** What the header and catalogue of an opened file say about it. */
export type FileVerdict =
  | { readonly state: 'current' }
  | { readonly state: 'fresh' }
  | { readonly state: 'newer'; readonly version: number }
  | { readonly state: 'older'; readonly version: number }
  | { readonly state: 'foreign'; readonly detail: string };

/**
 * Classifies a file from its header marks and the names of its schema objects.
 * `fresh` = an empty SQLite database (a new or 0-byte file) that batchlab may initialize.
 */
export function classifyFile(opts: {
  applicationId: number;
  userVersion: number;
  objectNames: readonly string[];
}): FileVerdict {
  const { applicationId, userVersion, objectNames } = opts;
  if (applicationId === APPLICATION_ID) {
    if (userVersion === SCHEMA_VERSION) return { state: 'current' };
    if (userVersion > SCHEMA_VERSION) return { state: 'newer', version: userVersion };
    return { state: 'older', version: userVersion };
  }
  if (applicationId === 0 && userVersion === 0 && objectNames.length === 0) return { state: 'fresh' };
  const shown = objectNames.slice(0, 5).join(', ') + (objectNames.length > 5 ? ', ...' : '');
  const detail =
    applicationId !== 0
      ? `it belongs to another application (application_id ${applicationId})`
      : objectNames.length > 0
        ? `it holds tables batchlab did not create: ${shown}`
        : `it has schema version ${userVersion} but no batchlab mark`;
  return { state: 'foreign', detail };
}
