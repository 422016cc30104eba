/**
 * `batchlab demo`: the showcase, sized to finish in about a minute on two cores. An MLP (784-256-10) on
 * 10,000 MNIST digits (2,000 held out), batch sizes 16, 64, 256 and 1024, three seeds each (12 runs), every
 * run trained until its training loss reaches 0.3, so that the generalization findings compare batch sizes
 * at equal fit rather than at equal samples (where large batches are simply under-trained). It ends with the
 * per-batch table (mean +- 95% interval over the seeds), "What this sweep shows" (each claim of the usual
 * advice with its verdict, interval and what it rests on) and the report.
 *
 * Why these choices: a process per run costs about a second before training starts (Node, TF.js, MNIST),
 * so 12 short runs fit the minute where 21 did not; three seeds are the fewest that give an interval across
 * seeds; a subset keeps the data load small while 2,000 held-out samples still resolve about +-1 point of
 * accuracy; 30 power iterations keep the sharpness estimate affordable. Extra flags are passed to
 * `batchlab sweep` and override these (e.g. --db, --batch-sizes, --seeds).
 */
import type { Io } from '../io.js';
import { sweepCommand } from './sweep.js';

export const DEMO_ARGS = [
  '--dataset',
  'mnist',
  '--model',
  'mlp',
  '--limit',
  '10000',
  '--batch-sizes',
  '16,64,256,1024',
  '--budget',
  'target=train-loss:0.3',
  '--max-epochs',
  '40',
  '--sharpness-iterations',
  '30',
] as const;

/** Seeds of the demo, unless the user gives --seeds or --replicates. */
const DEMO_REPLICATES = ['--replicates', '3'] as const;

export const DEMO_DESCRIPTION =
  'a sweep of an MLP on 10,000 MNIST digits over batch sizes 16, 64, 256 and 1024, 3 seeds each, every run trained to the same training loss (0.3)';

export async function demoCommand(argv: readonly string[], io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(
      `Usage: batchlab demo [sweep options]\n\nRuns \`batchlab sweep ${[...DEMO_ARGS, ...DEMO_REPLICATES].join(' ')}\`:\n${DEMO_DESCRIPTION},\nand prints what batch size did to memory, speed, stability and generalization, each with its verdict\non the usual advice and a 95% interval. Flags given here override these. See batchlab sweep --help.`,
    );
    return 0;
  }
  const ownSeeds = argv.some((a) => /^--(seeds|replicates)(=|$)/.test(a));
  io.err(`batchlab demo: ${DEMO_DESCRIPTION}`);
  return sweepCommand([...DEMO_ARGS, ...(ownSeeds ? [] : DEMO_REPLICATES), ...argv], io);
}
