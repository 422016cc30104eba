/**
 * `recommend --validate` (and bench/validate-study.ts): checks a recommendation made with a target against
 * the study it replaces (lab/study: steps to the target with the LR searched per batch size), on the same
 * task, target, base LR and rule. Compares, with the goals of product.md:
 * - the critical batch: the recommendation's B_simple at the target loss next to the study's fitted
 *   B_crit = E_min / S_min, goal within 2x either way;
 * - the steps: one run at the recommended batch, accumulation, LR and warm-up to the target, evaluated as
 *   the study's trials are, next to the study's steps at that batch at its best LR (or its fitted S(B)
 *   when the study did not run that batch), goal at most 1.2x;
 * - the compute: the recommendation's samples as a share of the study's (core/study-plan.ts: the training
 *   samples all its trials processed), goal at most 25%.
 */
import { BatchlabError, UsageError } from '../../core/errors.js';
import { defaultLrRule } from '../../core/lr.js';
import { STUDY_SHARE_LIMIT } from '../../core/recommend-plan.js';
import type { TrainTarget } from '../../core/run.js';
import { studyMaxSteps, studyStepsAt, type StudySummary } from '../../core/study-plan.js';
import { predictSteps } from '../../core/tradeoff.js';
import { openStore } from '../../store/index.js';
import { runStoredProbe } from '../run/stored-probe.js';
import { runStudy, type StudyHooks, type StudySettings, studySettings, trialConfig } from '../study/study.js';
import { type RecommendHooks, type RecommendOptions, type RecommendResult, runRecommend } from './recommend.js';

/** Goals of product.md: at most 25% of the study's compute, B_crit within 2x, steps within 20% of the study's best. */
export const VALIDATION_GOALS = { maxStudyShare: STUDY_SHARE_LIMIT, maxBCritRatio: 2, maxStepsRatio: 1.2 } as const;

/** The run at the recommended settings. */
export interface RecommendedRun {
  batchSize: number;
  lr: number;
  accumSteps: number;
  warmupSteps: number;
  reached: boolean;
  steps?: number;
  status: string;
  message?: string;
}

export interface StudyValidation {
  studyExperimentId: number;
  target: TrainTarget;
  /** The study's compute and the recommendation's, in training samples; share = recommendation / study. */
  studySamples: number;
  recommendSamples: number;
  share: number;
  /** The study's fitted B_crit (estimate Infinity when steps still halve at the largest batch; high may be Infinity). */
  studyBCrit?: { estimate: number; low: number; high: number; status: string };
  /** The recommendation's B_simple at the target loss, and how it was read. */
  predictedBCrit?: { estimate: number; low: number; high: number; basis: string };
  /** max(predicted, study) / min(...): how far apart, either way. */
  bCritRatio?: number;
  /** The training loss where the target was reached: the study's (median over its batch sizes) and the recommendation's run. */
  studyTargetLoss?: number;
  recommendTargetLoss?: number;
  recommended: RecommendedRun;
  /** The study's steps at the recommended batch: at its best LR when it ran that batch, else its fitted S(B). */
  studySteps?: { steps: number; basis: 'measured' | 'fitted'; bestLr?: number };
  /** Steps of the recommended run / the study's. */
  stepsRatio?: number;
  goalsMet: { share: boolean; bCrit: boolean | null; steps: boolean | null };
}

/** The study a recommendation replaces: the default study (batch sizes 16..1024) on its task, target, base LR and rule. */
export function validationStudy(r: RecommendResult, o: { maxEpochs?: number } = {}): StudySettings {
  const target = requireTarget(r);
  const opts = r.options;
  return studySettings({
    base: { ...opts.base, noiseEvery: 0, sharpness: undefined },
    target,
    baseLr: opts.baseLr,
    baseBatch: opts.baseBatch,
    lrRule: defaultLrRule(opts.optimizer),
    trainCount: r.trainSamples,
    ...(o.maxEpochs === undefined ? {} : { maxEpochs: o.maxEpochs }),
  });
}

function requireTarget(r: RecommendResult): TrainTarget {
  if (r.options.target === undefined) {
    throw new UsageError('validating a recommendation needs the target it was made for; pass --target acc:0.97');
  }
  return r.options.target;
}

/** Runs the study the recommendation replaces, then compares (validateAgainstStudy). */
export async function validateRecommend(
  r: RecommendResult,
  o: { maxEpochs?: number } = {},
  hooks: StudyHooks = {},
): Promise<StudyValidation> {
  const settings = validationStudy(r, o);
  const study = await runStudy({ dbPath: r.options.dbPath, settings }, hooks);
  if (study.status !== 'done') {
    throw new BatchlabError('BATCHLAB_INTERRUPTED', `the validation study ${study.experiment.id} was interrupted`);
  }
  return validateAgainstStudy(r, { experimentId: study.experiment.id, settings, summary: study.summary }, hooks.signal);
}

