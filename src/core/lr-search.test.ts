import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type LrSearchResult,
  type LrSearchSettings,
  type LrTrial,
  lrGrid,
  planLrSearch,
  shouldCutTrial,
  type TrialPlan,
  trialOutcome,
} from './lr-search.js';
import { createRng, deriveSeed } from './random.js';

const CENTRE = 0.1;

/** A simulated workload: steps to the target vs LR, a parabola in ln LR around `best`, diverging above `divergeAbove`. */
interface Workload {
  best: number;
  minSteps: number;
  /** Relative noise of the steps (log-normal), fixed per (LR, seed). */
  sigma: number;
  divergeAbove?: number;
}

/** Steps the workload needs at this LR and seed (before any cut), or 'diverged'. */
function trueSteps(w: Workload, lr: number, seed: number): number | 'diverged' {
  if (w.divergeAbove !== undefined && lr > w.divergeAbove) return 'diverged';
  const noise = createRng(deriveSeed(seed, lr.toPrecision(12))).normal();
  return Math.ceil(w.minSteps * (1 + 0.5 * Math.log(lr / w.best) ** 2) * Math.exp(w.sigma * noise));
}

/** Runs a planned trial against the workload, honouring its step limit unless `noCut`. */
function runTrial(w: Workload, plan: TrialPlan, settings: LrSearchSettings, noCut = false): LrTrial {
  const limit = noCut ? settings.maxSteps : plan.stepLimit;
  const s = trueSteps(w, plan.lr, plan.seed);
  const base = { lr: plan.lr, seed: plan.seed };
  if (s === 'diverged') return { ...base, outcome: 'diverged', steps: 3 };
  const reached = s <= limit;
  const stepsDone = reached ? s : limit;
  return { ...base, outcome: trialOutcome(settings, { reached, diverged: false, stepsDone }), steps: stepsDone };
}

/** Plans and runs trials until the search is done; returns the result and the trials with the plans that made them. */
function search(
  w: Workload,
  settings: LrSearchSettings,
  options: { noCut?: boolean; trials?: LrTrial[] } = {},
): { result: LrSearchResult; trials: LrTrial[]; plans: TrialPlan[] } {
  const trials = [...(options.trials ?? [])];
  const plans: TrialPlan[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const step = planLrSearch(settings, trials);
    if (step.kind === 'done') return { result: step.result, trials, plans };
    assert.equal(step.kind, 'run', 'a sequential search never waits');
    const plan = step as TrialPlan;
    plans.push(plan);
    trials.push(runTrial(w, plan, settings, options.noCut));
  }
  throw new Error('search did not finish in 100 trials');
}

const SETTINGS: LrSearchSettings = { centerLr: CENTRE, seeds: [1], maxSteps: 100_000 };

test('the grid runs from the centre outwards, larger LR first', () => {
  const { plans } = search({ best: CENTRE, minSteps: 500, sigma: 0 }, SETTINGS);
  assert.deepEqual(
    plans.slice(0, 5).map((p) => p.lr / CENTRE),
    [1, 2, 0.5, 4, 0.25],
  );
  assert.deepEqual(
    lrGrid(SETTINGS).map((x) => x / CENTRE),
    [0.25, 0.5, 1, 2, 4],
  );
  assert.equal(plans[0]!.stepLimit, 100_000, 'no bar before the first result');
  assert.equal(plans[1]!.stepLimit, 500, 'later trials are cut at the best steps so far');
});

test('the grid widens when the best LR sits at an edge, until it is interior', () => {
  // Optimum at 8x the centre: the grid tops out at 4x, so it must try 8x and 16x.
  const up = search({ best: 8 * CENTRE, minSteps: 400, sigma: 0 }, SETTINGS);
  assert.equal(up.result.outcome, 'found', up.result.text);
  assert.ok(Math.abs(up.result.bestLr! / CENTRE - 8) < 1e-9);
  assert.deepEqual(
    up.result.lrsTried.map((x) => +(x / CENTRE).toFixed(6)),
    [0.25, 0.5, 1, 2, 4, 8, 16],
  );
  assert.deepEqual(
    up.plans.map((p) => p.phase),
    ['grid', 'grid', 'grid', 'grid', 'grid', 'widen', 'widen'],
  );
  // Optimum at 1/8 of the centre: widens down.
  const down = search({ best: CENTRE / 8, minSteps: 400, sigma: 0 }, SETTINGS);
  assert.ok(Math.abs(down.result.bestLr! / CENTRE - 1 / 8) < 1e-9, down.result.text);
  assert.equal(Math.min(...down.result.lrsTried) / CENTRE, 1 / 16);
});

test('widening stops at the limit and says so', () => {
  const far = search({ best: 1000 * CENTRE, minSteps: 400, sigma: 0 }, { ...SETTINGS, widenLimit: 2 });
  assert.equal(far.result.outcome, 'edge-limit');
  assert.equal(far.result.limitHit, 'high');
  assert.ok(Math.abs(far.result.bestLr! / CENTRE - 16) < 1e-9, 'grid top 4x + 2 steps = 16x');
  assert.match(
    far.result.text,
    /is the largest of 7 LRs .* after widening 2 step\(s\): the true best may lie beyond it/,
  );
});

