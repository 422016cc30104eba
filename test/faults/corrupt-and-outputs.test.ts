/**
 * Fault injection on the files themselves: a database damaged at seeded random places (bytes overwritten,
 * a page zeroed, the file cut short, a garbage write-ahead log beside it), and a kill -9 while a report
 * or an export is being written.
 *
 * A damaged database gets one line and a batchlab error code from every command that reads it (resume,
 * report, export, list), never a stack trace; the readers leave it byte for byte as it was (a resume,
 * which writes, may have written its lock before SQLite met the damage). An output file killed mid-write is the earlier file or the new one, whole, never a
 * truncated one.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Rng } from '../../src/core/random.js';
import { between, type Exit, faultFixture, faultRng, hasStack, runCli, sleep, startCli, Tally } from './harness.js';

/** Damaged copies of the database, each run through four commands. */
const CORRUPTIONS = 8;
/** Kills of `report -o` and of `export --output` at random points. */
const OUTPUT_KILLS = 6;
const PAGE_BYTES = 4096;

const fixture = faultFixture('files');
const DIR = fixture.dir;
/** A finished sweep, all in one file (its write-ahead log checkpointed). */
const GOOD = fixture.cleanDb;

before(() => {
  const conn = new Database(GOOD);
  conn.pragma('wal_checkpoint(TRUNCATE)');
  conn.close();
});

/** Damages `file` in one of four ways, at random places; returns what was done. */
function corrupt(file: string, rng: Rng): string {
  const size = statSync(file).size;
  const kind = rng.randInt(4);
  if (kind === 0) {
    const bytes = Buffer.from(readFileSync(file));
    const n = 1 + rng.randInt(16);
    for (let i = 0; i < n; i++) bytes[rng.randInt(size)] = rng.randInt(256);
    writeFileSync(file, bytes);
    return `${n} bytes overwritten`;
  }
  if (kind === 1) {
    const bytes = Buffer.from(readFileSync(file));
    const page = rng.randInt(size / PAGE_BYTES);
    bytes.fill(0, page * PAGE_BYTES, (page + 1) * PAGE_BYTES);
    writeFileSync(file, bytes);
    return `page ${page + 1} zeroed`;
  }
  if (kind === 2) {
    truncateSync(file, rng.randInt(size));
    return 'cut short';
  }
  const wal = Buffer.alloc(PAGE_BYTES * (1 + rng.randInt(4)));
  for (let i = 0; i < wal.length; i++) wal[i] = rng.randInt(256);
  writeFileSync(`${file}-wal`, wal);
  return 'garbage write-ahead log';
}

/** A command on a damaged database: success, or one line with a batchlab error code; never a stack. */
function checkCommand(e: Exit, what: string): string {
  assert.ok(!hasStack(e.stderr), `${what}: no stack trace:\n${e.stderr}`);
  if (e.code === 0) return 'ok';
  assert.ok(e.code === 1 || e.code === 2, `${what}: exit ${e.code}, ${e.signal}: ${e.stderr}`);
  const last = e.stderr.trim().split('\n').at(-1) ?? '';
  assert.match(last, /^error \[BATCHLAB_[A-Z_]+\]: /, `${what}: ${e.stderr}`);
  return last.includes('is not a batchlab database') ? 'refused as not a batchlab database' : 'error';
}

test('a damaged database: every command answers with one line, never a stack; readers leave the file untouched', async (t) => {
  const rng = faultRng('corrupt database');
  const tally = new Tally();
  for (let i = 0; i < CORRUPTIONS; i++) {
    const db = join(DIR, `damaged-${i}.db`);
    copyFileSync(GOOD, db);
    const how = corrupt(db, rng);
    const commands = [
      ['list', '--db', db],
      ['export', '1', '--format', 'csv', '--db', db],
      ['report', '1', '-o', join(DIR, `damaged-${i}.html`), '--db', db],
      ['sweep', '--resume', '1', '--no-report', '--db', db],
    ];
    const outcomes: string[] = [];
    for (const args of commands) {
      const before = readFileSync(db);
      const what = `${how}: batchlab ${args[0]}`;
      const outcome = checkCommand(await runCli(args), what);
      // The readers never change it. A resume may have written (its lock) before SQLite met the damage.
      if (args[0] !== 'sweep') assert.ok(readFileSync(db).equals(before), `${what}: the file is unchanged`);
      if (args[0] === 'report' && outcome === 'ok')
        assert.match(readFileSync(args[3]!, 'utf8'), /<\/html>\s*$/, `${what}: the report is whole`);
      outcomes.push(`${args[0]} ${outcome}`);
    }
    tally.add(`${how.replace(/^\d+ bytes|page \d+/, (m) => (m.startsWith('page') ? 'a page' : 'bytes'))}`);
    t.diagnostic(`damaged database ${i + 1} (${how}): ${outcomes.join(', ')}`);
  }
  t.diagnostic(tally.line('damaged database, each read by list, export, report and resume'));
});

/** Whether `file` is a whole report or export, by its end. */
function whole(file: string, kind: 'report' | 'export'): boolean {
  const text = readFileSync(file, 'utf8');
  return kind === 'report' ? /<\/html>\s*$/.test(text) : text.endsWith('\n') && text.split('\n').length > 3;
}

test('kill -9 while a report or an export is written: the file there is the earlier one or the new one, whole', async (t) => {
  const rng = faultRng('output kill -9');
  const tally = new Tally();
  const targets = { report: join(DIR, 'report.html'), export: join(DIR, 'steps.csv') };
  const argsOf = (kind: 'report' | 'export') =>
    kind === 'report'
      ? ['report', '1', '-o', targets.report, '--db', GOOD]
      : ['export', '1', '--format', 'csv', '--output', targets.export, '--db', GOOD];
  // One clean write of each: the earlier file, and how long a write takes on this machine now (the
  // file is written at the end of that time, so the kills fall from 60% to 110% of it).
  const durationMs = { report: 0, export: 0 };
  for (const kind of ['report', 'export'] as const) {
    const startMs = performance.now();
    assert.equal((await runCli(argsOf(kind))).code, 0);
    durationMs[kind] = performance.now() - startMs;
  }
  for (let i = 0; i < OUTPUT_KILLS; i++) {
    const kind = i % 2 === 0 ? 'report' : 'export';
    const proc = startCli(argsOf(kind));
    const delayMs = between(rng, 0.6, 1.1) * durationMs[kind];
    const finished = await Promise.race([sleep(delayMs).then(() => false), proc.exited.then(() => true)]);
    if (!finished) process.kill(proc.pid, 'SIGKILL');
    const exit = await proc.exited;
    if (finished) assert.equal(exit.code, 0, exit.stderr);
    assert.ok(whole(targets[kind], kind), `${kind} ${i + 1}: the file is whole`);
    tally.add(finished ? `${kind} finished` : `${kind} killed, the file there whole`);
  }
  t.diagnostic(tally.line('kill -9 of report -o and export --output'));
});
