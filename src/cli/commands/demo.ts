/**
 * `batchlab demo`: the showcase, sized to finish in about a minute on two cores. An MLP (784-256-10) on
 * 10,000 MNIST digits (2,000 held out), batch sizes 16, 64, 256 and 1024, three seeds each (12 runs), every
 * run trained until its training loss reaches 0.3, so that the generalization findings compare batch sizes
 * at equal fit rather than at equal samples (where large batches are simply under-trained). It ends with the
 * per-batch table (mean ± 95% interval over the seeds), "What this sweep shows" (each claim of the usual
 * advice with its verdict, interval and what it rests on) and the report.
 *
 * Why these choices: a process per run costs about a second before training starts (Node, TF.js, MNIST),
 * so 12 short runs fit the minute where 21 did not; three seeds are the fewest that give an interval across
 * seeds; a subset keeps each run short while 2,000 held-out samples still resolve about ±1.3 points of
 * accuracy; at most 30 Hessian-vector products (Lanczos, which settles in 10-20 here) keep the sharpness
 * estimate affordable. It is `batchlab sweep` with the
 * defaults below; every sweep option can be given and overrides them (e.g. --db, --batch-sizes, --seeds).
 */
import { defineCommand } from '../command.js';
import { runSweepCommand, sweepSpec } from './sweep.js';

/** What the demo sweeps unless told otherwise. */
export const DEMO_DEFAULTS = {
  dataset: 'mnist',
  model: 'mlp',
  limit: 10_000,
  'batch-sizes': '16,64,256,1024',
  budget: 'target=train-loss:0.3',
  'max-epochs': 40,
  'sharpness-iterations': 30,
  replicates: 3,
} as const;

const DEMO_WORDS =
  'an MLP on 10,000 MNIST digits over batch sizes 16, 64, 256 and 1024, 3 seeds each, every run trained to the same training loss (0.3)';

export const demoCommand = defineCommand({
  name: 'demo',
  summary: "a short showcase on MNIST (the README's main job)",
  usage: 'batchlab demo [sweep options]',
  description:
    'Runs batchlab sweep with the defaults shown here: an MLP on 10,000 MNIST digits over batch sizes\n' +
    '16, 64, 256 and 1024, 3 seeds each, every run trained to the same training loss (0.3),\n' +
    'and prints what batch size did to memory, speed, stability and generalization: each claim of the usual\n' +
    'advice with its verdict, a 95% interval and what it rests on. Takes every option of batchlab sweep.',
  examples: ['batchlab demo', 'batchlab demo --batch-sizes 64,256 --budget samples=20000 --seeds 1'],
  ...sweepSpec(DEMO_DEFAULTS),
  run: (input) => {
    if (!input.json) input.io.err(`batchlab demo: ${DEMO_WORDS}`);
    return runSweepCommand(input);
  },
});
