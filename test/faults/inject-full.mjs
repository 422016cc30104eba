// Preloaded into batchlab's processes by the disk-full fault test (NODE_OPTIONS=--import=<this file>, so
// the sweep's workers load it too), which runs everywhere, a small tmpfs or not. The disk is "full"
// while the file named by BATCHLAB_FAULT_FULL_FLAG exists, or, with BATCHLAB_FAULT_FULL_AFTER_WRITES=N,
// from the (N+1)-th write statement of the process on:
// - every SQLite write statement fails as SQLite fails on a full disk (SqliteError SQLITE_FULL);
// - a write to an output file's temporary file (.batchlab-*.tmp) writes part of its bytes, then fails
//   with ENOSPC, as write(2) does when the disk fills during a write.
import { existsSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';

const flag = process.env.BATCHLAB_FAULT_FULL_FLAG;
const afterWrites = Number(process.env.BATCHLAB_FAULT_FULL_AFTER_WRITES ?? Number.POSITIVE_INFINITY);
let writes = 0;
const require = createRequire(import.meta.url);
const full = () => (flag !== undefined && existsSync(flag)) || writes > afterWrites;

const Database = require('better-sqlite3');
// BATCHLAB_FAULT_FULL_MODE=inserts: a nearly full disk, where appending rows fails but a small update in
// place still fits (the run's status, say).
const WRITE_SQL =
  process.env.BATCHLAB_FAULT_FULL_MODE === 'inserts' ? /^\s*INSERT\b/i : /^\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b/i;
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function prepareFaulty(sql, ...rest) {
  const statement = prepare.call(this, sql, ...rest);
  if (WRITE_SQL.test(sql)) {
    const run = statement.run;
    statement.run = function runFaulty(...args) {
      writes++;
      if (full()) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      return run.apply(this, args);
    };
  }
  return statement;
};

const fs = require('node:fs');
const tempFds = new Set();
const openSync = fs.openSync;
const writeSync = fs.writeSync;
const closeSync = fs.closeSync;
fs.openSync = function openTracked(path, ...rest) {
  const fd = openSync.call(this, path, ...rest);
  if (/\.batchlab-[^/]*\.tmp$/.test(String(path))) tempFds.add(fd);
  return fd;
};
fs.writeSync = function writeFaulty(fd, buffer, offset, length, ...rest) {
  if (!tempFds.has(fd) || !full()) return writeSync.call(this, fd, buffer, offset, length, ...rest);
  if (typeof buffer !== 'string' && typeof length === 'number' && length > 1)
    return writeSync.call(this, fd, buffer, offset, Math.floor(length / 2), ...rest);
  throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
  });
};
fs.closeSync = function closeTracked(fd, ...rest) {
  tempFds.delete(fd);
  return closeSync.call(this, fd, ...rest);
};
syncBuiltinESMExports();
