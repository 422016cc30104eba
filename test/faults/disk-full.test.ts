/**
 * Fault injection: the disk fills up at a seeded random point of a sweep. Two ways, so each runs where
 * it can: a small tmpfs holding the database that another file fills up (needs `mount`, e.g. root in
 * CI's container; skipped, and said so, where mount is refused), and an ENOSPC injected into the store's
 * write path by a preload (inject-full.mjs), which runs everywhere.
 *
 * After the disk fills: the run in progress is interrupted, never failed; the database passes its
 * integrity check and every finished run is identical to a clean one; an output file written onto the
 * full disk fails with one line and leaves the earlier file whole (no truncated file, no temporary left).
 * Once space is freed, `--resume` completes the sweep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Rng } from '../../src/core/random.js';
import {
  alive,
  faultFixture,
  BIN,
  faultPoint,
  checkInvariants,
  type Exit,
  FAULT_SWEEP,
  FAULT_SWEEP_STEPS,
  faultRng,
  type Proc,
  reachSteps,
  hasStack,
  runCli,
  startCli,
  Tally,
} from './harness.js';

/** Sweeps per variant, each filled at its own random point. */
const ITERATIONS = 2;
const PRELOAD = fileURLToPath(new URL('./inject-full.mjs', import.meta.url));

const fixture = faultFixture('full');
const DIR = fixture.dir;

/** A disk that can be filled and freed. */
interface Disk {
  /** Where the database and the output files go. */
  dir: string;
  env?: NodeJS.ProcessEnv;
  fill(): void;
  free(): void;
}

/** The previous report that a write onto the full disk must leave whole. */
const PREVIOUS_REPORT = '<!doctype html><title>an earlier report</title></html>\n';

/**
 * One sweep: the disk fills after a random delay; checks; an output file onto the full disk; space is
 * freed; --resume completes the sweep.
 */
async function fillDuringSweep(
  disk: Disk,
  i: number,
  rng: Rng,
  tally: Tally,
  point: typeof faultPoint = faultPoint,
): Promise<void> {
  const db = join(disk.dir, `sweep-${i}.db`);
  const what = `disk full ${i + 1}`;
  const proc = startCli(['sweep', ...FAULT_SWEEP, '--db', db], { env: disk.env });
  const where = await point(db, proc, rng);
  const finished = !alive(proc.pid);
  disk.fill();
  const exit = await proc.exited;
  const state = checkInvariants(db, fixture.reference(), what);
  assert.equal(state.statuses.failed, undefined, `${what}: a full disk never fails a run: ${JSON.stringify(state)}`);
  tally.add(`${stoppedHow(exit, finished, what)} (filled ${where})`);
  if (state.experiments === 1) checkOutputOnFullDisk(disk, db, what);
  disk.free();
  if (state.experiments === 1) {
    const resumed = await runCli(['sweep', '--resume', '1', '--db', db], { env: disk.env });
    assert.equal(resumed.code, 0, `${what}: ${resumed.stderr}`);
  }
  const done = checkInvariants(db, fixture.reference(), `${what}, resumed`);
  assert.ok(done.complete || state.experiments === 0, `${what}: the resume completed the sweep`);
  for (const f of readdirSync(disk.dir)) if (f.startsWith('sweep-')) rmSync(join(disk.dir, f));
}

/** How the sweep ended when the disk filled; checks its one line. */
function stoppedHow(exit: Exit, finishedBefore: boolean, what: string): string {
  if (exit.code === 0) return finishedBefore ? 'finished before the disk was full' : 'finished on the space it had';
  assert.doesNotMatch(exit.stderr, /^\s+at /m, `${what}: no stack trace`);
  const error = exit.stderr.trim().split('\n').at(-1)!;
  if (exit.code === 2) {
    assert.match(error, /^error \[BATCHLAB_STORE\]: the disk holding .* is full/, what);
    return 'stopped before the experiment was created';
  }
  // The one exit-code table (core/errors.ts): an interrupted, resumable sweep exits 130.
  assert.equal(exit.code, 130, `${what}: ${exit.stderr}`);
  assert.match(error, /^error \[BATCHLAB_INTERRUPTED\]: sweep 1 stopped/, what);
  assert.match(error, /full/, what);
  assert.match(error, /batchlab sweep --resume 1 --db /, what);
  return 'stopped by the full disk, run interrupted';
}

