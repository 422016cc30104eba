/**
 * `batchlab recommend`: a cheap probe, then a decision. The probe measures, in short child-process runs
 * recorded as one experiment (kind 'recommend'):
 * 1. memory: peak at B = 1, 2, 4, 8 -> peak = a + b B -> the largest batch under the budget, with a margin;
 * 2. noise: B_simple over two windows early in training, each with a 95% bootstrap CI (../noise/noise.ts,
 *    core/noise-windows.ts); with --target instead B_simple along a run to the target, read at the training
 *    loss where the target is reached (./noise-to-target.ts): the critical batch a study would measure;
 * 3. throughput: step time at 16, 64, 256, 1024 (capped) -> t(B) = alpha + beta B and the saturation batch.
 * Without a target its compute is held to a share (default 5%) of the sweep it replaces (core/recommend-plan.ts);
 * with one, the run to the target costs about one run of the study it replaces, which runs several per batch
 * size: the cost is printed as a share of that study (at most 25%, recommend-plan.studyComputeEstimate). The decision
 * is core/recommend.ts. The result is stored as the experiment's summary; the recommendation sits under
 * the key `recommendation` (the report renders a card from it).
 *
 * JSON schema (`--json`, and the stored summary), version RECOMMEND_SCHEMA:
 *   schema: 'batchlab.recommend/1'
 *   experimentId, dataset, model, objective, optimizer, trainSamples, baseLr, baseBatch
 *   memory:     { budgetBytes|null, marginBytes|null, maxBatch, points: [{batchSize, peakBytes}],
 *                 fit: {interceptBytes, bytesPerSample, r2} }
 *   throughput: { points: [{batchSize, stepMs, samplesPerSec}], fit: {alphaMs, betaMsPerSample, r2}|null,
 *                 saturationBatch|null, warmupStepsExcluded }
 *   noise:      { batchSize, lr, windows: [{fromStep, toStep, bSimple|null, ciLow|null, ciHigh|null,
 *                 confidence, status, measuredSteps}], used: {fromStep, toStep}|null, remeasure }
 *   recommendation: core Recommendation (batch, microBatchSize, accumSteps, lr, lrRule, warmupSteps,
 *                 targetBatch, rounding, binding, criticalBatch|null, confidence, reasons, conclusion, warnings)
 *   target:     {metric, value}|null (--target)
 *   noiseAtTarget: null without a target, else { batchSize, lr, reached: {step, samples}|null, targetLoss|null,
 *                 segments: [{loss, bSimple|null, ciLow|null, ciHigh|null, fromStep, toStep, status}] (whole run),
 *                 nearSegments: [same] (the ones the prediction reads: from half way to the target on),
 *                 prediction: {bSimple, low, high|null, confidence, basis: 'measured'|'extrapolated',
 *                 lossRange: {low, high}, exponent|null, text}|null, note|null }
 *   probeCost:  { samples, seconds, runs, sweepSamples, shareOfSweep, maxShare,
 *                 study?: {studySamples, share, maxShare, batchSizes} (with a target) }
 * Fields are only ever added within a schema version; a removal or a change of meaning bumps it.
 */
import { BatchlabError, BatchSizeError, UsageError } from '../../core/errors.js';
import { defaultLrRule, scaleLr } from '../../core/lr.js';
import { DEFAULT_MARGIN_FLOOR, MAX_MARGIN, type MemoryCeiling, memoryCeiling } from '../../core/margin.js';
import type { NoiseAtLoss } from '../../core/noise-at-loss.js';
import { checkLearningRate, checkRunSettings } from '../../core/run-checks.js';
import { latestEstimate, remeasureCommand } from '../../core/noise-windows.js';
import {
  recommend,
  type Objective,
  type RecommendInputs,
  type Recommendation,
  type RecommendOptimizer,
} from '../../core/recommend.js';
import {
  DEFAULT_PROBE_SHARE,
  memoryPlan,
  noiseWindows,
  planProbe,
  REFERENCE_SWEEP_BATCHES,
  STUDY_SHARE_LIMIT,
  studyComputeEstimate,
  TARGET_OVERSHOOT,
  type ThroughputMeasurement,
} from '../../core/recommend-plan.js';
import { num } from '../../core/format.js';
import type { TrainTarget } from '../../core/run.js';
import { DEFAULT_STUDY_MAX_EPOCHS } from '../../core/study-plan.js';
import { loadDataset } from '../../data/registry.js';
import { checkTrainConfig, dataFacts, type TrainConfig } from '../../engine/tfjs/trainer.js';
import { openStore, type Store } from '../../store/index.js';
import { measureNoise, type NoiseMeasurement } from '../noise/noise.js';
import type { ProbeContext } from '../run/stored-probe.js';
import { measureNoiseToTarget, type NoiseToTarget } from './noise-to-target.js';
import { measureMemory, measureThroughput } from './probes.js';
import { environment } from '../environment.js';

