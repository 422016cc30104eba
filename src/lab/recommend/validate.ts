/**
 * `batchlab recommend --validate`: checks a recommendation against the sweep it replaces. Runs the full
 * sweep to a target on the same task (batch sizes 16..1024, the same LR rule from the same base LR, one
 * seed), then one run at the recommended batch, micro-batch, LR and warm-up to the same target, and
 * compares:
 * - the probe's cost as a share of the sweep's compute (samples), goal <= 5%;
 * - B_simple next to the sweep's measured B_crit = E_min / S_min (tradeoff fit), goal within 2x;
 * - the recommended run's wall time to target next to the best batch of the sweep, goal within 20%.
 */
import { BatchlabError, UsageError } from '../../core/errors.js';
import { defaultLrRule } from '../../core/lr.js';
import { latestEstimate } from '../../core/noise-windows.js';
import { REFERENCE_SWEEP_BATCHES } from '../../core/recommend-plan.js';
import type { TrainTarget } from '../../core/run.js';
import type { RunSummary } from '../../core/summary.js';
import { openStore } from '../../store/index.js';
import { loadDataset } from '../../data/registry.js';
import { type RecommendHooks, type RecommendOptions, type RecommendResult, runRecommend } from './recommend.js';
import { runStoredProbe } from '../run/stored-probe.js';
import { runConfig, runSweep, type SweepHooks, type SweepSettings } from '../sweep/sweep.js';

/** Goals of product.md: probe <= 5% of the sweep, B_simple within 2x of B_crit, time to target within 20% of the best. */
export const VALIDATION_GOALS = { maxProbeShare: 0.05, maxBCritRatio: 2, maxTimeRatio: 1.2 } as const;

export interface ValidationOptions {
  target: TrainTarget;
  /** Give up on a run after this many epochs. */
  maxEpochs: number;
}

export interface ValidationPoint {
  batchSize: number;
  lr: number;
  reached: boolean;
  stepsToTarget?: number;
  samplesToTarget?: number;
  wallMsToTarget?: number;
  status: string;
}

export interface ValidationReport {
  sweepExperimentId: number;
  target: TrainTarget;
  sweepSamples: number;
  probeSamples: number;
  probeShareOfSweep: number;
  bSimple?: number;
  bCrit?: number;
  /** max(B_simple, B_crit) / min(...). */
  bCritRatio?: number;
  points: ValidationPoint[];
  best?: ValidationPoint;
  recommended: ValidationPoint & { accumSteps: number; warmupSteps: number; message?: string };
  /** Recommended wall time to target / the best sweep's. */
  timeRatio?: number;
  /** The sweep's own run at the recommended batch (same LR rule, no warm-up), when the batch is one of the sweep's: a second reading of the same time, as wall times on a shared machine vary from run to run. */
  sweepAtRecommended?: ValidationPoint;
  goalsMet: { probeShare: boolean; bCrit: boolean | null; time: boolean | null };
}

/** The sweep that the recommendation replaces, to the target. */
export function validationSweep(r: RecommendResult, v: ValidationOptions): SweepSettings {
  const o = r.options;
  return {
    base: { ...o.base, noiseEvery: 0, sharpness: undefined, evalTrainLimit: 2000 },
    batchSizes: REFERENCE_SWEEP_BATCHES.filter((b) => b <= r.trainSamples),
    seeds: [o.base.seed],
    lrRule: defaultLrRule(o.optimizer),
    baseLr: o.baseLr,
    baseBatch: o.baseBatch,
    budget: { kind: 'target', target: v.target, maxEpochs: v.maxEpochs },
    trainCount: r.trainSamples,
  };
}

/** One run at the recommended batch, LR and warm-up to the target, recorded under the recommend experiment. */
async function recommendedRun(
  r: RecommendResult,
  settings: SweepSettings,
  signal?: AbortSignal,
): Promise<ValidationReport['recommended']> {
  const rec = r.recommendation;
  const config = {
    ...runConfig(settings, rec.batch, r.options.base.seed),
    accumSteps: rec.accumSteps,
    lr: rec.lr,
    warmupSteps: rec.warmupSteps,
  };
  const base = { batchSize: rec.batch, lr: rec.lr, accumSteps: rec.accumSteps, warmupSteps: rec.warmupSteps };
  const store = openStore(r.options.dbPath);
  try {
    const run = await runStoredProbe(
      { store, dbPath: r.options.dbPath, experimentId: r.experimentId, signal },
      `validate:b=${rec.batch}`,
      config,
      0,
    );
    return { ...base, ...pointOf(run.summary) };
  } catch (err) {
    if (!(err instanceof BatchlabError) || err.code === 'BATCHLAB_INTERRUPTED') throw err;
    return { ...base, reached: false, status: 'failed', message: err.message };
  } finally {
    store.close();
  }
}

