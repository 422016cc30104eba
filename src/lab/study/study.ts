/**
 * A study (`batchlab study`): steps to a target at every batch size with the LR searched per batch size
 * (Shallue et al. 2018, arXiv 1811.03600), then the fit S(B) = S_min (1 + B_crit / B) with intervals and
 * the best LR against B (McCandlish et al. 2018, arXiv 1812.06162). The plan is pure (core/lr-search.ts
 * planLrSearch, core/study-plan.ts); this file only runs it:
 *
 *   for each B: loop planLrSearch(settings at B, trials stored at B)
 *     'run'  -> train the trial (executeRun, a run of the experiment, stopped at the plan's stepLimit)
 *     'done' -> keep the search's result
 *   then summarizeStudy (fit, regions, LR relation, compute) as the experiment's summary.
 *
 * Every trial is a run in the store (kind 'study', key "b=B,lr=LR,seed=S", its LR in the run row), so
 * a study stopped by Ctrl-C or a kill resumes with `--resume ID`: the planner replays the stored trials
 * and plans the same next trial, and a trial that was running is run again from its start. A resumed
 * study therefore ends with the same trials and the same summary as an uninterrupted one.
 */
import { UsageError } from '../../core/errors.js';
import { planLrSearch, type TrialPlan } from '../../core/lr-search.js';
import { trainLossAtStep } from '../../core/noise-at-loss.js';
import { REFERENCE_SWEEP_BATCHES } from '../../core/recommend-plan.js';
import {
  checkStudyPlan,
  DEFAULT_STUDY_EVAL_SAMPLES,
  expectedTrials,
  searchSettingsFor,
  STUDY_DEFAULTS,
  type StoredTrial,
  type StudyBatch,
  type StudyPlanSettings,
  type StudySummary,
  studyEvalEvery,
  summarizeStudy,
  trialFromRun,
  trialKey,
} from '../../core/study-plan.js';
import type { RunSummary } from '../../core/summary.js';
import { loadDataset } from '../../data/registry.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { type Experiment, openStore, type Run, type Store } from '../../store/index.js';
import { environment } from '../environment.js';
import { type ExecuteRun, executeRun } from '../run/execute.js';
import type { RunOutcome } from '../run/outcome.js';

/** Everything that defines a study; stored with the experiment and compared on resume. */
export interface StudySettings extends StudyPlanSettings {
  /** The run config every trial shares; batch size, LR, seed, budget and target are set per trial. */
  base: TrainConfig;
  /** Held-out samples of every evaluation (the same ones each time). */
  evalSamples: number;
}

/** Progress of a study and how to stop it. */
export interface StudyHooks {
  /** A trial starts: its plan (LR, seed, step limit, why), its run, and where the study is (trial n of about m). */
  onTrialStart?(info: {
    batchSize: number;
    plan: TrialPlan;
    run: Run;
    trialNumber: number;
    expectedTotal: number;
  }): void;
  onStep?(info: { batchSize: number; step: number; loss: number; stepMs: number; stepLimit: number }): void;
  /** A trial ended: its run as stored, the trial it became (undefined when interrupted), how it ended. */
  onTrialEnd?(info: { batchSize: number; run: Run; trial?: StoredTrial; outcome: RunOutcome }): void;
  /** A batch size's search finished (or stopped on a failed trial). */
  onBatchDone?(info: { batch: StudyBatch }): void;
  signal?: AbortSignal;
  /** Runs the trials; tests pass a stand-in that records like the worker does. Default executeRun. */
  execute?: ExecuteRun;
}

export interface StudyResult {
  experiment: Experiment;
  summary: StudySummary;
  status: 'done' | 'interrupted';
}

/** Held-out evaluation of the final train metrics of a trial: a subset, since a study runs dozens of trials. */
const TRIAL_TRAIN_EVAL_SAMPLES = 2000;

