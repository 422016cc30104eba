/**
 * The gradient-noise-scale probe (McCandlish et al. 2018, App. A): train at batch B with noiseEvery = 1
 * from step `fromStep` on, so every measured step computes its batch as two micro-batches of B/2 (the
 * same update) and carries |G|^2 at two batch sizes; then B_simple over windows of steps, each with a
 * window-bootstrap confidence interval (noise.noiseScaleWithCI).
 *
 * B_simple grows as the loss falls (McCandlish et al. 2018, Sec. 3), so every value says the steps it
 * covers; `batchlab noise --at-step N` re-measures it later in training.
 */
import { UsageError } from '../core/errors.js';
import { noiseScaleWithCI, type NoiseStatus } from '../core/noise.js';
import { createRng } from '../core/random.js';
import type { StepRecord } from '../core/types.js';
import { openStore } from '../store/index.js';
import { probeConfig, runStoredProbe, type ProbeContext } from './recommend-probes.js';
import { environment } from './sweep.js';
import type { TrainConfig } from './train.js';

/** Confidence of the B_simple intervals. */
export const NOISE_PROBE_CONFIDENCE = 0.95;
/** Bootstrap windows per measurement window (contiguous blocks of steps keep correlated steps together). */
export const NOISE_BOOTSTRAP_WINDOWS = 10;

/** B_simple over one window of steps. */
export interface NoiseWindow {
  /** First and last step of the window (1-based, inclusive). */
  fromStep: number;
  toStep: number;
  bSimple?: number;
  ciLow?: number;
  /** Undefined when the interval is unbounded above (|G|^2 not resolved in some resamples). */
  ciHigh?: number;
  confidence: number;
  status: NoiseStatus;
  /** Steps in the window that carried two batch sizes. */
  measuredSteps: number;
}

/** B_simple with its CI over each window of `steps`. */
export function noiseOverWindows(
  steps: readonly StepRecord[],
  windows: readonly [number, number][],
  seed: number,
): NoiseWindow[] {
  return windows.map(([fromStep, toStep], i) => {
    const inWindow = steps.filter((s) => s.step >= fromStep && s.step <= toStep);
    const est = noiseScaleWithCI(inWindow, {
      confidence: NOISE_PROBE_CONFIDENCE,
      windows: NOISE_BOOTSTRAP_WINDOWS,
      rng: createRng((seed + 1) * 7919 + i),
    });
    return {
      fromStep,
      toStep,
      bSimple: est.bSimple,
      ciLow: est.low,
      ciHigh: est.high !== undefined && Number.isFinite(est.high) ? est.high : undefined,
      confidence: NOISE_PROBE_CONFIDENCE,
      status: est.status,
      measuredSteps: est.steps,
    };
  });
}

/** What a noise probe measured. */
export interface NoiseMeasurement {
  batchSize: number;
  lr: number;
  /** Steps trained before measuring (noise off), and steps measured. */
  atStep: number;
  measuredSteps: number;
  windows: NoiseWindow[];
  runId: number;
  samples: number;
  wallMs: number;
}

/** Options of measureNoise. */
export interface NoiseProbeOptions {
  /** The run's config (dataset, model, optimizer, seed...); batch, budget and noise settings are set here. */
  base: TrainConfig;
  batchSize: number;
  lr: number;
  /** Train this many steps with the noise measurement off first (0: measure from the start). */
  atStep: number;
  /** Steps to measure after atStep. */
  measureSteps: number;
  /** Windows in absolute steps; default one window over the measured steps. */
  windows?: [number, number][];
  key?: string;
}

