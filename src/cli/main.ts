/**
 * The batchlab command line: find the command, run it with an AbortSignal that SIGINT and SIGTERM abort,
 * and exit by the one table of exit codes (core/errors.ts EXIT_CODES). Known errors (BatchlabError) print
 * one line `error [CODE]: message`; anything else is a bug and prints its stack (bin/batchlab.js).
 */
import { EXIT_CODES, EXIT_MEANINGS, interruptExitCode, isKnownError, UsageError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import { BATCHLAB_VERSION } from '../version.js';
import type { Command } from './command.js';
import { branchCommand } from './commands/branch.js';
import { datasetsCommand } from './commands/datasets.js';
import { demoCommand } from './commands/demo.js';
import { findMaxCommand } from './commands/find-max.js';
import { noiseCommand } from './commands/noise.js';
import { playgroundCommand } from './commands/playground.js';
import { recommendCommand } from './commands/recommend.js';
import { reportCommand } from './commands/report.js';
import { serveCommand } from './commands/serve.js';
import { exportCommand, listCommand, showCommand } from './commands/store-commands.js';
import { studyCommand } from './commands/study.js';
import { sweepCommand } from './commands/sweep.js';
import { trainCommand } from './commands/train.js';
import { processIo, type Io } from './io.js';
import { listenForStop } from './signals.js';

/** Every command, in the order `batchlab --help` lists them. */
export const COMMANDS: readonly Command[] = [
  demoCommand,
  trainCommand,
  sweepCommand,
  findMaxCommand,
  studyCommand,
  recommendCommand,
  noiseCommand,
  branchCommand,
  reportCommand,
  serveCommand,
  playgroundCommand,
  listCommand,
  showCommand,
  exportCommand,
  datasetsCommand,
];

/** The exit codes, one line each, for `batchlab --help` (the README shows the same table). */
export function exitCodeLines(): string[] {
  return Object.entries(EXIT_MEANINGS).map(([code, meaning]) => `  ${code.padEnd(5)} ${meaning}`);
}

export function mainHelp(): string {
  const rows = COMMANDS.map((c) => `  ${c.commandName.padEnd(12)} ${c.summary}`);
  return [
    'batchlab: measure what batch size does to memory, speed, stability and generalization.',
    '',
    'Usage: batchlab <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    'Exit codes (the same in every command):',
    ...exitCodeLines(),
    '',
    'Run `batchlab <command> --help` for the options of a command.',
  ].join('\n');
}

/** Runs `batchlab ...argv`; resolves with the exit code. Only a bug (not a BatchlabError) rejects. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(mainHelp());
    return 0;
  }
  if (name === '--version') {
    io.out(`batchlab ${BATCHLAB_VERSION}`);
    return 0;
  }
  const stop = listenForStop();
  try {
    const command = COMMANDS.find((c) => c.commandName === name);
    if (!command)
      throw new UsageError(
        `unknown command "${escapeControl(name)}"; commands: ${COMMANDS.map((c) => c.commandName).join(', ')}`,
        'BATCHLAB_UNKNOWN_COMMAND',
      );
    return await command(rest, io, { signal: stop.signal });
  } catch (err) {
    if (!isKnownError(err)) throw err;
    io.err(`error [${err.code}]: ${err.message}`);
    return err.code === 'BATCHLAB_INTERRUPTED' ? interruptExitCode(stop.signal.reason) : EXIT_CODES[err.code];
  } finally {
    stop.dispose();
  }
}