/**
 * Settings of a TF.js study with the command line's defaults for what is not given: batch sizes
 * 16..1024 (those up to the training set), one seed, a 5-point LR grid (ratio 2, widened up to 3 steps
 * each side) around the square-root rule's LR from base.lr at batch 64, at most 10 epochs per trial, 20
 * evaluations per epoch on 2,000 held-out samples. Loads the dataset once for its size unless trainCount is given.
 */
export function studySettings(
  o: Pick<StudySettings, 'base' | 'target'> & Partial<Omit<StudySettings, 'base' | 'target'>>,
): StudySettings {
  const trainCount = o.trainCount ?? loadDataset(o.base.dataset, o.base.datasetOptions).train.count;
  return {
    ...STUDY_DEFAULTS,
    seeds: [...STUDY_DEFAULTS.seeds],
    batchSizes: REFERENCE_SWEEP_BATCHES.filter((b) => b <= trainCount),
    baseLr: o.base.lr,
    trainCount,
    evalSamples: DEFAULT_STUDY_EVAL_SAMPLES,
    ...o,
  };
}

/** The config of one trial: the plan's LR and seed, stopped at its step limit, evaluated like every trial at B. */
export function trialConfig(
  s: StudySettings,
  batchSize: number,
  trial: { lr: number; seed: number; stepLimit: number },
): TrainConfig {
  return {
    ...s.base,
    batchSize,
    lr: trial.lr,
    seed: trial.seed,
    budget: { maxSteps: trial.stepLimit },
    lastBatch: 'drop',
    target: s.target,
    evalEvery: studyEvalEvery(s, batchSize),
    evalTestLimit: s.evalSamples,
    evalTrainLimit: TRIAL_TRAIN_EVAL_SAMPLES,
    noiseEvery: 0,
    sharpness: undefined,
  };
}

/** What the search loop shares. */
interface StudyContext {
  store: Store;
  dbPath: string;
  experiment: Experiment;
  settings: StudySettings;
  hooks: StudyHooks;
  /** Wall time before this session (a resumed study adds to it) and this session's start. */
  priorWallMs: number;
  startMs: number;
}

/** Starts a new study, or resumes `resumeId` (whose stored settings must equal `settings` when given). */
export async function runStudy(
  opts: { dbPath: string; settings?: StudySettings; resumeId?: number },
  hooks: StudyHooks = {},
): Promise<StudyResult> {
  const store = openStore(opts.dbPath);
  try {
    const experiment =
      opts.resumeId !== undefined
        ? resumeStudy(store, opts.resumeId, opts.settings)
        : newStudy(store, requiredSettings(opts.settings));
    store.acquireExperimentLock(experiment.id);
    try {
      const settings = experiment.settings as unknown as StudySettings;
      const prior = (experiment.summary as { wallMs?: number } | null)?.wallMs;
      const ctx: StudyContext = {
        store,
        dbPath: opts.dbPath,
        experiment,
        settings,
        hooks,
        priorWallMs: Number.isFinite(prior) ? (prior as number) : 0,
        startMs: performance.now(),
      };
      store.setExperimentStatus(experiment.id, 'running');
      const { batches, status } = await searchAll(ctx);
      const summary = saveSummary(ctx, batches);
      store.setExperimentStatus(experiment.id, status);
      return { experiment: store.getExperiment(experiment.id), summary, status };
    } finally {
      store.releaseExperimentLock(experiment.id);
    }
  } finally {
    store.close();
  }
}

function requiredSettings(settings: StudySettings | undefined): StudySettings {
  if (settings === undefined) throw new UsageError('a new study needs its settings; pass them, or resumeId to resume');
  return settings;
}

function newStudy(store: Store, settings: StudySettings): Experiment {
  checkStudyPlan(settings);
  for (const b of settings.batchSizes) searchSettingsFor(settings, b); // a bad LR or grid fails before any run
  return store.createExperiment({ kind: 'study', settings, env: environment() });
}

