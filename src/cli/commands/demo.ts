/**
 * `batchlab demo`: the showcase. A sweep of an MLP on MNIST (784-256-10, batch sizes 16..1024, one epoch of
 * samples each, about a minute or two on two cores), ending with the table and "What this sweep shows".
 * It is `batchlab sweep` with the defaults below; every sweep option can be given (e.g. --db, --batch-sizes).
 */
import { defineCommand } from '../command.js';
import { runSweepCommand, sweepSpec } from './sweep.js';

/** What the demo sweeps unless told otherwise. */
export const DEMO_DEFAULTS = { dataset: 'mnist', model: 'mlp' } as const;

export const demoCommand = defineCommand({
  name: 'demo',
  summary: "a short showcase on MNIST (the README's main job)",
  usage: 'batchlab demo [sweep options]',
  description:
    'Runs `batchlab sweep --dataset mnist --model mlp` (batch sizes 16..1024, one epoch of samples each)\n' +
    'and prints what batch size did to memory, speed, stability and generalization. Takes every option of\n' +
    'batchlab sweep, with the defaults shown here.',
  examples: ['batchlab demo', 'batchlab demo --batch-sizes 64,256 --budget samples=20000'],
  ...sweepSpec(DEMO_DEFAULTS),
  run: (input) => {
    if (!input.json)
      input.io.err('batchlab demo: a sweep of an MLP on MNIST over batch sizes 16..1024, one epoch of samples each');
    return runSweepCommand(input);
  },
});
