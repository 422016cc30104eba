/**
 * defineCommand: one definition per command owns its help, parsing, checks, `--json` and how it exits.
 * A command is: parse (the option table) -> one library call (`run`) -> print (`text` or `json`).
 *
 *   export const fooCommand = defineCommand({
 *     name: 'foo',
 *     summary: 'one line for `batchlab --help`',
 *     description: 'what it does, for `batchlab foo --help`',
 *     options: FOO_OPTIONS,                        // typed table (options.ts); `input.options` is typed from it
 *     examples: ['batchlab foo --bar 3'],
 *     run: ({ options, given, signal, io, json }) => runFoo({ ...options, signal }),  // the one library call
 *     text: (result) => fooText(result),          // stdout without --json
 *     json: (result) => result,                    // stdout with --json (a command without it takes no --json)
 *     status: (result) => result.status,           // 'done' (exit 0) | 'failed' (1) | 'interrupted' (130/143)
 *     resume: (result) => `batchlab foo --resume ${result.id}`,  // printed when interrupted
 *   });
 *
 * The returned command is a function `(argv, io, { signal }) => Promise<exit status>`; a known error
 * (BatchlabError) is thrown to the caller (main.ts prints it as one line and exits with its EXIT_CODES
 * status). The signal is aborted by SIGINT or SIGTERM (main.ts), with the signal's name as its reason.
 */
import { EXIT_CODES, interruptExitCode, UsageError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import type { Io } from './io.js';
import { type OptionKey, type OptionTable, optionRows, type Parsed, parseOptions } from './options.js';

/** What a command's `run` gets: typed options, which of them the user gave, and how to report and stop. */
export interface CommandInput<T extends OptionTable> {
  options: Parsed<T>;
  /** The options the user gave on the command line (defaults are not given). */
  given: ReadonlySet<OptionKey<T>>;
  positionals: readonly string[];
  /** --json was given: the result goes to stdout as JSON; progress should stay quiet. */
  json: boolean;
  io: Io;
  /** Aborted by SIGINT or SIGTERM (the reason is the signal's name); pass it to the library call. */
  signal: AbortSignal;
}

/** How a command's work ended: done exits 0, failed 1, interrupted 130 (SIGINT) or 143 (SIGTERM). */
export type CommandStatus = 'done' | 'failed' | 'interrupted';

/** Positional arguments: how many the command takes, and what to say when one is missing. */
export interface PositionalSpec {
  min: number;
  max: number;
  /** The refusal when fewer than `min` are given, e.g. 'which experiment? pass its id or "latest"'. */
  missing: string;
}

export interface CommandSpec<T extends OptionTable, R> {
  name: string;
  /** One line for `batchlab --help`. */
  summary: string;
  /** The usage line; default `batchlab NAME [options]`. */
  usage?: string;
  description: string;
  options: T;
  /** Default: none accepted. */
  positionals?: PositionalSpec;
  examples?: readonly string[];
  /** The one library call; progress goes to io.err (quiet under --json). */
  run(input: CommandInput<T>): Promise<R>;
  /** The result on stdout as text; undefined prints nothing. */
  text?(result: R, input: CommandInput<T>): string | undefined;
  /** The result on stdout under --json; a command with this takes --json. */
  json?(result: R, input: CommandInput<T>): unknown;
  /** How the work ended; default 'done'. */
  status?(result: R): CommandStatus;
  /** When interrupted: the command line that goes on from where it stopped. */
  resume?(result: R, input: CommandInput<T>): string | undefined;
}

/** What a run of a command may be given besides its argv. */
export interface CommandContext {
  /** Aborts the work (main.ts aborts it on SIGINT or SIGTERM, with the signal's name as the reason). */
  signal?: AbortSignal;
}

/** A defined command: call it with argv; it resolves with the exit status or throws a known error. */
export interface Command {
  (argv: readonly string[], io: Io, context?: CommandContext): Promise<number>;
  readonly commandName: string;
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Every flag the command takes, without the leading dashes (aliases included, --help added). */
  readonly flags: readonly string[];
}

/** The --json option added to a command with a JSON result. */
export const JSON_OPTION = {
  type: 'boolean',
  control: true,
  help: 'print the result as JSON on stdout (progress stays on stderr)',
} as const;

/** Defines a command from its spec (see the module doc). */
export function defineCommand<T extends OptionTable, R>(spec: CommandSpec<T, R>): Command {
  const table: OptionTable = spec.json ? { ...spec.options, json: JSON_OPTION } : spec.options;
  const help = helpText(spec, table);
  const command = async (argv: readonly string[], io: Io, context: CommandContext = {}): Promise<number> => {
    const parsed = parseOptions(argv, table, spec.name);
    if (parsed.help) {
      io.out(help);
      return 0;
    }
    checkPositionals(spec, parsed.positionals);
    const input: CommandInput<T> = {
      options: parsed.options as unknown as Parsed<T>,
      given: parsed.given as unknown as ReadonlySet<OptionKey<T>>,
      positionals: parsed.positionals,
      json: (parsed.options as Record<string, unknown>).json === true,
      io,
      signal: context.signal ?? new AbortController().signal,
    };
    const result = await spec.run(input);
    const out =
      input.json && spec.json ? JSON.stringify(spec.json(result, input), null, 2) : spec.text?.(result, input);
    if (out !== undefined) io.out(out);
    return exitStatus(spec, result, input);
  };
  return Object.assign(command, {
    commandName: spec.name,
    summary: spec.summary,
    help,
    flags: [...Object.keys(table), 'help'],
  });
}

/** The exit status of a finished command; an interruption also says how to go on. */
function exitStatus<T extends OptionTable, R>(spec: CommandSpec<T, R>, result: R, input: CommandInput<T>): number {
  const status = spec.status?.(result) ?? 'done';
  if (status === 'done') return 0;
  if (status === 'failed') return EXIT_CODES.BATCHLAB_CHILD_FAILED;
  const resume = spec.resume?.(result, input);
  const by = typeof input.signal.reason === 'string' ? ` by ${input.signal.reason}` : '';
  input.io.err(`stopped${by}; ${resume ? `resume with: ${resume}` : 'run the same command again to start over'}`);
  return interruptExitCode(input.signal.reason);
}

function checkPositionals<T extends OptionTable, R>(spec: CommandSpec<T, R>, positionals: readonly string[]): void {
  const p = spec.positionals ?? { min: 0, max: 0, missing: '' };
  if (positionals.length < p.min) throw new UsageError(p.missing);
  if (positionals.length > p.max)
    throw new UsageError(
      `unexpected argument "${escapeControl(positionals[p.max]!)}" for "batchlab ${spec.name}"; see batchlab ${spec.name} --help`,
    );
}

/** The help text of one command: usage line, description, every option with its default, examples. */
function helpText<T extends OptionTable, R>(spec: CommandSpec<T, R>, table: OptionTable): string {
  const examples = spec.examples?.length ? `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n` : '';
  return [
    `Usage: ${spec.usage ?? `batchlab ${spec.name} [options]`}`,
    '',
    spec.description,
    '',
    'Options:',
    ...optionRows(table),
    `${'  --help'.padEnd(30)} show this help`,
    examples,
  ].join('\n');
}
