/**
 * The gradient-noise-scale probe (McCandlish et al. 2018, App. A): train at batch B with noiseEvery = 1
 * from step `fromStep` on, so every measured step computes its batch as two micro-batches of B/2 (the
 * same update) and carries |G|^2 at two batch sizes; then B_simple over windows of steps, each with a
 * window-bootstrap confidence interval (noise.noiseScaleWithCI).
 *
 * B_simple grows as the loss falls (McCandlish et al. 2018, Sec. 3), so every value says the steps it
 * covers; `batchlab noise --at-step N` re-measures it later in training.
 */
import { BatchlabError, UsageError } from '../../core/errors.js';
import { checkNoiseOptions, noiseOverWindows, type NoiseWindow } from '../../core/noise-windows.js';
import { checkLearningRate } from '../../core/run-checks.js';
import { loadDataset } from '../../data/registry.js';
import { checkTrainConfig, dataFacts, type TrainConfig } from '../../engine/tfjs/trainer.js';
import { openStore } from '../../store/index.js';
import { environment } from '../environment.js';
import { probeConfig } from '../run/probe.js';
import { type ProbeContext, runStoredProbe } from '../run/stored-probe.js';

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

/** Options of runNoiseExperiment (`batchlab noise`). */
export interface NoiseExperimentOptions {
  base: TrainConfig;
  batchSize: number;
  lr: number;
  atStep: number;
  window: number;
  dbPath: string;
  signal?: AbortSignal;
  /** Once the options are checked and the experiment is created, before the first step. */
  onStart?(info: { experimentId: number }): void;
}

/** The checks of a noise experiment, before anything is stored: the batch (even, within the data), the window, the LR, the run's settings. */
export function checkNoiseExperiment(o: NoiseExperimentOptions): void {
  checkLearningRate(o.lr, '--lr');
  if (!(Number.isSafeInteger(o.atStep) && o.atStep >= 0))
    throw new UsageError(`--at-step must be an integer >= 0, got ${o.atStep}`);
  const data = loadDataset(o.base.dataset, o.base.datasetOptions);
  checkNoiseOptions({ batchSize: o.batchSize, window: o.window }, data.train.count);
  checkTrainConfig(probeConfig(o.base, o.batchSize, o.atStep + o.window, { lr: o.lr }), dataFacts(data));
}

/**
 * `batchlab noise`: trains atStep steps with the measurement off, then measures B_simple over `window`
 * steps; stored as an experiment of kind 'noise'. Bad options throw (checkNoiseExperiment) before the
 * experiment is created.
 */
export async function runNoiseExperiment(
  o: NoiseExperimentOptions,
): Promise<{ experimentId: number; measurement: NoiseMeasurement }> {
  checkNoiseExperiment(o);
  const store = openStore(o.dbPath);
  const { signal, onStart, ...settings } = o;
  const experiment = store.createExperiment({ kind: 'noise', settings, env: environment() });
  store.setExperimentStatus(experiment.id, 'running');
  onStart?.({ experimentId: experiment.id });
  try {
    const ctx: ProbeContext = {
      store,
      dbPath: o.dbPath,
      experimentId: experiment.id,
      signal,
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
    const interrupted = err instanceof BatchlabError && err.code === 'BATCHLAB_INTERRUPTED';
    store.setExperimentStatus(experiment.id, interrupted ? 'interrupted' : 'failed');
    throw err;
  } finally {
    store.close();
  }
}
