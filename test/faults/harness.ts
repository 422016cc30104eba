/**
 * Tools of the fault-injection suite: the real command line (bin/batchlab.js over dist/, so `npm run
 * build` first) started in the background, the faults, and the invariant check that runs after each one.
 *
 * The invariants (issue 12), checked on the database after every fault:
 * - SQLite's own check passes (`PRAGMA integrity_check` is "ok");
 * - every run that is `done` is intact and identical to the same run of a clean sweep with the same
 *   seed: the same steps 1..n with the same losses, and a summary;
 * - a run that is not done holds the steps of one attempt at most: 1..k, no gap, no repeat;
 * - the one experiment has the planned runs, and nothing else.
 * The tests then check that `--resume` completes the sweep, and that output files are whole.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createRng, type Rng } from '../../src/core/random.js';

export const BIN = fileURLToPath(new URL('../../bin/batchlab.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The sweep every fault interrupts: Iris, a small MLP, three batch sizes, 150 steps each (about a
 * second per run, most of it the worker's start and the evaluations), no sharpness, no report.
 */
export const FAULT_SWEEP: readonly string[] = [
  '--dataset',
  'iris',
  '--model',
  'mlp',
  '--hidden',
  '16',
  '--batch-sizes',
  '8,16,32',
  '--budget',
  'steps=150',
  '--sharpness-iterations',
  '0',
  '--no-report',
];

/** A test file's folder (removed at its end), and the clean sweep that every fault is compared with. */
export interface FaultFixture {
  dir: string;
  /** The clean sweep's database: FAULT_SWEEP run to its end with nothing done to it. */
  cleanDb: string;
  /** Its losses by run key (once `before` has run). */
  reference(): Map<string, number[]>;
}

/** Registers the file's `before` (the clean sweep) and `after` (cleanup) hooks. */
export function faultFixture(label: string): FaultFixture {
  const dir = mkdtempSync(join(tmpdir(), `batchlab-faults-${label}-`));
  const cleanDb = join(dir, 'clean.db');
  let reference: Map<string, number[]> | undefined;
  before(async () => {
    const clean = await runCli(['sweep', ...FAULT_SWEEP, '--db', cleanDb]);
    assert.equal(clean.code, 0, clean.stderr);
    reference = lossesByKey(cleanDb);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, cleanDb, reference: () => reference! };
}

/** How a command line ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A command line running in the background. */
export interface Proc {
  child: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
}

/** Starts `batchlab ARGS` in the background. */
export function startCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, pid: child.pid!, exited };
}

