/**
 * `batchlab demo`: the showcase. A one-epoch MNIST MLP run at batch size 64; the sweep command takes its
 * place once it exists.
 */
import type { Io } from '../io.js';
import { trainCommand } from './train.js';

export async function demoCommand(argv: readonly string[], io: Io): Promise<number> {
  return trainCommand(['--dataset', 'mnist', '--model', 'mlp', '--batch-size', '64', '--epochs', '1', ...argv], io);
}
