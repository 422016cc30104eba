/**
 * Opening a database file safely: refuse anything that is not a batchlab database before writing a
 * single byte to it, and turn SQLite's error codes into one-line BatchlabErrors that name the file.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BatchlabError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import {
  APPLICATION_ID,
  MIGRATIONS,
  OLDEST_MIGRATABLE_VERSION,
  SCHEMA_DDL,
  SCHEMA_VERSION,
  SQLITE_MAGIC,
  classifyFile,
  type FileVerdict,
} from './schema.js';

/** The advice every "wrong file" message ends with. */
const MOVE_IT = 'move it away or pass --db PATH';

/** Builds the error for a file that is not (or no longer) a readable batchlab database. */
export function notBatchlabError(path: string, why: string, cause?: unknown): BatchlabError {
  return new BatchlabError('BATCHLAB_STORE', `${escapeControl(path)} is not a batchlab database (${why}); ${MOVE_IT}`, {
    cause,
  });
}

/** Builds the error for a write lock that another connection held longer than the busy timeout. */
export function lockedError(path: string, busyTimeoutMs: number, cause?: unknown): BatchlabError {
  return new BatchlabError(
    'BATCHLAB_STORE',
    `database ${escapeControl(path)} is locked by another process (waited ${busyTimeoutMs} ms); ` +
      `wait for it to finish or stop it, or pass --db PATH to use another file`,
    { cause },
  );
}

/**
 * Maps a better-sqlite3 error to a BatchlabError naming the file, or returns `err` unchanged when it is
 * not an environment problem (those are bugs and should keep their stack).
 */
export function translateSqliteError(err: unknown, path: string, busyTimeoutMs: number): unknown {
  if (!(err instanceof Database.SqliteError)) return err;
  const code = err.code;
  const store = (message: string) => new BatchlabError('BATCHLAB_STORE', message, { cause: err });
  const shown = escapeControl(path);
  if (code.startsWith('SQLITE_BUSY')) return lockedError(path, busyTimeoutMs, err);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return notBatchlabError(path, err.message, err);
  if (code.startsWith('SQLITE_READONLY')) {
    return store(
      `cannot write to database ${shown} (${err.message}); check the permissions of the file and its folder`,
    );
  }
  if (code === 'SQLITE_FULL') return store(`the disk holding ${shown} is full; free space or pass --db PATH`);
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
    return store(`cannot read or write database ${shown} (${err.message}); check the path and its permissions`);
  }
  return err;
}

/**
 * Checks the first 16 bytes of an existing, non-empty file for the SQLite magic string, so that a file
 * that is not SQLite at all is refused before SQLite opens (and might write to) it. A missing or 0-byte
 * file passes: SQLite creates it, and a new WAL database can have a 0-byte main file.
 */
export function assertSqliteHeader(path: string): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw notBatchlabError(path, 'it is a directory or device, not a file');
    size = st.size;
  } catch (err) {
    if (err instanceof BatchlabError) throw err;
    return; // does not exist (yet): SQLite will create it, or report why it cannot
  }
  if (size === 0) return;
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (size < head.length || head.toString('latin1') !== SQLITE_MAGIC) {
    throw notBatchlabError(path, 'file is not a database');
  }
}

/** Reads the header marks and schema object names without writing anything. */
export function inspectFile(db: Database.Database): FileVerdict {
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  const userVersion = db.pragma('user_version', { simple: true }) as number;
  const objectNames = db
    .prepare("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
  return classifyFile({ applicationId, userVersion, objectNames });
}

/** Whether this batchlab upgrades a file with this verdict in place (an older layout it has a migration for). */
export function isMigratable(verdict: FileVerdict): boolean {
  return verdict.state === 'older' && verdict.version >= OLDEST_MIGRATABLE_VERSION;
}

/** Throws the error that fits a verdict this batchlab can neither use nor upgrade. */
export function rejectVerdict(path: string, verdict: FileVerdict): void {
  const shown = escapeControl(path);
  switch (verdict.state) {
    case 'current':
    case 'fresh':
      return;
    case 'newer':
      throw new BatchlabError(
        'BATCHLAB_STORE',
        `${shown} was written by a newer batchlab (schema version ${verdict.version}; this one reads ` +
          `version ${SCHEMA_VERSION}); upgrade batchlab or pass --db PATH`,
      );
    case 'older':
      if (isMigratable(verdict)) return;
      throw new BatchlabError(
        'BATCHLAB_STORE',
        `${shown} has batchlab schema version ${verdict.version}, older than any this batchlab can upgrade ` +
          `(it upgrades versions ${OLDEST_MIGRATABLE_VERSION} to ${SCHEMA_VERSION - 1}); ${MOVE_IT}`,
      );
    case 'foreign':
      throw notBatchlabError(path, verdict.detail);
  }
}

/**
 * Creates the schema in a fresh database. Runs as BEGIN IMMEDIATE and re-inspects inside the
 * transaction, because two processes may open the same new file at once and only one may create it.
 */
export function initializeSchema(db: Database.Database, path: string): void {
  db.transaction(() => {
    const verdict = inspectFile(db);
    if (verdict.state === 'current') return; // the other process won the race
    rejectVerdict(path, verdict);
    db.exec(SCHEMA_DDL);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * Upgrades an older batchlab database to SCHEMA_VERSION, one migration after the other, in ONE write
 * transaction: a failure (a full disk, a damaged file) rolls everything back and leaves the file at its
 * old version. Re-inspects inside the transaction, since another process may have upgraded it meanwhile.
 */
export function migrateSchema(db: Database.Database, path: string, busyTimeoutMs: number): void {
  let from: number | undefined;
  try {
    db.transaction(() => {
      const verdict = inspectFile(db);
      if (verdict.state === 'current') return;
      rejectVerdict(path, verdict);
      if (verdict.state !== 'older') return;
      from = verdict.version;
      for (let version = verdict.version; version < SCHEMA_VERSION; version++) {
        const sql = MIGRATIONS[version];
        if (sql === undefined) throw new Error(`no migration from schema version ${version}`); // a bug: see schema.ts
        db.exec(sql);
      }
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  } catch (err) {
    const translated = translateSqliteError(err, path, busyTimeoutMs);
    if (translated instanceof BatchlabError || !(err instanceof Database.SqliteError)) throw translated;
    throw new BatchlabError(
      'BATCHLAB_STORE',
      `cannot upgrade ${escapeControl(path)} from batchlab schema version ${from} to ${SCHEMA_VERSION} ` +
        `(${err.message}); the file was left at version ${from}; it holds changes batchlab did not make: ` +
        'restore it from a copy or pass --db PATH',
      { cause: err },
    );
  }
}
