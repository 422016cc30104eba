/**
 * Fault injection: kill -9 of the parent (the `batchlab sweep` process) and of a worker (the child that
 * trains one run), at seeded random points, many times over. After each kill the invariants hold
 * (harness.ts), and `--resume` (with `--retry-failed` for a killed worker, which counts as an
 * out-of-memory) completes the sweep with every run identical to a clean one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Rng } from '../../src/core/random.js';
import {
  alive,
  faultFixture,
  checkInvariants,
  childPids,
  type Exit,
  FAULT_SWEEP,
  faultPoint,
  faultRng,
  type Proc,
  runCli,
  sleep,
  startCli,
  Tally,
  waitGone,
} from './harness.js';

/** Kills of the parent: each iteration starts (or resumes) the sweep and kills it with SIGKILL. */
const PARENT_KILLS = 16;
/** Rounds of the worker test; each kills the worker of every run that still has to run. */
const WORKER_ROUNDS = 2;

const fixture = faultFixture('kill');
const DIR = fixture.dir;

test('kill -9 of the parent at random points: no finished run is lost or changed, and --resume completes the sweep', async (t) => {
  const rng = faultRng('parent kill -9');
  const tally = new Tally();
  let chain = 0;
  let db = join(DIR, `parent-${chain}.db`);
  for (let i = 0; i < PARENT_KILLS; i++) {
    const what = `parent kill ${i + 1}`;
    const state = checkInvariants(db, fixture.reference(), what);
    if (state.complete) db = join(DIR, `parent-${++chain}.db`);
    const fresh = state.complete || state.experiments === 0;
    const proc = startCli(fresh ? ['sweep', ...FAULT_SWEEP, '--db', db] : ['sweep', '--resume', '1', '--db', db]);
    const point = await faultPoint(db, proc, rng);
    const workers = childPids(proc.pid);
    const killed = alive(proc.pid);
    if (killed) process.kill(proc.pid, 'SIGKILL');
    const exit = await proc.exited;
    if (!killed) assert.equal(exit.code, 0, `${what}: ${exit.stderr}`);
    // A stale lock left by the killed owner is taken over, and the resume says so.
    if (!fresh && state.lockPid !== undefined && !alive(state.lockPid) && workers.length > 0)
      assert.match(exit.stderr, /took the lock over/, `${what}: ${exit.stderr}`);
    const waited = rng.uniform() < 0.5;
    if (waited) await waitGone(workers);
    checkInvariants(db, fixture.reference(), what);
    const orphan = workers.length > 0 && !waited ? ', resumed while its worker was still stopping' : '';
    tally.add(killed ? `killed ${point}${orphan}` : 'finished before the kill');
  }
  const last = await runCli(['sweep', '--resume', '1', '--db', db]);
  assert.equal(last.code, 0, last.stderr);
  assert.ok(
    checkInvariants(db, fixture.reference(), 'after the last resume').complete,
    'the resume completed the sweep',
  );
  t.diagnostic(tally.line(`kill -9 of the parent over ${chain + 1} sweeps`));
});

/**
 * Steps stored for the run in progress; 0 before the sweep has made its store (a warm worker starts
 * loading the dataset while the sweep still checks its settings, before the store exists).
 */
function runningSteps(db: string): number {
  if (!existsSync(db)) return 0;
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const made = conn.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'steps'").pluck().get() as number;
    if (made === 0) return 0;
    return conn
      .prepare("SELECT count(*) FROM steps WHERE run_id IN (SELECT id FROM runs WHERE status = 'running')")
      .pluck()
      .get() as number;
  } finally {
    conn.close();
  }
}

/** Kills the worker of each run of the sweep once its run has stored a random number of its 150 steps. */
async function killWorkers(proc: Proc, db: string, rng: Rng, tally: Tally): Promise<Exit> {
  const seen: number[] = [];
  let done = false;
  void proc.exited.then(() => (done = true));
  while (!done) {
    const worker = childPids(proc.pid).find((p) => !seen.includes(p));
    if (worker === undefined) {
      await sleep(10);
      continue;
    }
    seen.push(worker);
    const steps = Math.floor(rng.uniform() * 150);
    while (alive(worker) && runningSteps(db) < steps) await sleep(10);
    if (alive(worker)) {
      process.kill(worker, 'SIGKILL');
      tally.add('killed mid-run');
    } else tally.add('worker had finished before the kill');
  }
  return proc.exited;
}

test('kill -9 of a worker at random points: that run is out of memory (SIGKILL), the others go on; --retry-failed reruns it', async (t) => {
  const rng = faultRng('worker kill -9');
  const tally = new Tally();
  const db = join(DIR, 'worker.db');
  for (let round = 0; round < WORKER_ROUNDS; round++) {
    const what = `worker kills, round ${round + 1}`;
    const args =
      round === 0 ? ['sweep', ...FAULT_SWEEP, '--db', db] : ['sweep', '--resume', '1', '--retry-failed', '--db', db];
    const exit = await killWorkers(startCli(args), db, rng, tally);
    const state = checkInvariants(db, fixture.reference(), what);
    for (const status of Object.keys(state.statuses))
      assert.ok(status === 'done' || status === 'oom', `${what}: ${JSON.stringify(state.statuses)}`);
    assert.equal(exit.code, state.complete ? 0 : 1, `${what}: ${exit.stderr}`);
    if (state.complete) continue;
    assert.match(exit.stderr, /oom \(killed by SIGKILL, which batchlab did not send/, what);
    // Without --retry-failed, a resume leaves a run that failed on its own as it is.
    const plain = await runCli(['sweep', '--resume', '1', '--db', db]);
    assert.equal(plain.code, 1, plain.stderr);
    assert.doesNotMatch(plain.stderr, /^run \d+\/3/m, `${what}: a plain --resume runs nothing`);
    assert.deepEqual(checkInvariants(db, fixture.reference(), `${what}, plain resume`).statuses, state.statuses);
  }
  const last = await runCli(['sweep', '--resume', '1', '--retry-failed', '--db', db]);
  assert.equal(last.code, 0, last.stderr);
  assert.ok(checkInvariants(db, fixture.reference(), 'after --retry-failed').complete);
  t.diagnostic(tally.line('kill -9 of a worker'));
});