function resumeStudy(store: Store, id: number, settings: StudySettings | undefined): Experiment {
  const experiment = store.getExperiment(id);
  if (experiment.kind !== 'study') {
    throw new UsageError(
      `experiment ${id} is a ${experiment.kind}, not a study; --resume takes a study ID (see batchlab list)`,
    );
  }
  if (settings) {
    const stored = experiment.settings as Record<string, unknown>;
    const given = settings as unknown as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(stored), ...Object.keys(given)])];
    const differing = keys.filter((k) => canonicalJson(stored[k]) !== canonicalJson(given[k]));
    if (differing.length > 0) {
      throw new UsageError(
        `study ${id} was started with other settings (${differing.join(', ')} differ); run "batchlab study --resume ${id}" alone, or start a new study`,
      );
    }
  }
  store.markRunningAsInterrupted(id);
  return experiment;
}

/** JSON with the keys of every object sorted: the stored settings come back with their keys in the schema's order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Runs every batch size's search in order; stops when aborted or a trial is interrupted. */
async function searchAll(ctx: StudyContext): Promise<{ batches: StudyBatch[]; status: 'done' | 'interrupted' }> {
  const batches: StudyBatch[] = [];
  for (const batchSize of ctx.settings.batchSizes) {
    const batch = await searchBatch(ctx, batchSize);
    batches.push(batch);
    if (batch.result === undefined && batch.failure === undefined) return { batches, status: 'interrupted' };
    ctx.hooks.onBatchDone?.({ batch });
  }
  return { batches, status: 'done' };
}

/** The search at one batch size: plan, run, store, until the planner says done (or a trial fails or is interrupted). */
async function searchBatch(ctx: StudyContext, batchSize: number): Promise<StudyBatch> {
  const search = searchSettingsFor(ctx.settings, batchSize);
  const batch: StudyBatch = {
    batchSize,
    centerLr: search.centerLr,
    maxSteps: search.maxSteps,
    evalEvery: studyEvalEvery(ctx.settings, batchSize),
    trials: [],
  };
  for (;;) {
    const stored = storedTrials(ctx, batchSize, search.maxSteps);
    batch.trials = stored.trials;
    if (stored.failed !== undefined) {
      batch.failure = stored.failed;
      return batch;
    }
    const step = planLrSearch(search, stored.trials);
    if (step.kind === 'done') {
      batch.result = step.result;
      batch.trainLossAtTarget = bestTrainLoss(ctx, batch);
      return batch;
    }
    if (step.kind === 'wait')
      throw new Error(`the study runs one trial at a time, yet the search waits: ${step.reason}`);
    if (ctx.hooks.signal?.aborted) return batch;
    const ended = await runTrial(ctx, batchSize, step);
    saveSummary(ctx, [batch]);
    if (ended === 'interrupted') return batch;
  }
}

/** The trials stored at B, read back from their runs; a failed one (not a divergence) stops the search. */
function storedTrials(
  ctx: StudyContext,
  batchSize: number,
  maxSteps: number,
): { trials: StoredTrial[]; failed?: string } {
  const trials: StoredTrial[] = [];
  for (const run of ctx.store.runsOf(ctx.experiment.id)) {
    if (run.batchSize !== batchSize) continue;
    const trial = trialFromRun(runFacts(ctx.store, run), maxSteps);
    if (trial === undefined) continue;
    if ('failed' in trial) return { trials, failed: `the trial at LR ${run.lr} ${trial.failed}` };
    trials.push(trial);
  }
  return { trials };
}

/** What a stored run says about its trial (a diverged run's steps are counted, since it has no summary). */
function runFacts(store: Store, run: Run): Parameters<typeof trialFromRun>[0] {
  const s = run.summary as unknown as RunSummary | null;
  return {
    runId: run.id,
    lr: run.lr,
    seed: run.seed,
    status: run.status,
    reason: run.reason,
    reached: s?.target?.reached,
    targetSteps: s?.target?.steps,
    stepsRun: s?.steps,
    lastStoredStep: run.status === 'diverged' ? (store.stepsOf(run.id).at(-1)?.step ?? 0) + 1 : undefined,
  };
}