/** A report written onto the full disk fails with one line, leaving the earlier file whole and no temporary. */
function checkOutputOnFullDisk(disk: Disk, db: string, what: string): void {
  const target = join(disk.dir, 'report.html');
  const r = spawnSync(process.execPath, [BIN, 'report', '1', '-o', target, '--db', db], {
    encoding: 'utf8',
    env: { ...process.env, ...disk.env },
  });
  if (r.status === 0) return; // the report fitted in what was left
  assert.equal(r.status, 2, `${what}: ${r.stderr}`);
  assert.match(r.stderr.trim(), /^error \[BATCHLAB_OUTPUT\]: cannot write .*report\.html: the disk is full/, what);
  assert.equal(readFileSync(target, 'utf8'), PREVIOUS_REPORT, `${what}: the earlier report is whole`);
  assert.deepEqual(
    readdirSync(disk.dir).filter((f) => f.endsWith('.tmp')),
    [],
    `${what}: no temporary file left`,
  );
}

/** Mounts a tmpfs of `size` on a new folder; undefined (with why) where mount is refused. */
function mountTmpfs(size: string): { dir: string } | { refused: string } {
  const dir = mkdtempSync(join(DIR, 'tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) return { dir };
  return { refused: (r.error?.message ?? r.stderr).trim() || `mount exited with ${r.status}` };
}

/** Fills the file system of `dir` with one file, until it is full. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

test('disk full on a small tmpfs: the run is interrupted, outputs stay whole, --resume finishes once space is freed', async (t) => {
  const mounted = mountTmpfs('24m');
  if ('refused' in mounted) {
    t.diagnostic(
      `fault suite: disk full (tmpfs): not run, mount was refused (${mounted.refused}); the injected ENOSPC variant covers it`,
    );
    t.skip(`mount refused: ${mounted.refused}`);
    return;
  }
  const filler = join(mounted.dir, 'filler');
  const disk: Disk = { dir: mounted.dir, fill: () => fillUp(filler), free: () => rmSync(filler, { force: true }) };
  try {
    writeFileSync(join(mounted.dir, 'report.html'), PREVIOUS_REPORT);
    const rng = faultRng('disk full tmpfs');
    const tally = new Tally();
    for (let i = 0; i < ITERATIONS; i++) await fillDuringSweep(disk, i, rng, tally);
    t.diagnostic(tally.line('disk full (a 24 MiB tmpfs filled up by another file)'));
  } finally {
    spawnSync('umount', ['-l', mounted.dir]);
  }
});

test('disk full injected into the store and output writes (ENOSPC, SQLITE_FULL): the same guarantees', async (t) => {
  const rng = faultRng('disk full injected');
  const tally = new Tally();
  for (const mode of ['all', 'inserts'] as const) {
    const dir = mkdtempSync(join(DIR, `injected-${mode}-`));
    const flag = join(dir, 'disk-is-full');
    const disk: Disk = {
      dir,
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim(),
        BATCHLAB_FAULT_FULL_FLAG: flag,
        BATCHLAB_FAULT_FULL_MODE: mode,
      },
      fill: () => writeFileSync(flag, ''),
      free: () => rmSync(flag, { force: true }),
    };
    writeFileSync(join(dir, 'report.html'), PREVIOUS_REPORT);
    // Full: every write fails, at a random point. Nearly full: appending steps fails while a small
    // update still fits, so the run's end is written: it must say interrupted, not failed.
    for (let i = 0; i < ITERATIONS; i++)
      await fillDuringSweep(disk, i, rng, tally, mode === 'all' ? faultPoint : duringRun);
  }
  t.diagnostic(tally.line('disk full (ENOSPC injected into the write path; full, and nearly full)'));
});

/** A point during a run: once a random number of the sweep's steps (at least one) are stored. */
async function duringRun(db: string, proc: Proc, rng: Rng): Promise<string> {
  await reachSteps(db, proc, 1 + Math.floor(rng.uniform() * (FAULT_SWEEP_STEPS - 1)));
  return 'during a run, nearly full';
}

test('disk full while the experiment is created: the experiment and all its runs are written, or none of it', async (t) => {
  const tally = new Tally();
  // The creation writes the experiment, its three runs and its lock; the disk fills before each of them.
  for (let writes = 0; writes <= 5; writes++) {
    const db = join(DIR, `creation-${writes}.db`);
    const env = {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim(),
      BATCHLAB_FAULT_FULL_AFTER_WRITES: String(writes),
    };
    const exit = await runCli(['sweep', ...FAULT_SWEEP, '--db', db], { env });
    const state = checkInvariants(db, fixture.reference(), `disk full after ${writes} writes`);
    assert.ok(!hasStack(exit.stderr), exit.stderr);
    if (state.experiments === 0) {
      assert.equal(exit.code, 2, exit.stderr);
      assert.match(exit.stderr.trim(), /^error \[BATCHLAB_STORE\]: the disk holding .* is full/);
      tally.add('nothing created');
    } else tally.add('created whole, stopped later');
  }
  t.diagnostic(tally.line("disk full at each write of the experiment's creation"));
});
