/** `batchlab noise`: the gradient noise scale B_simple at a chosen point of training, with a 95% CI. */
import { type NoiseMeasurement, runNoiseExperiment } from '../../lab/noise/noise.js';
import { defineCommand } from '../command.js';
import { duration, num } from '../format.js';
import type { OptionTable } from '../options.js';
import { MODEL_RUN_OPTIONS, trainConfigFrom } from '../run-options.js';

export const NOISE_OPTIONS = {
  ...MODEL_RUN_OPTIONS,
  'batch-size': {
    type: 'int',
    value: 'B',
    default: 64,
    code: 'BATCHLAB_BAD_BATCH_SIZE',
    help: 'batch B to train and measure at (even: each step is split in two halves b = B/2)',
  },
  lr: { type: 'number', value: 'LR', default: 0.05, help: 'learning rate, > 0' },
  'at-step': { type: 'count', value: 'N', default: 0, help: 'train N steps with the measurement off first' },
  window: { type: 'int', value: 'N', default: 200, help: 'then measure over N steps' },
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', control: true, help: 'SQLite store' },
} as const satisfies OptionTable;

export const noiseCommand = defineCommand({
  name: 'noise',
  summary: 'measure the gradient noise scale B_simple at a point in training',
  description:
    'Trains --at-step steps, then measures the gradient noise scale B_simple (McCandlish et al. 2018) over\n' +
    '--window steps: every measured step computes its batch as two halves, giving |G|^2 at two batch sizes.\n' +
    'Prints B_simple with a 95% window-bootstrap CI. B_simple grows as the loss falls, so measure it near\n' +
    'the point of training you care about.',
  options: NOISE_OPTIONS,
  examples: ['batchlab noise --dataset mnist --model mlp --batch-size 64 --at-step 1000 --window 200'],
  run: ({ options: o, io, json, signal }) =>
    runNoiseExperiment({
      base: trainConfigFrom(o, { batchSize: o['batch-size'], budget: {}, lr: o.lr, evalEvery: 0, evalTrainLimit: 256 }),
      batchSize: o['batch-size'],
      lr: o.lr,
      atStep: o['at-step'],
      window: o.window,
      dbPath: o.db,
      signal,
      onStart: () =>
        json ||
        io.err(`training ${o['at-step']} steps, then measuring over ${o.window} steps at B = ${o['batch-size']}`),
    }),
  text: ({ experimentId, measurement }, { options }) => noiseText(measurement, experimentId, options.db),
  json: ({ experimentId, measurement }) => ({ experimentId, ...measurement }),
});

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