/** One run at the recommended batch, LR and warm-up to the target, evaluated like the study's trials, recorded under the recommend experiment. */
async function recommendedRun(
  r: RecommendResult,
  settings: StudySettings,
  signal?: AbortSignal,
): Promise<RecommendedRun> {
  const rec = r.recommendation;
  const config = {
    ...trialConfig(settings, rec.batch, {
      lr: rec.lr,
      seed: r.options.base.seed,
      stepLimit: studyMaxSteps(settings, rec.batch),
    }),
    accumSteps: rec.accumSteps,
    warmupSteps: rec.warmupSteps,
  };
  const base = { batchSize: rec.batch, lr: rec.lr, accumSteps: rec.accumSteps, warmupSteps: rec.warmupSteps };
  const store = openStore(r.options.dbPath);
  try {
    const run = await runStoredProbe(
      { store, dbPath: r.options.dbPath, experimentId: r.experimentId, signal },
      `validate:b=${rec.batch}`,
      config,
      config.budget.maxSteps ?? 0,
    );
    const t = run.summary.target;
    return { ...base, reached: t?.reached ?? false, steps: t?.steps, status: 'done' };
  } catch (err) {
    if (!(err instanceof BatchlabError) || err.code === 'BATCHLAB_INTERRUPTED') throw err;
    return { ...base, reached: false, status: 'failed', message: err.message };
  } finally {
    store.close();
  }
}

/** The study's steps at B: measured at its best LR when it ran B, else read off its fitted curve. */
function studyStepsFor(summary: StudySummary, batchSize: number): StudyValidation['studySteps'] {
  const measured = studyStepsAt(summary, batchSize);
  if (measured !== undefined) {
    const bestLr = summary.batches.find((b) => b.batchSize === batchSize)?.result?.bestLr;
    return { steps: measured, basis: 'measured', ...(bestLr === undefined ? {} : { bestLr }) };
  }
  const fit = summary.fit;
  if (fit === null || fit.status !== 'ok') return undefined;
  return { steps: predictSteps({ sMin: fit.sMin.estimate, eMin: fit.eMin.estimate }, batchSize), basis: 'fitted' };
}

/** Compares a recommendation with a finished study (runs the recommended run; the study is not rerun). */
export async function validateAgainstStudy(
  r: RecommendResult,
  study: { experimentId: number; settings: StudySettings; summary: StudySummary },
  signal?: AbortSignal,
): Promise<StudyValidation> {
  const s = study.summary;
  const recommended = await recommendedRun(r, study.settings, signal);
  const at = r.noiseToTarget?.atTarget;
  const fit = s.fit;
  const studyBCrit = fit ? { ...fit.bCrit, status: fit.status } : undefined;
  const predictedBCrit = at && { estimate: at.estimate, low: at.low, high: at.high, basis: at.basis };
  const bCritRatio =
    studyBCrit && predictedBCrit && studyBCrit.estimate > 0 && predictedBCrit.estimate > 0
      ? Math.max(studyBCrit.estimate, predictedBCrit.estimate) / Math.min(studyBCrit.estimate, predictedBCrit.estimate)
      : undefined;
  const studySteps = studyStepsFor(s, recommended.batchSize);
  const stepsRatio =
    studySteps && recommended.reached && recommended.steps !== undefined
      ? recommended.steps / studySteps.steps
      : undefined;
  const share = r.probeCost.samples / Math.max(1, s.computeSamples);
  const out: StudyValidation = {
    studyExperimentId: study.experimentId,
    target: s.target,
    studySamples: s.computeSamples,
    recommendSamples: r.probeCost.samples,
    share,
    recommended,
    goalsMet: {
      share: share <= VALIDATION_GOALS.maxStudyShare,
      bCrit: bCritRatio === undefined ? null : bCritRatio <= VALIDATION_GOALS.maxBCritRatio,
      steps: studySteps === undefined ? null : stepsRatio !== undefined && stepsRatio <= VALIDATION_GOALS.maxStepsRatio,
    },
  };
  return withOptional(out, {
    studyBCrit,
    predictedBCrit,
    bCritRatio,
    studyTargetLoss: s.trainLossAtTarget,
    recommendTargetLoss: r.noiseToTarget?.targetLoss,
    studySteps,
    stepsRatio,
  });
}

/** `base` with the defined values of `extra` (the JSON leaves absent what was not measured). */
function withOptional<T extends object>(base: T, extra: Partial<T>): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Record<string, unknown>)[k] = v;
  return base;
}

/** A recommendation and, when asked, its validation against a study (`batchlab recommend [--validate]`). */
export interface CheckedRecommendation {
  result: RecommendResult;
  validation?: StudyValidation;
}

/**
 * `batchlab recommend`: the probe and the decision (runRecommend), then, with `validation`, the study that
 * checks it (validateRecommend). --validate without a target is refused before the probe runs.
 */
export async function recommendAndValidate(
  o: RecommendOptions,
  validation: { maxEpochs?: number } | undefined,
  hooks: RecommendHooks & Pick<StudyHooks, 'onTrialStart'> = {},
): Promise<CheckedRecommendation> {
  if (validation !== undefined && o.target === undefined)
    throw new UsageError('--validate compares with a study to a target; pass --target acc:0.97 (or loss:X)');
  const result = await runRecommend(o, hooks);
  if (validation === undefined) return { result };
  const report = await validateRecommend(result, validation, {
    signal: hooks.signal,
    onTrialStart: hooks.onTrialStart,
  });
  return { result, validation: report };
}