export const RECOMMEND_SCHEMA = 'batchlab.recommend/1';

export interface RecommendOptions {
  /** Dataset, model, optimizer, seed, backend...; batch, LR and budget are set per probe. */
  base: TrainConfig;
  optimizer: RecommendOptimizer;
  objective: Objective;
  /** The LR the user tuned at baseBatch (scaled by the optimizer's rule). */
  baseLr: number;
  baseBatch: number;
  memoryBudgetBytes?: number;
  /** Smallest share of the budget held back (default DEFAULT_MARGIN_FLOOR, as find-max's --margin). */
  marginFloor?: number;
  /** Most compute the probe may take, as a share of the reference sweep (default 0.05). */
  share?: number;
  /**
   * Predict the critical batch where this target is reached: the noise probe trains to it (and on for
   * TARGET_OVERSHOOT of its steps) measuring B_simple along training (noise-to-target.ts). Without it,
   * B_simple early in training (which underestimates B_crit: the noise scale grows as the loss falls).
   */
  target?: TrainTarget;
  /** With a target: the noise run gives up after this many epochs (default DEFAULT_STUDY_MAX_EPOCHS). */
  maxEpochs?: number;
  dbPath: string;
}

export interface RecommendHooks {
  signal?: AbortSignal;
  onPhase?(info: { phase: 'memory' | 'noise' | 'throughput'; text: string }): void;
  onProbe?: ProbeContext['onProbe'];
  onStep?: ProbeContext['onStep'];
  /** Runs the runs; tests pass a stand-in. Default executeRun. */
  execute?: ProbeContext['execute'];
}

export interface RecommendResult {
  experimentId: number;
  options: RecommendOptions;
  trainSamples: number;
  memory: MemoryCeiling;
  throughput: ThroughputMeasurement;
  noise: NoiseMeasurement;
  recommendation: Recommendation;
  /** With a target: the run to it, B_simple against the training loss and at the target loss. */
  noiseToTarget?: NoiseToTarget;
  probeCost: {
    samples: number;
    seconds: number;
    runs: number;
    sweepSamples: number;
    shareOfSweep: number;
    maxShare: number;
    /**
     * With a target: the study it replaces, estimated as one run to the target per batch size of the
     * default study (recommend-plan.studyComputeEstimate: the least a study spends), and the share of it.
     */
    study?: { studySamples: number; share: number; maxShare: number; batchSizes: number[] };
  };
}

/**
 * Options that are out of range or contradict each other, checked before any probe runs: the objective
 * against the budget, the probe's share in (0, 1], the base LR and batch, the margin, and (given `base`)
 * its run settings.
 */
export function checkRecommendOptions(
  o: Pick<RecommendOptions, 'objective' | 'memoryBudgetBytes'> & Partial<RecommendOptions>,
  deviceMemoryBytes?: number,
): void {
  if (o.objective === 'memory' && o.memoryBudgetBytes === undefined && deviceMemoryBytes === undefined) {
    throw new BatchlabError(
      'BATCHLAB_BAD_ARGUMENT',
      '--objective memory picks the largest batch that fits a memory budget, but no budget was given and no device memory could be read; pass --memory-budget 4GiB',
    );
  }
  if (o.share !== undefined && !(o.share > 0 && o.share <= 1))
    throw new UsageError(`--probe-share must be in (0, 1], got ${o.share}; use e.g. 0.05 for 5%`);
  if (o.baseLr !== undefined) checkLearningRate(o.baseLr, '--base-lr');
  if (o.baseBatch !== undefined && !(Number.isSafeInteger(o.baseBatch) && o.baseBatch >= 1))
    throw new BatchSizeError(`--base-batch must be a positive integer, got ${o.baseBatch}; pass e.g. --base-batch 64`);
  if (o.marginFloor !== undefined && !(o.marginFloor >= 0 && o.marginFloor <= MAX_MARGIN))
    throw new UsageError(`margin must be in [0, ${MAX_MARGIN}], got ${o.marginFloor}`);
  if (o.base !== undefined) checkRunSettings(o.base);
}