function pointOf(s: RunSummary): Omit<ValidationPoint, 'batchSize' | 'lr'> {
  return {
    reached: s.target?.reached ?? false,
    stepsToTarget: s.target?.steps,
    samplesToTarget: s.target?.samples,
    wallMsToTarget: s.target?.wallMs,
    status: 'done',
  };
}

/** Runs the sweep and the recommended run; compares. */
export async function validateRecommend(
  r: RecommendResult,
  v: ValidationOptions,
  hooks: SweepHooks = {},
): Promise<ValidationReport> {
  const settings = validationSweep(r, v);
  const sweep = await runSweep({ dbPath: r.options.dbPath, settings }, hooks);
  const points: ValidationPoint[] = sweep.runs.map((run) => {
    const s = run.summary as unknown as RunSummary | null;
    return s
      ? { batchSize: run.batchSize, lr: run.lr, ...pointOf(s) }
      : { batchSize: run.batchSize, lr: run.lr, reached: false, status: run.status };
  });
  const sweepSamples = sweep.runs.reduce(
    (sum, run) => sum + ((run.summary as unknown as RunSummary | null)?.samples ?? 0),
    0,
  );
  const recommended = await recommendedRun(r, settings, hooks.signal);
  const reached = points.filter((p) => p.reached && p.wallMsToTarget !== undefined);
  const best = reached.reduce<ValidationPoint | undefined>(
    (a, p) => (a === undefined || p.wallMsToTarget! < a.wallMsToTarget! ? p : a),
    undefined,
  );
  const bSimple = latestEstimate(r.noise.windows)?.bSimple;
  const bCrit = sweep.summary.tradeoff?.bCrit;
  const bCritRatio =
    bSimple !== undefined && bCrit !== undefined && bCrit > 0
      ? Math.max(bSimple, bCrit) / Math.min(bSimple, bCrit)
      : undefined;
  const timeRatio = best && recommended.reached ? recommended.wallMsToTarget! / best.wallMsToTarget! : undefined;
  const probeShareOfSweep = r.probeCost.samples / Math.max(1, sweepSamples);
  return {
    sweepExperimentId: sweep.experiment.id,
    target: v.target,
    sweepSamples,
    probeSamples: r.probeCost.samples,
    probeShareOfSweep,
    bSimple,
    bCrit,
    bCritRatio,
    points,
    best,
    recommended,
    timeRatio,
    sweepAtRecommended: points.find((p) => p.batchSize === recommended.batchSize),
    goalsMet: {
      probeShare: probeShareOfSweep <= VALIDATION_GOALS.maxProbeShare,
      bCrit: bCritRatio === undefined ? null : bCritRatio <= VALIDATION_GOALS.maxBCritRatio,
      time: best === undefined ? null : timeRatio !== undefined && timeRatio <= VALIDATION_GOALS.maxTimeRatio,
    },
  };
}

/** A recommendation and, when asked, its validation (`batchlab recommend [--validate]`). */
export interface CheckedRecommendation {
  result: RecommendResult;
  validation?: ValidationReport;
}

/**
 * `batchlab recommend`: the probe and the decision (runRecommend), then, with `validation`, the sweep
 * that checks it (validateRecommend). An accuracy target on a regression dataset is refused before
 * the probe runs.
 */
export async function recommendAndValidate(
  o: RecommendOptions,
  validation: ValidationOptions | undefined,
  hooks: RecommendHooks & Pick<SweepHooks, 'onRunStart'> = {},
): Promise<CheckedRecommendation> {
  if (validation?.target.metric === 'accuracy') {
    const task = loadDataset(o.base.dataset, o.base.datasetOptions).task;
    if (task !== 'classification')
      throw new UsageError(
        `--target acc:${validation.target.value} needs accuracy, but ${o.base.dataset} is ${task}; pass --target loss:X`,
      );
  }
  const result = await runRecommend(o, hooks);
  if (validation === undefined) return { result };
  const report = await validateRecommend(result, validation, { signal: hooks.signal, onRunStart: hooks.onRunStart });
  return { result, validation: report };
}
