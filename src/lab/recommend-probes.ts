/**
 * The short runs of a recommendation probe, each in its own child process (child.ts) and recorded as a
 * run of the experiment: the memory phase (peak at B = 1, 2, 4, 8 -> fitMemory -> predictMaxBatch) and
 * the throughput phase (fastest step time at a few batch sizes, warm-up steps excluded -> fitStepTime,
 * saturationBatch).
 */
import { BatchlabError } from '../core/errors.js';
import { fitMemory, predictMaxBatch, type MemoryFit } from '../core/search.js';
import { fitStepTime, saturationBatch, type StepTimeFit } from '../core/throughput.js';
import type { StepRecord } from '../core/types.js';
import type { Store } from '../store/index.js';
import { runInWorker, type WorkerOutcome } from './child.js';
import { THROUGHPUT_WARMUP_EXCLUDED } from './recommend-plan.js';
import type { RunSummary } from './summary.js';
import type { TrainConfig } from './train.js';

/** Learning rate of the memory and throughput probes: they measure bytes and milliseconds, not learning, so they must not diverge. */
export const MEASURE_ONLY_LR = 1e-6;
/** Memory margin: this share of the budget, or 3 residual standard deviations of the fit if larger. */
export const MEMORY_MARGIN_SHARE = 0.05;

/** Where probes are recorded, and the progress hooks. */
export interface ProbeContext {
  store: Store;
  dbPath: string;
  experimentId: number;
  signal?: AbortSignal;
  /** The user's LR flag and value, for the advice when a probe diverges (default: --base-lr and the probe's LR). */
  lrFlag?: { flag: '--base-lr' | '--lr'; value: number };
  onProbe?(info: { key: string; batchSize: number; steps: number }): void;
  onStep?(info: { key: string; step: number; loss: number; stepMs: number }): void;
}

/** A finished probe: its summary and its per-step records. */
export interface ProbeRun {
  runId: number;
  summary: RunSummary;
  steps: StepRecord[];
}

/** Turns a failed worker into a typed error; a divergence says to lower the base LR. */
function probeFailure(
  ctx: ProbeContext,
  key: string,
  config: TrainConfig,
  o: Extract<WorkerOutcome, { kind: 'failed' }>,
): BatchlabError {
  if (o.status === 'diverged') {
    const { flag, value } = ctx.lrFlag ?? { flag: '--base-lr', value: config.lr };
    return new BatchlabError(
      'BATCHLAB_DIVERGED',
      `the ${key} probe diverged at batch ${config.batchSize} with LR ${+config.lr.toPrecision(4)} (${o.message.split(';')[0]}); lower ${flag} (e.g. ${flag} ${+(value / 10).toPrecision(3)}) and run again`,
      { exitCode: 3 },
    );
  }
  if (o.status === 'interrupted')
    return new BatchlabError('BATCHLAB_INTERRUPTED', `the ${key} probe was interrupted`, { exitCode: 130 });
  const code = o.status === 'oom' ? 'BATCHLAB_OOM' : 'BATCHLAB_CHILD_FAILED';
  return new BatchlabError(
    code,
    `the ${key} probe at batch ${config.batchSize} failed (${o.status}): ${o.message.split('\n')[0]}`,
    { exitCode: 1 },
  );
}

/** Runs one probe in a child process, recorded as run `key`; returns its summary and steps, or throws a typed error. */
export async function runStoredProbe(
  ctx: ProbeContext,
  key: string,
  config: TrainConfig,
  totalSteps: number,
): Promise<ProbeRun> {
  const run = ctx.store.upsertRun({
    experimentId: ctx.experimentId,
    key,
    batchSize: config.batchSize,
    microBatchSize: config.batchSize / config.accumSteps,
    accumSteps: config.accumSteps,
    seed: config.seed,
    lr: config.lr,
    settings: config,
  });
  ctx.onProbe?.({ key, batchSize: config.batchSize, steps: totalSteps });
  const outcome = await runInWorker(
    { config, store: { dbPath: ctx.dbPath, runId: run.id } },
    { signal: ctx.signal, onStep: (s) => ctx.onStep?.({ key, step: s.step, loss: s.loss, stepMs: s.stepMs }) },
  );
  if (outcome.kind === 'failed') {
    if (ctx.store.getRun(run.id).status === 'running')
      ctx.store.finishRun(run.id, {
        status: outcome.status === 'error' ? 'failed' : outcome.status,
        reason: outcome.message,
      });
    throw probeFailure(ctx, key, config, outcome);
  }
  if (outcome.status === 'interrupted')
    throw new BatchlabError('BATCHLAB_INTERRUPTED', `the ${key} probe was interrupted`, { exitCode: 130 });
  return { runId: run.id, summary: outcome.summary, steps: ctx.store.stepsOf(run.id) };
}

/** A probe config: `steps` steps at `batchSize`, no evaluation but the final one on a few samples. */
export function probeConfig(
  base: TrainConfig,
  batchSize: number,
  steps: number,
  extra: Partial<TrainConfig> = {},
): TrainConfig {
  return {
    ...base,
    batchSize,
    accumSteps: 1,
    budget: { maxSteps: steps },
    target: undefined,
    warmupSteps: 0,
    schedule: 'constant',
    evalEvery: 0,
    evalTrainLimit: 256,
    evalTestLimit: 256,
    noiseEvery: 0,
    noiseFromStep: undefined,
    sharpness: undefined,
    ...extra,
  };
}