/**
 * `batchlab recommend`: the probe (memory, noise scale, throughput, in short child-process runs recorded
 * as one 'recommend' experiment in o.dbPath), then the decision (core/recommend.ts). Throws a typed error
 * for options that contradict each other or a dataset too small to measure, before any probe runs.
 */
export async function runRecommend(o: RecommendOptions, hooks: RecommendHooks = {}): Promise<RecommendResult> {
  checkRecommendOptions(o);
  const data = loadDataset(o.base.dataset, o.base.datasetOptions);
  checkTrainConfig({ ...o.base, batchSize: 1, accumSteps: 1, budget: { maxSteps: 1 } }, dataFacts(data)); // the model against the data
  if (o.target?.metric === 'accuracy' && data.task !== 'classification')
    throw new UsageError(
      `--target acc:${o.target.value} needs accuracy, but ${o.base.dataset} is ${data.task}; pass --target loss:X`,
    );
  const trainSamples = data.train.count;
  // a dataset too small for the early noise probe fails before any run
  planProbe({ ...planOptions(o, trainSamples), maxBatch: trainSamples });
  const store = openStore(o.dbPath);
  const experiment = store.createExperiment({ kind: 'recommend', settings: o, env: environment() });
  store.setExperimentStatus(experiment.id, 'running');
  try {
    const result = await probeAndDecide(store, experiment.id, o, trainSamples, hooks);
    store.setExperimentSummary(experiment.id, recommendJson(result));
    store.setExperimentStatus(experiment.id, 'done');
    return result;
  } catch (err) {
    store.setExperimentStatus(
      experiment.id,
      (err as BatchlabError).code === 'BATCHLAB_INTERRUPTED' ? 'interrupted' : 'failed',
    );
    throw err;
  } finally {
    store.close();
  }
}

/** The three phases, then the decision. */
async function probeAndDecide(
  store: Store,
  experimentId: number,
  o: RecommendOptions,
  trainSamples: number,
  hooks: RecommendHooks,
): Promise<RecommendResult> {
  const started = performance.now();
  const ctx: ProbeContext = {
    store,
    dbPath: o.dbPath,
    experimentId,
    signal: hooks.signal,
    lrFlag: { flag: '--base-lr', value: o.baseLr },
    onProbe: hooks.onProbe,
    onStep: hooks.onStep,
    execute: hooks.execute,
  };
  const floor = o.marginFloor ?? DEFAULT_MARGIN_FLOOR;
  hooks.onPhase?.({ phase: 'memory', text: 'memory: peak at B = 1, 2, 4, 8' });
  const mem = await measureMemory(ctx, o.base, memoryPlan(trainSamples));
  const first = memoryCeiling(mem.points, o.memoryBudgetBytes, trainSamples, floor);
  const plan = planProbe({ ...planOptions(o, trainSamples), maxBatch: first.maxBatch });
  const { noise, toTarget } = await noisePhase(ctx, o, { plan, trainSamples, maxBatch: first.maxBatch }, hooks);
  hooks.onPhase?.({
    phase: 'throughput',
    text: `throughput: step time at B = ${plan.throughput.map((p) => p.batchSize).join(', ') || '(skipped: no budget left)'}`,
  });
  const tp = await measureThroughput(ctx, o.base, plan.throughput);
  const memory = memoryCeiling(
    [...mem.points, ...tp.result.points.map((p) => ({ batchSize: p.batchSize, peakBytes: p.peakBytes }))],
    o.memoryBudgetBytes,
    trainSamples,
    floor,
  );
  const recommendation = recommend(decisionInputs(o, trainSamples, memory, tp.result, noise, toTarget));
  const samples = mem.samples + noise.samples + tp.samples;
  const runs = mem.points.length + 1 + tp.result.points.length;
  const probeCost: RecommendResult['probeCost'] = {
    samples,
    seconds: (performance.now() - started) / 1000,
    runs,
    sweepSamples: plan.sweepSamples,
    shareOfSweep: samples / plan.sweepSamples,
    maxShare: o.share ?? DEFAULT_PROBE_SHARE,
  };
  const study = toTarget && studyShare(toTarget, samples, trainSamples);
  if (study) probeCost.study = study;
  const result: RecommendResult = {
    experimentId,
    options: o,
    trainSamples,
    memory,
    throughput: tp.result,
    noise,
    recommendation,
    probeCost,
  };
  if (toTarget) result.noiseToTarget = toTarget;
  return result;
}

/**
 * The noise phase: without a target, B_simple early in training within the probe's share of a sweep
 * (two windows); with one, a run to the target measuring B_simple along training (noise-to-target.ts),
 * whose segments also stand in as the windows.
 */
