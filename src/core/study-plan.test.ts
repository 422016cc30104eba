import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchlabError } from './errors.js';
import type { LrSearchResult } from './lr-search.js';
import { planLrSearch } from './lr-search.js';
import {
  checkStudyPlan,
  expectedTrials,
  searchSettingsFor,
  STUDY_DEFAULTS,
  type StoredTrial,
  type StudyBatch,
  type StudyPlanSettings,
  studyEvalEvery,
  studyMaxSteps,
  studyStepsAt,
  summarizeStudy,
  trialFromRun,
  trialKey,
} from './study-plan.js';

const PLAN: StudyPlanSettings = {
  ...STUDY_DEFAULTS,
  batchSizes: [16, 64, 256, 1024],
  baseLr: 0.05,
  target: { metric: 'accuracy', value: 0.97 },
  trainCount: 60_000,
};

test('a trial is evaluated every N/(20 B) steps and its budget is a whole number of evaluations', () => {
  assert.equal(studyEvalEvery(PLAN, 64), 47); // 60,000 / 20 / 64 = 46.9
  assert.equal(studyEvalEvery(PLAN, 1024), 3);
  assert.equal(studyEvalEvery({ trainCount: 1000, evalsPerEpoch: 20 }, 1024), 1);
  for (const b of [16, 64, 256, 1024]) {
    const max = studyMaxSteps(PLAN, b);
    assert.equal(max % studyEvalEvery(PLAN, b), 0, `B=${b}`);
    const tenEpochs = 10 * Math.floor(60_000 / b);
    assert.ok(max >= tenEpochs && max < tenEpochs + studyEvalEvery(PLAN, b), `B=${b}: ${max}`);
  }
});

test('the LR grid of a batch size is centred on the rule, and its trials have stable keys', () => {
  const s = searchSettingsFor(PLAN, 256);
  assert.ok(Math.abs(s.centerLr - 0.05 * Math.sqrt(256 / 64)) < 1e-12); // the sqrt rule by default
  assert.equal(s.maxSteps, studyMaxSteps(PLAN, 256));
  assert.deepEqual([s.gridPoints, s.gridRatio, s.widenLimit, s.seeds], [5, 2, 3, [1]]);
  assert.equal(trialKey(256, 0.1 * 2 ** 0.5, 1), 'b=256,lr=0.141421,seed=1');
  assert.equal(trialKey(256, 0.1 * 2 ** 0.5 * (1 + 1e-12), 1), trialKey(256, 0.1 * 2 ** 0.5, 1));
});

test('a stored run reads back as its trial; unfinished ones are run again; failures stop the batch size', () => {
  const base = { runId: 7, lr: 0.1, seed: 1 };
  assert.equal(trialFromRun({ ...base, status: 'interrupted' }, 100), undefined);
  assert.equal(trialFromRun({ ...base, status: 'pending' }, 100), undefined);
  assert.deepEqual(trialFromRun({ ...base, status: 'done', reached: true, targetSteps: 40, stepsRun: 40 }, 100), {
    ...base,
    outcome: 'reached',
    steps: 40,
  });
  assert.deepEqual(trialFromRun({ ...base, status: 'done', reached: false, stepsRun: 40 }, 100), {
    ...base,
    outcome: 'cut',
    steps: 40,
  });
  assert.deepEqual(trialFromRun({ ...base, status: 'done', reached: false, stepsRun: 100 }, 100), {
    ...base,
    outcome: 'not-reached',
    steps: 100,
  });
  assert.deepEqual(trialFromRun({ ...base, status: 'diverged', lastStoredStep: 12 }, 100), {
    ...base,
    outcome: 'diverged',
    steps: 12,
  });
  assert.deepEqual(trialFromRun({ ...base, status: 'oom', reason: 'out of memory\nstack' }, 100), {
    failed: 'oom: out of memory',
  });
});

test('the ETA counts the grid and replicates of a batch size until its search is done', () => {
  assert.equal(expectedTrials({ gridPoints: 5, seeds: 3, stored: 0, done: false }), 7);
  assert.equal(expectedTrials({ gridPoints: 5, seeds: 1, stored: 6, done: false }), 7);
  assert.equal(expectedTrials({ gridPoints: 5, seeds: 1, stored: 6, done: true }), 6);
});

test('checkStudyPlan: 3 batch sizes, each within the data, a positive trial length', () => {
  assert.doesNotThrow(() => checkStudyPlan(PLAN));
  assert.throws(() => checkStudyPlan({ ...PLAN, batchSizes: [16, 64] }), /at least 3 batch sizes, got 2/);
  assert.throws(() => checkStudyPlan({ ...PLAN, batchSizes: [16, 64, 65_536] }), /batch size 65536 is above/);
  assert.throws(
    () => checkStudyPlan({ ...PLAN, maxEpochs: 0 }),
    (e) => e instanceof BatchlabError && e.exitCode === 2,
  );
});