/** Runs one planned trial as a run of the study; 'interrupted' when it was stopped. */
async function runTrial(ctx: StudyContext, batchSize: number, plan: TrialPlan): Promise<'ended' | 'interrupted'> {
  const config = trialConfig(ctx.settings, batchSize, plan);
  const run = ctx.store.upsertRun({
    experimentId: ctx.experiment.id,
    key: trialKey(batchSize, plan.lr, plan.seed),
    batchSize,
    seed: plan.seed,
    lr: plan.lr,
    settings: config,
  });
  ctx.store.refreshExperimentLock(ctx.experiment.id);
  ctx.hooks.onTrialStart?.({ batchSize, plan, run, ...trialCount(ctx, batchSize) });
  const outcome = await (ctx.hooks.execute ?? executeRun)(
    { kind: 'tfjs', config },
    {
      record: { dbPath: ctx.dbPath, runId: run.id },
      hooks: {
        signal: ctx.hooks.signal,
        onStep: (p) =>
          ctx.hooks.onStep?.({ batchSize, step: p.step, loss: p.loss, stepMs: p.stepMs, stepLimit: plan.stepLimit }),
      },
    },
  );
  const stored = ctx.store.getRun(run.id);
  const trial = trialFromRun(runFacts(ctx.store, stored), searchSettingsFor(ctx.settings, batchSize).maxSteps);
  ctx.hooks.onTrialEnd?.({
    batchSize,
    run: stored,
    trial: trial === undefined || 'failed' in trial ? undefined : trial,
    outcome,
  });
  return outcome.status === 'interrupted' ? 'interrupted' : 'ended';
}

/** Which trial this is (1-based, over the whole study) and about how many the study will take. */
function trialCount(ctx: StudyContext, current: number): { trialNumber: number; expectedTotal: number } {
  const runs = ctx.store
    .runsOf(ctx.experiment.id)
    .filter((r) => !['pending', 'running', 'interrupted'].includes(r.status));
  const at = ctx.settings.batchSizes.indexOf(current);
  let expectedTotal = 0;
  for (const [i, b] of ctx.settings.batchSizes.entries()) {
    const stored = runs.filter((r) => r.batchSize === b).length;
    expectedTotal += expectedTrials({
      gridPoints: ctx.settings.gridPoints,
      seeds: ctx.settings.seeds.length,
      stored,
      done: i < at,
    });
  }
  return { trialNumber: runs.length + 1, expectedTotal: Math.max(expectedTotal, runs.length + 1) };
}

/** The training loss where the search seed's best trial reached the target (from its stored steps). */
function bestTrainLoss(ctx: StudyContext, batch: StudyBatch): number | undefined {
  const best = batch.result?.atBest[0];
  if (best === undefined || best.outcome !== 'reached') return undefined;
  const trial = batch.trials.find((t) => t.seed === best.seed && Math.abs(t.lr / best.lr - 1) <= 1e-6);
  return trial === undefined ? undefined : trainLossAtStep(ctx.store.stepsOf(trial.runId), best.steps);
}

/**
 * Summarizes and stores the study so far: `batches` replace those of the stored summary with the same
 * batch size, so a study interrupted part way shows (in `batchlab show`) every batch size searched so
 * far. The final call passes every batch size, each read back from its stored trials.
 */
function saveSummary(ctx: StudyContext, batches: StudyBatch[]): StudySummary {
  const previous = (ctx.store.getExperiment(ctx.experiment.id).summary as unknown as StudySummary | null)?.batches;
  const byBatch = new Map<number, StudyBatch>((previous ?? []).map((b) => [b.batchSize, b]));
  for (const b of batches) byBatch.set(b.batchSize, b);
  const all = ctx.settings.batchSizes.map((b) => byBatch.get(b)).filter((b): b is StudyBatch => b !== undefined);
  const summary = summarizeStudy(all, {
    target: ctx.settings.target,
    trainCount: ctx.settings.trainCount,
    wallMs: ctx.priorWallMs + (performance.now() - ctx.startMs),
  });
  ctx.store.setExperimentSummary(ctx.experiment.id, summary);
  return summary;
}

export type { StudySummary, StudyBatch, StoredTrial } from '../../core/study-plan.js';
