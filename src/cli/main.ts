/**
 * The batchlab command line: parse, call the library, print. Known errors (BatchlabError) print one line
 * `error [CODE]: message` and exit with their code (2 for bad input); anything else is a bug and prints
 * its stack.
 */
import { isKnownError, UsageError } from '../core/errors.js';
import { branchCommand } from './commands/branch.js';
import { datasetsCommand } from './commands/datasets.js';
import { demoCommand } from './commands/demo.js';
import { findMaxCommand } from './commands/find-max.js';
import { noiseCommand } from './commands/noise.js';
import { recommendCommand } from './commands/recommend.js';
import { reportCommand } from './commands/report.js';
import { serveCommand } from './commands/serve.js';
import { exportCommand, listCommand, showCommand } from './commands/store-commands.js';
import { sweepCommand } from './commands/sweep.js';
import { trainCommand } from './commands/train.js';
import { processIo, type Io } from './io.js';
import { BATCHLAB_VERSION } from '../version.js';

type Command = (argv: readonly string[], io: Io) => Promise<number>;

interface CommandEntry {
  run: Command;
  summary: string;
}

const COMMANDS: Record<string, CommandEntry> = {
  demo: { run: demoCommand, summary: "a short showcase on MNIST (the README's main job)" },
  train: { run: trainCommand, summary: 'train one model at one batch size, measuring every step' },
  sweep: { run: sweepCommand, summary: 'train at many batch sizes side by side and show what batch size does' },
  'find-max': {
    run: findMaxCommand,
    summary: 'the largest batch that fits a memory budget, found by safe probes and verified',
  },
  recommend: { run: recommendCommand, summary: 'a batch size and learning rate with reasons, from a cheap probe' },
  noise: { run: noiseCommand, summary: 'measure the gradient noise scale B_simple at a point in training' },
  branch: {
    run: branchCommand,
    summary: 'the critical batch over training, measured by branching at checkpoints, next to B_simple',
  },
  report: { run: reportCommand, summary: 'write a self-contained HTML report of an experiment' },
  serve: { run: serveCommand, summary: 'a live dashboard over the store (loopback by default)' },
  list: { run: listCommand, summary: 'list the experiments in the store' },
  show: { run: showCommand, summary: 'show one experiment: its table and what it shows' },
  export: { run: exportCommand, summary: 'write an experiment out as CSV or JSON' },
  datasets: { run: datasetsCommand, summary: 'list the datasets and their sizes' },
};

export function mainHelp(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return [
    'batchlab: measure what batch size does to memory, speed, stability and generalization.',
    '',
    'Usage: batchlab <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    'Run `batchlab <command> --help` for the options of a command.',
  ].join('\n');
}

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.out(mainHelp());
      return 0;
    }
    if (name === '--version') {
      io.out(`batchlab ${BATCHLAB_VERSION}`);
      return 0;
    }
    const entry = COMMANDS[name];
    if (!entry)
      throw new UsageError(
        `unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`,
        'BATCHLAB_UNKNOWN_COMMAND',
      );
    return await entry.run(rest, io);
  } catch (err) {
    if (isKnownError(err)) {
      io.err(`error [${err.code}]: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}