/** A finished search at B from trials given as [lr, outcome, steps] (seed 1), run through the real planner. */
function batch(batchSize: number, trials: [number, StoredTrial['outcome'], number][], seeds = [1]): StudyBatch {
  const search = { ...searchSettingsFor({ ...PLAN, seeds }, batchSize) };
  const stored: StoredTrial[] = trials.map(([lr, outcome, steps], i) => ({ runId: i, lr, seed: 1, outcome, steps }));
  const grid = [-2, -1, 0, 1, 2].map((k) => search.centerLr * 2 ** k);
  const step = planLrSearch(search, stored);
  assert.equal(step.kind, 'done', `B=${batchSize}: ${JSON.stringify(step)} (grid ${grid})`);
  return {
    batchSize,
    centerLr: search.centerLr,
    maxSteps: search.maxSteps,
    evalEvery: studyEvalEvery(PLAN, batchSize),
    trials: stored,
    result: (step as { result: LrSearchResult }).result,
  };
}

/** Five grid trials around the centre with the best at the centre: `steps` there, the others cut or diverged. */
function tuned(batchSize: number, steps: number): StudyBatch {
  const c = searchSettingsFor(PLAN, batchSize).centerLr;
  return batch(batchSize, [
    [c, 'reached', steps],
    [2 * c, 'cut', steps],
    [c / 2, 'cut', steps],
    [4 * c, 'diverged', 3],
    [c / 4, 'cut', steps],
  ]);
}

test('the summary fits the tuned points, counts the compute and says what it shows', () => {
  const sMin = 100;
  const bCrit = 256;
  const batches = [16, 64, 256, 1024].map((b) => tuned(b, Math.round(sMin * (1 + bCrit / b))));
  const s = summarizeStudy(batches, { target: PLAN.target, trainCount: 60_000, wallMs: 5 });
  assert.ok(s.fit !== null && Math.abs(s.fit.bCrit.estimate / bCrit - 1) < 0.02, `${s.fit?.bCrit.estimate}`);
  const compute = batches.reduce((n, b) => n + b.trials.reduce((t, x) => t + x.steps, 0) * b.batchSize, 0);
  assert.equal(s.computeSamples, compute);
  assert.equal(s.computeEpochs, compute / 60_000);
  assert.deepEqual([s.trials, s.cutTrials], [20, 12]);
  assert.ok(s.lrRelation !== null && s.lrRelation.verdict === 'sqrt', s.lrRelation?.text);
  assert.match(s.findings[0]!.text, /^steps to accuracy 0\.97 follow S\(B\) = S_min \(1 \+ B_crit \/ B\) with B_crit/);
  assert.ok(s.findings.some((f) => /processed [\d,]+ training samples .* in 20 trials, 12 cut early/.test(f.text)));
  assert.deepEqual(summarizeStudy(batches, { target: PLAN.target, trainCount: 60_000, wallMs: 5 }), s, 'deterministic');
  assert.equal(studyStepsAt(s, 64), Math.round(sMin * (1 + bCrit / 64)));
  assert.equal(studyStepsAt(s, 128), undefined);
});

test('fewer than 3 batch sizes that reached the target: no fit, and the summary says why', () => {
  const c = searchSettingsFor(PLAN, 1024).centerLr;
  const none = batch(1024, [
    [c, 'diverged', 2],
    [2 * c, 'diverged', 2],
    [c / 2, 'diverged', 2],
    [4 * c, 'diverged', 2],
    [c / 4, 'diverged', 2],
    [c / 8, 'diverged', 2],
    [c / 16, 'diverged', 2],
    [c / 32, 'diverged', 2],
  ]);
  const s = summarizeStudy([tuned(16, 800), tuned(64, 300), none], {
    target: PLAN.target,
    trainCount: 60_000,
    wallMs: 5,
  });
  assert.equal(s.fit, null);
  assert.deepEqual(s.unreached, [1024]);
  assert.match(s.findings.map((f) => f.text).join('\n'), /no fit: only 2 batch size\(s\) reached the target/);
  assert.match(s.findings.map((f) => f.text).join('\n'), /no LR reached the target at B = 1024/);
});

test("with replicates, a batch size's steps are the replicates' mean at the best LR", () => {
  const search = searchSettingsFor({ ...PLAN, seeds: [1, 2, 3] }, 64);
  const c = search.centerLr;
  const trials: StoredTrial[] = [
    ...[c, 2 * c, c / 2, 4 * c, c / 4].map((lr, i) => ({
      runId: i,
      lr,
      seed: 1,
      outcome: (i === 0 ? 'reached' : 'cut') as StoredTrial['outcome'],
      steps: 300,
    })),
    { runId: 10, lr: c, seed: 2, outcome: 'reached', steps: 320 },
    { runId: 11, lr: c, seed: 3, outcome: 'reached', steps: 340 },
  ];
  const done = planLrSearch(search, trials);
  assert.equal(done.kind, 'done');
  const b: StudyBatch = {
    batchSize: 64,
    centerLr: c,
    maxSteps: search.maxSteps,
    evalEvery: 47,
    trials,
    result: (done as { result: LrSearchResult }).result,
  };
  assert.equal(studyStepsAt({ batches: [b] }, 64), 330, "the search seed's 300 (a minimum over LRs) is left out");
});
