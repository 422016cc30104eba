/** `batchlab noise`: the gradient noise scale B_simple at a chosen point of training, with a 95% CI. */
import { UsageError } from '../../core/errors.js';
import { loadDataset } from '../../data/registry.js';
import { checkNoiseOptions } from '../../core/noise-windows.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { runNoiseExperiment, type NoiseMeasurement } from '../../lab/noise/noise.js';
import { duration, num } from '../format.js';
import type { Io } from '../io.js';
import { formatHelp, parseOptions, type OptionTable, type Parsed } from '../options.js';
import { datasetOptionsFrom, MODEL_OPTIONS, modelSpecFrom, optimizerFrom } from './train.js';

export const NOISE_OPTIONS = {
  ...MODEL_OPTIONS,
  'batch-size': {
    type: 'int',
    value: 'B',
    default: 64,
    code: 'BATCHLAB_BAD_BATCH_SIZE',
    help: 'batch B to train and measure at (even: each step is split in two halves b = B/2)',
  },
  lr: { type: 'number', value: 'LR', default: 0.05, help: 'learning rate (after warm-up)' },
  'at-step': { type: 'count', value: 'N', default: 0, help: 'train N steps with the measurement off first' },
  window: { type: 'int', value: 'N', default: 200, help: 'then measure over N steps' },
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', help: 'SQLite store' },
} as const satisfies OptionTable;

export const NOISE_HELP = formatHelp({
  command: 'noise',
  usage: 'batchlab noise [options]',
  description:
    'Trains --at-step steps, then measures the gradient noise scale B_simple (McCandlish et al. 2018) over\n' +
    '--window steps: every measured step computes its batch as two halves, giving |G|^2 at two batch sizes.\n' +
    'Prints B_simple with a 95% window-bootstrap CI. B_simple grows as the loss falls, so measure it near\n' +
    'the point of training you care about.',
  table: NOISE_OPTIONS,
  examples: ['batchlab noise --dataset mnist --model mlp --batch-size 64 --at-step 1000 --window 200'],
});

function noiseConfigFrom(o: Parsed<typeof NOISE_OPTIONS>): TrainConfig {
  return {
    dataset: o.dataset,
    datasetOptions: datasetOptionsFrom(o),
    model: modelSpecFrom(o),
    batchSize: o['batch-size'],
    accumSteps: 1,
    budget: {},
    lastBatch: o['last-batch'] as 'keep' | 'drop',
    optimizer: optimizerFrom(o),
    lr: o.lr,
    schedule: 'constant',
    warmupSteps: o['warmup-steps'],
    seed: o.seed,
    backend: o.backend,
    evalEvery: 0,
    evalTrainLimit: 256,
  };
}

export async function noiseCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, NOISE_OPTIONS, 'noise');
  if (help) {
    io.out(NOISE_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}" for "batchlab noise"; see batchlab noise --help`);
  const base = noiseConfigFrom(options);
  checkNoiseOptions(
    { batchSize: options['batch-size'], window: options.window },
    loadDataset(base.dataset, base.datasetOptions).train.count,
  );
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    if (!options.json)
      io.err(
        `training ${options['at-step']} steps, then measuring over ${options.window} steps at B = ${options['batch-size']}`,
      );
    const { experimentId, measurement } = await runNoiseExperiment({
      base,
      batchSize: options['batch-size'],
      lr: options.lr,
      atStep: options['at-step'],
      window: options.window,
      dbPath: options.db,
      signal: controller.signal,
    });
    io.out(
      options.json
        ? JSON.stringify({ experimentId, ...measurement }, null, 2)
        : noiseText(measurement, experimentId, options.db),
    );
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** "B_simple ~ 420 (95% CI 300-600) over steps 1001-1200 at B = 64". */
export function noiseText(m: NoiseMeasurement, experimentId: number, dbPath: string): string {
  const lines = m.windows.map((w) => {
    const where = `over steps ${w.fromStep}-${w.toStep} (after ${w.fromStep - 1} steps) at B = ${m.batchSize}, LR ${num(m.lr)}`;
    if (w.bSimple === undefined)
      return `B_simple not measurable ${where}: ${w.status} (the gradient signal is below its noise; measure over more steps)`;
    return `B_simple ~ ${num(w.bSimple)} (${Math.round(w.confidence * 100)}% CI ${num(w.ciLow)}-${w.ciHigh === undefined ? 'unbounded' : num(w.ciHigh)}) ${where}`;
  });
  return [
    ...lines,
    `${num(m.samples)} samples in ${duration(m.wallMs)}; stored as experiment ${experimentId} in ${dbPath}`,
  ].join('\n');
}