async function noisePhase(
  ctx: ProbeContext,
  o: RecommendOptions,
  p: { plan: ReturnType<typeof planProbe>; trainSamples: number; maxBatch: number },
  hooks: RecommendHooks,
): Promise<{ noise: NoiseMeasurement; toTarget?: NoiseToTarget }> {
  const rule = defaultLrRule(o.optimizer);
  if (o.target === undefined) {
    const { batchSize, steps } = p.plan.noise!; // planned whenever there is no target (planOptions)
    hooks.onPhase?.({
      phase: 'noise',
      text: `noise scale: ${steps} steps at B = ${batchSize}, every step split in two halves`,
    });
    const lr = scaleLr({ rule, baseLr: o.baseLr, baseBatch: o.baseBatch, batch: batchSize });
    const noise = await measureNoise(ctx, {
      base: o.base,
      batchSize,
      lr,
      atStep: 0,
      measureSteps: steps,
      windows: noiseWindows(1, steps),
    });
    return { noise };
  }
  const batchSize = Math.max(2, 2 * Math.floor(Math.min(o.baseBatch, p.maxBatch) / 2));
  const lr = scaleLr({ rule, baseLr: o.baseLr, baseBatch: o.baseBatch, batch: batchSize });
  const t = o.target;
  hooks.onPhase?.({
    phase: 'noise',
    text: `noise scale along training: B = ${batchSize} to ${t.metric} ${t.value} and ${TARGET_OVERSHOOT * 100}% past it, every step split in two halves`,
  });
  const toTarget = await measureNoiseToTarget(ctx, {
    base: o.base,
    batchSize,
    lr,
    target: t,
    trainCount: p.trainSamples,
    maxEpochs: o.maxEpochs ?? DEFAULT_STUDY_MAX_EPOCHS,
  });
  return { noise: segmentsAsWindows(toTarget), toTarget };
}

/** The run to the target as a noise measurement whose windows are its segments (for the JSON and the summary text). */
function segmentsAsWindows(t: NoiseToTarget): NoiseMeasurement {
  return {
    batchSize: t.batchSize,
    lr: t.lr,
    atStep: 0,
    measuredSteps: t.segments.reduce((n, s) => n + s.toStep - s.fromStep + 1, 0),
    windows: t.segments.map((s) => ({
      fromStep: s.fromStep,
      toStep: s.toStep,
      bSimple: s.bSimple,
      ciLow: s.low,
      ciHigh: s.high !== undefined && Number.isFinite(s.high) ? s.high : undefined,
      confidence: s.confidence,
      status: s.status,
      measuredSteps: s.toStep - s.fromStep + 1,
    })),
    runId: t.runId,
    samples: t.samples,
    wallMs: t.wallMs,
  };
}

/** The probe's cost as a share of the study it replaces (recommend-plan.studyComputeEstimate), when B_crit was predicted. */
function studyShare(
  t: NoiseToTarget,
  samples: number,
  trainSamples: number,
): RecommendResult['probeCost']['study'] | undefined {
  if (t.reached === undefined || t.atTarget === undefined || !(t.atTarget.estimate > 0)) return undefined;
  const batchSizes = REFERENCE_SWEEP_BATCHES.filter((b) => b <= trainSamples);
  const studySamples = studyComputeEstimate({
    samplesToTarget: t.reached.samples,
    batchSize: t.batchSize,
    bCrit: t.atTarget.estimate,
    batchSizes,
  });
  return { studySamples, share: samples / studySamples, maxShare: STUDY_SHARE_LIMIT, batchSizes };
}

/** The probe plan's options: no early noise probe with a target (the run to the target measures it). */
function planOptions(o: RecommendOptions, trainSamples: number) {
  return { trainCount: trainSamples, baseBatch: o.baseBatch, share: o.share, earlyNoise: o.target === undefined };
}

/** The recommender's inputs from the measurements. */
export function decisionInputs(
  o: RecommendOptions,
  trainSamples: number,
  memory: MemoryCeiling,
  tp: ThroughputMeasurement,
  noise: NoiseMeasurement,
  toTarget?: NoiseToTarget,
): RecommendInputs {
  const used = latestEstimate(noise.windows);
  const at = toTarget?.atTarget;
  return {
    objective: o.objective,
    maxBatch: Math.max(1, memory.maxBatch),
    memoryBudgetBytes: o.memoryBudgetBytes,
    stepTime: tp.fit,
    saturationBatch: tp.saturationBatch,
    noise:
      at !== undefined && toTarget?.targetLoss !== undefined
        ? {
            bSimple: at.estimate,
            low: at.low,
            high: at.high,
            confidence: at.confidence,
            where: `at training loss ${num(toTarget.targetLoss)}, ${at.basis === 'measured' ? 'measured on both sides of it' : `extrapolated from loss ${num(at.lossRange.low)}..${num(at.lossRange.high)}`}`,
          }
        : used && {
            bSimple: used.bSimple!,
            low: used.ciLow!,
            high: used.ciHigh ?? Number.POSITIVE_INFINITY,
            confidence: used.confidence,
            afterStep: used.toStep,
          },
    lr: { baseLr: o.baseLr, baseBatch: o.baseBatch, optimizer: o.optimizer },
    trainSamples,
  };
}