/** The memory curve and ceiling. */
export interface MemoryMeasurement {
  points: { batchSize: number; peakBytes: number }[];
  fit: Pick<MemoryFit, 'interceptBytes' | 'bytesPerSample' | 'r2' | 'residualStdBytes'>;
  budgetBytes?: number;
  marginBytes?: number;
  /** Largest batch predicted to fit the budget minus the margin; the training-set size when there is no budget or memory does not grow. */
  maxBatch: number;
}

/** Fits peak = a + b B over the points and predicts the largest batch under the budget (minus the margin). */
export function memoryCeiling(
  points: MemoryMeasurement['points'],
  budgetBytes: number | undefined,
  trainCount: number,
): MemoryMeasurement {
  const f = fitMemory(points);
  const fit = {
    interceptBytes: f.interceptBytes,
    bytesPerSample: f.bytesPerSample,
    r2: f.r2,
    residualStdBytes: f.residualStdBytes,
  };
  if (budgetBytes === undefined) return { points, fit, maxBatch: trainCount };
  const marginBytes = Math.max(MEMORY_MARGIN_SHARE * budgetBytes, 3 * f.residualStdBytes);
  const predicted = predictMaxBatch(f, budgetBytes, { marginBytes });
  if (predicted === 0) {
    throw new BatchlabError(
      'BATCHLAB_OOM',
      `the model needs about ${Math.round(f.interceptBytes / 1e6)} MB before any batch, more than the budget of ${Math.round(budgetBytes / 1e6)} MB minus its margin; raise --memory-budget or use a smaller model`,
    );
  }
  return { points, fit, budgetBytes, marginBytes, maxBatch: Math.min(trainCount, predicted ?? trainCount) };
}

/** Memory phase: a few steps at each batch, peak tensor bytes per run. */
export async function measureMemory(
  ctx: ProbeContext,
  base: TrainConfig,
  plan: readonly { batchSize: number; steps: number }[],
): Promise<{ points: MemoryMeasurement['points']; samples: number }> {
  const points: MemoryMeasurement['points'] = [];
  let samples = 0;
  for (const p of plan) {
    const r = await runStoredProbe(
      ctx,
      `probe:memory:b=${p.batchSize}`,
      probeConfig(base, p.batchSize, p.steps, { lr: MEASURE_ONLY_LR }),
      p.steps,
    );
    points.push({ batchSize: p.batchSize, peakBytes: r.summary.peakBytes });
    samples += r.summary.samples;
  }
  return { points, samples };
}

/** The step-time curve. */
export interface ThroughputMeasurement {
  points: { batchSize: number; stepMs: number; samplesPerSec: number; peakBytes: number }[];
  fit?: Pick<StepTimeFit, 'alphaMs' | 'betaMsPerSample' | 'r2'>;
  saturationBatch?: number;
  warmupStepsExcluded: number;
}

/** Throughput phase: the fastest step time after the warm-up steps, fitted t(B) = alpha + beta B. */
export async function measureThroughput(
  ctx: ProbeContext,
  base: TrainConfig,
  plan: readonly { batchSize: number; steps: number }[],
): Promise<{ result: ThroughputMeasurement; samples: number }> {
  const points: ThroughputMeasurement['points'] = [];
  let samples = 0;
  for (const p of plan) {
    const r = await runStoredProbe(
      ctx,
      `probe:throughput:b=${p.batchSize}`,
      probeConfig(base, p.batchSize, p.steps, { lr: MEASURE_ONLY_LR }),
      p.steps,
    );
    // The fastest step after the warm-up: interference from other processes only ever adds time, so the
    // minimum is the least disturbed estimate of a step's cost (as Python's timeit advises).
    const kept = r.steps.slice(Math.min(THROUGHPUT_WARMUP_EXCLUDED, r.steps.length - 1)).map((s) => s.stepMs);
    const stepMs = Math.min(...kept);
    points.push({
      batchSize: p.batchSize,
      stepMs,
      samplesPerSec: (1000 * p.batchSize) / stepMs,
      peakBytes: r.summary.peakBytes,
    });
    samples += r.summary.samples;
  }
  return { result: throughputFits(points), samples };
}

/** Fits over the throughput points (2+ batch sizes), else the points alone. */
export function throughputFits(points: ThroughputMeasurement['points']): ThroughputMeasurement {
  const base = { points, warmupStepsExcluded: THROUGHPUT_WARMUP_EXCLUDED };
  if (points.length < 2) return base;
  const tp = points.map((p) => ({ batchSize: p.batchSize, stepMs: p.stepMs }));
  const f = fitStepTime(tp);
  return {
    ...base,
    fit: { alphaMs: f.alphaMs, betaMsPerSample: f.betaMsPerSample, r2: f.r2 },
    saturationBatch: saturationBatch(tp)?.batchSize,
  };
}