test('diverging LRs bound the search from above; no LR reaching the target ends it', () => {
  const w = { best: 8 * CENTRE, minSteps: 400, sigma: 0, divergeAbove: 2.5 * CENTRE };
  const bounded = search(w, SETTINGS);
  assert.equal(bounded.result.outcome, 'found', 'best 2x is below the diverged 4x: interior');
  assert.ok(Math.abs(bounded.result.bestLr! / CENTRE - 2) < 1e-9);
  // Budget too small for any LR; the largest LR diverges: nothing to widen.
  const none = search(w, { ...SETTINGS, maxSteps: 100 });
  assert.equal(none.result.outcome, 'none-reached');
  assert.equal(none.trials.length, 5);
  assert.match(none.result.text, /no LR reached the target/);
  // Budget too small and nothing diverges: widens up to the limit first, then gives up.
  const slow = search({ best: CENTRE, minSteps: 400, sigma: 0 }, { ...SETTINGS, maxSteps: 100 });
  assert.equal(slow.result.outcome, 'none-reached');
  assert.equal(slow.trials.length, 5 + 3);
});

test('early stopping never cuts the eventual winner: 400 simulated searches, with and without cutting, pick the same LR', () => {
  // Measured (seed 21): 41% of the trials were cut, saving 36% of the search's steps, and no result changed.
  const rng = createRng(21);
  let spentCut = 0;
  let spentFull = 0;
  for (let sim = 0; sim < 400; sim++) {
    const w: Workload = {
      best: CENTRE * 2 ** (10 * rng.uniform() - 5),
      minSteps: 200 + 2000 * rng.uniform(),
      sigma: 0.15,
    };
    if (rng.uniform() < 0.3) w.divergeAbove = w.best * 2 ** (1 + 2 * rng.uniform());
    const settings = { ...SETTINGS, seeds: [sim + 1] };
    const cut = search(w, settings);
    const full = search(w, settings, { noCut: true });
    assert.equal(cut.result.bestLr, full.result.bestLr, `sim ${sim}: winner changed`);
    assert.equal(cut.result.searchSteps, full.result.searchSteps);
    assert.deepEqual(cut.result.lrsTried, full.result.lrsTried);
    const winner = cut.trials.find((t) => t.lr === cut.result.bestLr);
    if (winner !== undefined) assert.equal(winner.outcome, 'reached');
    spentCut += cut.result.stepsSpent;
    spentFull += full.result.stepsSpent;
  }
  assert.ok(spentCut < 0.8 * spentFull, `cutting saved only ${1 - spentCut / spentFull}`);
});

test('resumable: replaying the stored trials of an interrupted search gives the same next trial and the same result', () => {
  const w: Workload = { best: 6 * CENTRE, minSteps: 700, sigma: 0.2 };
  const settings: LrSearchSettings = { ...SETTINGS, seeds: [7, 8, 9] };
  const whole = search(w, settings);
  assert.equal(whole.plans.filter((p) => p.phase === 'replicate').length, 2);
  const rng = createRng(3);
  for (let k = 0; k < whole.trials.length; k++) {
    // Stored in any order (a store returns rows by id, a parallel run finishes out of order).
    const stored = whole.trials.slice(0, k).sort(() => rng.uniform() - 0.5);
    assert.deepEqual(planLrSearch(settings, stored), whole.plans[k], `next trial after ${k} stored`);
    const resumed = search(w, settings, { trials: stored });
    assert.deepEqual(resumed.result, { ...whole.result, trials: whole.trials.length });
  }
  // The study's points at this batch size: every seed at the best LR, replicates uncut.
  assert.deepEqual(
    whole.result.atBest.map((t) => t.seed),
    [7, 8, 9],
  );
});

test('parallel trials: running ones are not planned twice, and the widening decision waits for them', () => {
  const running = [{ lr: CENTRE, seed: 1 }];
  const next = planLrSearch(SETTINGS, [], { running });
  assert.equal(next.kind, 'run');
  assert.equal((next as TrialPlan).lr, 2 * CENTRE);
  const allRunning = lrGrid(SETTINGS).map((lr) => ({ lr, seed: 1 }));
  assert.equal(planLrSearch(SETTINGS, [], { running: allRunning }).kind, 'wait');
});

test('shouldCutTrial, trialOutcome, and stored trials off the grid', () => {
  const trials: LrTrial[] = [{ lr: CENTRE, seed: 1, outcome: 'reached', steps: 300 }];
  assert.equal(shouldCutTrial(SETTINGS, trials, { seed: 1, stepsDone: 299 }), false);
  assert.equal(shouldCutTrial(SETTINGS, trials, { seed: 1, stepsDone: 300 }), true);
  assert.equal(shouldCutTrial(SETTINGS, [], { seed: 1, stepsDone: 10_000 }), false, 'no bar yet');
  assert.equal(
    shouldCutTrial({ ...SETTINGS, seeds: [1, 2] }, trials, { seed: 2, stepsDone: 10_000 }),
    false,
    'replicates run on',
  );
  assert.equal(trialOutcome(SETTINGS, { reached: false, diverged: false, stepsDone: 300 }), 'cut');
  assert.equal(trialOutcome(SETTINGS, { reached: false, diverged: false, stepsDone: 100_000 }), 'not-reached');
  assert.equal(trialOutcome(SETTINGS, { reached: true, diverged: false, stepsDone: 300 }), 'reached');
  assert.throws(
    () => planLrSearch(SETTINGS, [{ lr: 0.123, seed: 1, outcome: 'reached', steps: 5 }]),
    /not on this search's grid/,
  );
  assert.throws(() => planLrSearch({ ...SETTINGS, centerLr: 0 }, []), /positive LR/);
  assert.throws(() => planLrSearch({ ...SETTINGS, seeds: [] }, []), /at least one seed/);
});
