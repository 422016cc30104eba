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

/** "BTLB" as a 32-bit integer: batchlab's mark in the SQLite header (offset 68). */
export const APPLICATION_ID = 0x42544c42;

/** Layout version written to `PRAGMA user_version`. Bump it, and add a migration, on any DDL change. */
export const SCHEMA_VERSION = 1;

/** Magic string at byte 0 of every SQLite 3 database file. */
export const SQLITE_MAGIC = 'SQLite format 3\u0000';

/**
 * DDL of schema version 1. Timestamps are ISO 8601 UTC text (readable in the sqlite3 shell, sortable).
 * JSON columns hold text written by JSON.stringify. REAL columns of `steps`/`evals` are nullable because
 * SQLite stores a NaN as NULL; the Store reads NULL back as NaN so a diverged step keeps its NaN loss.
 */
export const SCHEMA_V1 = `
CREATE TABLE experiments (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'running',
  settings    TEXT NOT NULL,
  summary     TEXT,
  env         TEXT NOT NULL
);

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
  UNIQUE (experiment_id, key)
);

CREATE TABLE steps (
  run_id              INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step                INTEGER NOT NULL,
  samples             INTEGER NOT NULL,
  loss                REAL,
  lr                  REAL,
  step_ms             REAL,
  batch_size          INTEGER NOT NULL,
  micro_batch_size    INTEGER NOT NULL,
  accum_steps         INTEGER NOT NULL,
  grad_sq_norm        REAL,
  micro_grad_sq_norm  REAL,
  peak_bytes          INTEGER,
  PRIMARY KEY (run_id, step)
) WITHOUT ROWID;

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
  phase          TEXT NOT NULL
);

CREATE INDEX probes_by_experiment ON probes (experiment_id, id);
`;

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