/** Runs `batchlab ARGS` to its end. */
export function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Exit> {
  return startCli(args, opts).exited;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The suite's seeded random stream (the same faults at the same points of each run, as far as timing allows). */
export function faultRng(label: string): Rng {
  let h = 12;
  for (const c of label) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return createRng(h);
}

/** Uniform in [lo, hi). */
export function between(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.uniform();
}

/** Pids of the live direct children of `pid` (a sweep's worker), from /proc. */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === pid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether process `pid` still runs (a zombie does not count). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits until none of `pids` runs (orphaned workers finishing), at most `timeoutMs`. */
export async function waitGone(pids: readonly number[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.filter(alive).join(', ')} still run`);
    await sleep(50);
  }
}

/** Steps of every run of FAULT_SWEEP: 3 runs of 150 steps. */
export const FAULT_SWEEP_STEPS = 450;

/**
 * The sweep's progress in `db`: the steps of its runs that are done or running (not those of a stopped
 * attempt, which a resume clears when it starts the run again), or -1 before the schema exists.
 */
export function storedSteps(db: string): number {
  let conn: Database.Database | undefined;
  try {
    conn = openReader(db);
    if (conn === undefined) return -1;
    return conn
      .prepare("SELECT count(*) FROM steps WHERE run_id IN (SELECT id FROM runs WHERE status IN ('done', 'running'))")
      .pluck()
      .get() as number;
  } catch {
    return -1; // the file is being created
  } finally {
    conn?.close();
  }
}

/**
 * Waits until the sweep `proc` has stored at least `steps` steps, or has exited; true if it is still
 * running. Fault points are counted in steps, not in milliseconds, so they fall at the same places
 * however loaded the machine is.
 */
export async function reachSteps(db: string, proc: Proc, steps: number): Promise<boolean> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (!exited && storedSteps(db) < steps) await sleep(15);
  return !exited;
}

/**
 * Where a fault strikes a running sweep, drawn at random: one in six at a random moment of its start (before or
 * after the experiment exists), one in six once every step is stored (its summary and status being
 * written, or already done), else once the store holds a random number of the sweep's steps.
 */
export async function faultPoint(db: string, proc: Proc, rng: Rng): Promise<string> {
  const u = rng.uniform();
  if (u < 1 / 6) {
    await Promise.race([sleep(between(rng, 0, 1500)), proc.exited]);
    return 'at start';
  }
  if (u < 2 / 6) {
    await reachSteps(db, proc, FAULT_SWEEP_STEPS);
    await Promise.race([sleep(between(rng, 0, 300)), proc.exited]);
    return 'after the last step';
  }
  const from = Math.max(0, storedSteps(db));
  await reachSteps(db, proc, from + Math.floor(rng.uniform() * (FAULT_SWEEP_STEPS - from)));
  return 'during a run';
}

/** Opens the database as a reader, or undefined when it does not exist or holds no schema yet. */
function openReader(db: string): Database.Database | undefined {
  if (!existsSync(db)) return undefined;
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  const tables = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'runs'").all();
  if (tables.length === 0) {
    conn.close();
    return undefined;
  }
  return conn;
}

interface RunRow {
  id: number;
  key: string;
  status: string;
  summary: string | null;
  attempt: number;
}

/** Losses of every run by key, in step order. */
export function lossesByKey(db: string): Map<string, number[]> {
  const conn = openReader(db);
  assert.ok(conn, `${db} holds a sweep`);
  try {
    const runs = conn.prepare('SELECT id, key FROM runs ORDER BY id').all() as RunRow[];
    const steps = conn.prepare('SELECT loss FROM steps WHERE run_id = ? ORDER BY step').pluck();
    return new Map(runs.map((r) => [r.key, steps.all(r.id) as number[]]));
  } finally {
    conn.close();
  }
}

/** What the check saw: the runs by status, and whether the sweep is complete (every run done). */
export interface StoreState {
  experiments: number;
  statuses: Record<string, number>;
  complete: boolean;
  /** Who holds the experiment's lock, if anyone. */
  lockPid?: number;
}

/** Checks the invariants on `db` after a fault (see the module doc); `what` names the fault in messages. */
export function checkInvariants(db: string, reference: Map<string, number[]>, what: string): StoreState {
  const conn = openReader(db);
  if (conn === undefined) return { experiments: 0, statuses: {}, complete: false };
  try {
    assert.deepEqual(conn.pragma('integrity_check', { simple: true }), 'ok', `${what}: integrity_check`);
    const experiments = conn.prepare('SELECT id FROM experiments').pluck().all() as number[];
    assert.ok(experiments.length <= 1, `${what}: one experiment at most, got ${experiments.length}`);
    const runs = conn.prepare('SELECT id, key, status, summary, attempt FROM runs ORDER BY id').all() as RunRow[];
    if (experiments.length === 1)
      assert.deepEqual(
        runs.map((r) => r.key),
        [...reference.keys()],
        `${what}: the experiment has all its planned runs (created in one transaction)`,
      );
    else assert.equal(runs.length, 0, `${what}: no run without its experiment`);
    const statuses: Record<string, number> = {};
    for (const run of runs) {
      statuses[run.status] = (statuses[run.status] ?? 0) + 1;
      checkRun(conn, run, reference.get(run.key)!, what);
    }
    const lockPid = conn.prepare('SELECT pid FROM experiment_locks').pluck().get() as number | undefined;
    const complete = runs.length > 0 && runs.every((r) => r.status === 'done');
    return { experiments: experiments.length, statuses, complete, lockPid };
  } finally {
    conn.close();
  }
}

/** One run: a done run equals the clean run; any other holds one attempt's steps 1..k at most. */
function checkRun(conn: Database.Database, run: RunRow, reference: number[], what: string): void {
  const steps = conn.prepare('SELECT step, loss FROM steps WHERE run_id = ? ORDER BY step').all(run.id) as {
    step: number;
    loss: number;
  }[];
  const numbers = steps.map((s) => s.step);
  assert.deepEqual(
    numbers,
    numbers.map((_, i) => i + 1),
    `${what}: run ${run.key} (${run.status}) has steps 1..${steps.length} with no gap or repeat`,
  );
  if (run.status !== 'done') return;
  assert.ok(run.attempt >= 1, `${what}: a done run was started`);
  assert.ok(run.summary !== null, `${what}: done run ${run.key} has its summary`);
  assert.deepEqual(
    steps.map((s) => s.loss),
    reference,
    `${what}: done run ${run.key} is identical to the clean run (same losses, step for step)`,
  );
}

/** Counts outcomes by name, and prints them as one line. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(outcome: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }
  get total(): number {
    return [...this.counts.values()].reduce((a, n) => a + n, 0);
  }
  line(what: string): string {
    const parts = [...this.counts].map(([k, n]) => `${n} ${k}`);
    return `fault suite: ${what}: ${this.total} iterations (${parts.join(', ')}); the invariants held after every one`;
  }
}

/** Whether stderr holds a stack trace (a bug), rather than batchlab's one-line errors. */
export function hasStack(stderr: string): boolean {
  return /^\s+at .+[:(]/m.test(stderr);
}