/** Runs the noise probe in a child process and returns B_simple per window. Throws on divergence (lower the LR). */
export async function measureNoise(ctx: ProbeContext, o: NoiseProbeOptions): Promise<NoiseMeasurement> {
  const totalSteps = o.atStep + o.measureSteps;
  const config = probeConfig(o.base, o.batchSize, totalSteps, { lr: o.lr, noiseEvery: 1, noiseFromStep: o.atStep + 1 });
  const started = performance.now();
  const run = await runStoredProbe(ctx, o.key ?? `probe:noise:b=${o.batchSize}`, config, totalSteps);
  const windows = o.windows ?? [[o.atStep + 1, totalSteps]];
  return {
    batchSize: o.batchSize,
    lr: o.lr,
    atStep: o.atStep,
    measuredSteps: o.measureSteps,
    windows: noiseOverWindows(run.steps, windows, o.base.seed),
    runId: run.runId,
    samples: run.summary.samples,
    wallMs: performance.now() - started,
  };
}

/** The window B_simple is taken from: the latest one with an estimate (B_simple grows during training). */
export function latestEstimate(windows: readonly NoiseWindow[]): NoiseWindow | undefined {
  return [...windows].reverse().find((w) => w.status === 'ok' && w.bSimple !== undefined && w.ciLow !== undefined);
}

/** The command that re-measures B_simple later in training. */
export function remeasureCommand(o: {
  dataset: string;
  model: string;
  batchSize: number;
  atStep: number;
  window: number;
}): string {
  return `batchlab noise --dataset ${o.dataset} --model ${o.model} --batch-size ${o.batchSize} --at-step ${o.atStep} --window ${o.window}`;
}

/** Options of runNoiseExperiment (`batchlab noise`). */
export interface NoiseExperimentOptions {
  base: TrainConfig;
  batchSize: number;
  lr: number;
  atStep: number;
  window: number;
  dbPath: string;
  signal?: AbortSignal;
}

/** Checks the batch (even, >= 2, <= the training set) and the window (enough steps for the bootstrap). */
export function checkNoiseOptions(o: Pick<NoiseExperimentOptions, 'batchSize' | 'window'>, trainCount: number): void {
  if (o.batchSize < 2 || o.batchSize % 2 !== 0) {
    throw new UsageError(
      `the noise scale splits each batch in two halves, so --batch-size must be even and >= 2, got ${o.batchSize}; pass e.g. --batch-size 64`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  if (o.batchSize > trainCount) {
    throw new UsageError(
      `--batch-size ${o.batchSize} is larger than the training set (${trainCount} samples); a noise scale needs batches of at most ${trainCount}`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  if (o.window < NOISE_BOOTSTRAP_WINDOWS * 2) {
    throw new UsageError(
      `--window must be at least ${NOISE_BOOTSTRAP_WINDOWS * 2} steps for the bootstrap CI, got ${o.window}; pass e.g. --window 200`,
    );
  }
}

/** `batchlab noise`: trains atStep steps with the measurement off, then measures B_simple over `window` steps; stored as an experiment of kind 'noise'. */
export async function runNoiseExperiment(
  o: NoiseExperimentOptions,
): Promise<{ experimentId: number; measurement: NoiseMeasurement }> {
  const store = openStore(o.dbPath);
  const experiment = store.createExperiment({ kind: 'noise', settings: o, env: environment() });
  store.setExperimentStatus(experiment.id, 'running');
  try {
    const ctx: ProbeContext = {
      store,
      dbPath: o.dbPath,
      experimentId: experiment.id,
      signal: o.signal,
      lrFlag: { flag: '--lr', value: o.lr },
    };
    const measurement = await measureNoise(ctx, {
      base: o.base,
      batchSize: o.batchSize,
      lr: o.lr,
      atStep: o.atStep,
      measureSteps: o.window,
      key: `noise:b=${o.batchSize},at=${o.atStep}`,
    });
    store.setExperimentSummary(experiment.id, { noise: measurement });
    store.setExperimentStatus(experiment.id, 'done');
    return { experimentId: experiment.id, measurement };
  } catch (err) {
    store.setExperimentStatus(experiment.id, 'failed');
    throw err;
  } finally {
    store.close();
  }
}
