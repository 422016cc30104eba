/**
 * `batchlab demo`: the showcase. A short sweep on MNIST (MLP 784-256-10, batch sizes 16..1024, one epoch of
 * samples each, about a minute or two on two cores), ending with the table and "What this sweep shows".
 * Extra flags are passed to `batchlab sweep` (e.g. --db, --batch-sizes).
 */
import type { Io } from '../io.js';
import { sweepCommand } from './sweep.js';

export const DEMO_ARGS = ['--dataset', 'mnist', '--model', 'mlp'] as const;

export async function demoCommand(argv: readonly string[], io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(
      'Usage: batchlab demo [sweep options]\n\nRuns `batchlab sweep --dataset mnist --model mlp` (batch sizes 16..1024, one epoch of samples each)\nand prints what batch size did to memory, speed, stability and generalization. See batchlab sweep --help.',
    );
    return 0;
  }
  io.err('batchlab demo: a sweep of an MLP on MNIST over batch sizes 16..1024, one epoch of samples each');
  return sweepCommand([...DEMO_ARGS, ...argv], io);
}