const orNull = <T>(x: T | undefined): T | null => (x === undefined ? null : x);

/** The stable JSON of a result (schema in the module comment). */
export function recommendJson(r: RecommendResult): Record<string, unknown> {
  const o = r.options;
  const used = latestEstimate(r.noise.windows);
  const last = r.noise.windows.at(-1);
  return {
    schema: RECOMMEND_SCHEMA,
    experimentId: r.experimentId,
    dataset: o.base.dataset,
    model: o.base.model.name,
    objective: o.objective,
    optimizer: o.optimizer,
    trainSamples: r.trainSamples,
    baseLr: o.baseLr,
    baseBatch: o.baseBatch,
    memory: {
      budgetBytes: orNull(r.memory.budgetBytes),
      marginBytes: orNull(r.memory.marginBytes),
      maxBatch: r.memory.maxBatch,
      points: r.memory.points,
      fit: {
        interceptBytes: r.memory.fit.interceptBytes,
        bytesPerSample: r.memory.fit.bytesPerSample,
        r2: r.memory.fit.r2,
      },
    },
    throughput: {
      points: r.throughput.points.map((p) => ({
        batchSize: p.batchSize,
        stepMs: p.stepMs,
        samplesPerSec: p.samplesPerSec,
      })),
      fit: orNull(r.throughput.fit),
      saturationBatch: orNull(r.throughput.saturationBatch),
      warmupStepsExcluded: r.throughput.warmupStepsExcluded,
    },
    noise: {
      batchSize: r.noise.batchSize,
      lr: r.noise.lr,
      windows: r.noise.windows.map((w) => ({
        fromStep: w.fromStep,
        toStep: w.toStep,
        bSimple: orNull(w.bSimple),
        ciLow: orNull(w.ciLow),
        ciHigh: orNull(w.ciHigh),
        confidence: w.confidence,
        status: w.status,
        measuredSteps: w.measuredSteps,
      })),
      used: used ? { fromStep: used.fromStep, toStep: used.toStep } : null,
      remeasure: remeasureCommand({
        dataset: o.base.dataset,
        model: o.base.model.name,
        batchSize: r.noise.batchSize,
        atStep: Math.max(1000, 4 * (last?.toStep ?? 0)),
        window: 200,
      }),
    },
    recommendation: { ...r.recommendation, criticalBatch: orNull(r.recommendation.criticalBatch) },
    target: orNull(o.target),
    noiseAtTarget: r.noiseToTarget ? noiseAtTargetJson(r.noiseToTarget) : null,
    probeCost: r.probeCost,
  };
}

/** One segment of B_simple along training in the JSON (an unbounded interval end is null). */
function segmentJson(s: NoiseAtLoss): Record<string, unknown> {
  return {
    loss: s.loss,
    bSimple: orNull(s.bSimple),
    ciLow: orNull(s.low),
    ciHigh: s.high !== undefined && Number.isFinite(s.high) ? s.high : null,
    fromStep: s.fromStep,
    toStep: s.toStep,
    status: s.status,
  };
}

/** The run to the target in the JSON: B_simple per segment against its training loss, and the reading at the target. */
function noiseAtTargetJson(t: NoiseToTarget): Record<string, unknown> {
  const a = t.atTarget;
  return {
    batchSize: t.batchSize,
    lr: t.lr,
    reached: orNull(t.reached),
    targetLoss: orNull(t.targetLoss),
    segments: t.segments.map(segmentJson),
    nearSegments: t.nearSegments.map(segmentJson),
    prediction: a
      ? {
          bSimple: a.estimate,
          low: a.low,
          high: Number.isFinite(a.high) ? a.high : null,
          confidence: a.confidence,
          basis: a.basis,
          lossRange: a.lossRange,
          exponent: orNull(a.exponent),
          text: a.text,
        }
      : null,
    note: orNull(t.note),
  };
}
