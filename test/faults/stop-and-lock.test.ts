/**
 * Fault injection: SIGTERM (what kill, systemd, Docker and Slurm send) at seeded random points, and
 * several `--resume` of the same sweep started at the same moment. After SIGTERM the sweep exits 143
 * with the run in progress interrupted, and resumes; of concurrent resumers exactly one runs the sweep,
 * the others exit 2 naming its pid (or, having come after it finished, find nothing to do): no run is
 * ever run twice at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  alive,
  faultFixture,
  checkInvariants,
  childPids,
  type Exit,
  type Proc,
  FAULT_SWEEP,
  FAULT_SWEEP_STEPS,
  faultRng,
  reachSteps,
  runCli,
  sleep,
  startCli,
  storedSteps,
  Tally,
  waitGone,
} from './harness.js';

const SIGTERMS = 3;
const RESUMER_ROUNDS = 2;
const RESUMERS = 3;

const fixture = faultFixture('stop');
const DIR = fixture.dir;

function experimentStatus(db: string): string {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return conn.prepare('SELECT status FROM experiments WHERE id = 1').pluck().get() as string;
  } finally {
    conn.close();
  }
}

/** Starts (or resumes) the sweep and stops it with `signal` once a random number of its steps are stored. */
async function stopAtRandomStep(
  db: string,
  signal: NodeJS.Signals,
  rng: ReturnType<typeof faultRng>,
): Promise<{ exit: Exit; workers: number[]; sent: boolean }> {
  const fresh = storedSteps(db) < 0;
  const proc = startCli(fresh ? ['sweep', ...FAULT_SWEEP, '--db', db] : ['sweep', '--resume', '1', '--db', db]);
  // At least one step of this process's own run: its signal handlers are in place by then.
  const from = Math.max(0, storedSteps(db));
  await reachSteps(db, proc, from + 1 + Math.floor(rng.uniform() * (FAULT_SWEEP_STEPS - from - 1)));
  const workers = childPids(proc.pid);
  const sent = alive(proc.pid);
  if (sent) process.kill(proc.pid, signal);
  return { exit: await proc.exited, workers, sent };
}

test('SIGTERM at random points: exit 143, the run in progress interrupted, the sweep resumable', async (t) => {
  const rng = faultRng('sigterm');
  const tally = new Tally();
  let sweeps = 0;
  let db = join(DIR, `sigterm-${sweeps}.db`);
  for (let i = 0; i < SIGTERMS; i++) {
    const what = `SIGTERM ${i + 1}`;
    if (checkInvariants(db, fixture.reference(), what).complete) db = join(DIR, `sigterm-${++sweeps}.db`);
    const { exit, workers, sent } = await stopAtRandomStep(db, 'SIGTERM', rng);
    await waitGone(workers);
    const state = checkInvariants(db, fixture.reference(), what);
    if (!sent || exit.code === 0) {
      tally.add('finished before the signal');
      continue;
    }
    assert.equal(exit.code, 143, `${what}: ${exit.stderr}`);
    assert.doesNotMatch(exit.stderr, /^\s+at /m, `${what}: no stack trace`);
    assert.match(exit.stdout, /sweep 1 was interrupted/, what);
    assert.match(exit.stdout, /resume it with: batchlab sweep --resume 1/, what);
    assert.equal(experimentStatus(db), 'interrupted', what);
    assert.equal(state.statuses.running, undefined, `${what}: no run left running: ${JSON.stringify(state.statuses)}`);
    assert.equal(state.statuses.interrupted, 1, `${what}: the run in progress is interrupted`);
    tally.add('stopped mid-run');
  }
  const last = await runCli(['sweep', '--resume', '1', '--db', db]);
  assert.equal(last.code, 0, last.stderr);
  assert.ok(checkInvariants(db, fixture.reference(), 'after the SIGTERMs').complete);
  t.diagnostic(tally.line(`SIGTERM, over ${sweeps + 1} sweeps`));
});

/** The runs a command line started, by its progress lines ("run 2/3: B=16 ..."). */
function runsStarted(exit: Exit): string[] {
  return [...exit.stderr.matchAll(/^run \d+\/\d+: B=(\d+)/gm)].map((m) => m[1]!);
}

/** Resolves when all but one of `procs` have exited; returns the one still running, if any. */
async function allButOneExited(procs: Proc[]): Promise<Proc | undefined> {
  const running = new Set(procs);
  for (const p of procs) void p.exited.then(() => running.delete(p));
  while (running.size > 1) await sleep(20);
  return [...running][0];
}

test('concurrent --resume of one sweep: one runs it, the others are refused naming its pid; no run is run twice', async (t) => {
  const rng = faultRng('concurrent resumers');
  const tally = new Tally();
  let sweeps = 0;
  let db = '';
  for (let round = 0; round < RESUMER_ROUNDS; round++) {
    const what = `resumers, round ${round + 1}`;
    if (round === 0 || checkInvariants(db, fixture.reference(), what).complete) {
      db = join(DIR, `resumers-${sweeps++}.db`);
      await stopAtRandomStep(db, 'SIGINT', rng);
    }
    const procs = Array.from({ length: RESUMERS }, () => startCli(['sweep', '--resume', '1', '--db', db]));
    // Once the others have given up, the one that runs the sweep is stopped at a random step (Ctrl-C),
    // except in the last round, which completes the sweep.
    const owner = await allButOneExited(procs);
    if (owner !== undefined && round < RESUMER_ROUNDS - 1) {
      await reachSteps(db, owner, storedSteps(db) + 1 + Math.floor(rng.uniform() * 150));
      if (alive(owner.pid)) process.kill(owner.pid, 'SIGINT');
    }
    const exits = await Promise.all(procs.map((p) => p.exited));
    const runners = exits.filter((e) => runsStarted(e).length > 0);
    assert.ok(
      runners.length <= 1,
      `${what}: one resumer runs the sweep: ${exits.map((e) => e.stderr).join('\n---\n')}`,
    );
    for (const [i, e] of exits.entries()) tally.add(resumerOutcome(e, i, procs, what));
    checkInvariants(db, fixture.reference(), what);
  }
  const last = await runCli(['sweep', '--resume', '1', '--db', db]);
  assert.equal(last.code, 0, last.stderr);
  assert.ok(checkInvariants(db, fixture.reference(), 'after the resumers').complete);
  t.diagnostic(tally.line(`${RESUMERS} concurrent resumers, over ${sweeps} sweeps`));
});

/** How one of the concurrent resumers ended; a refusal is one line that names the pid of the one that runs the sweep. */
function resumerOutcome(e: Exit, i: number, procs: Proc[], what: string): string {
  if (runsStarted(e).length > 0) {
    assert.ok(e.code === 0 || e.code === 130, `${what}: ${e.stderr}`);
    return e.code === 0 ? 'ran the sweep to its end' : 'ran the sweep until stopped';
  }
  if (e.code !== 2) {
    assert.equal(e.code, 0, `${what}: ${e.stderr}`);
    return 'came after the owner had finished, nothing to run';
  }
  const m = /^error \[BATCHLAB_LOCKED\]: experiment 1 is being run by another batchlab process \(pid (\d+),/m.exec(
    e.stderr,
  );
  assert.ok(m, `${what}: ${e.stderr}`);
  assert.ok(
    procs.some((p, j) => j !== i && p.pid === Number(m[1])),
    `${what}: the refusal names the pid of the resumer that runs the sweep`,
  );
  assert.equal(e.stderr.trim().split('\n').length, 1, `${what}: one line: ${e.stderr}`);
  return 'refused, the owner named';
}
