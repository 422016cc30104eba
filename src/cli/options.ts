/**
 * A small typed option parser. Each command declares its options as a table; the parsed values are typed
 * from that table, so an option and the value the command reads cannot drift apart. Unknown flags are
 * rejected by name, with the valid ones listed (as nanoGPT rejects unknown config keys).
 */
import { UsageError, type ErrorCode } from '../core/errors.js';
import { parsePositiveInt } from '../core/units.js';

/** int: a positive integer; count: an integer >= 0. */
export type OptionType = 'string' | 'int' | 'count' | 'number' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  help: string;
  /** Shown in help, e.g. "N" or "NAME". */
  value?: string;
  default?: string | number | boolean;
  /** Allowed values for a string option. */
  choices?: readonly string[];
  /** Error code for a bad value (e.g. BATCHLAB_BAD_BATCH_SIZE for --batch-size). */
  code?: ErrorCode;
}

export type OptionTable = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'int' | 'count' | 'number'
  ? number
  : S['type'] extends 'boolean'
    ? boolean
    : string;

/** Parsed values keyed by flag name; options with a default are always present. */
export type Parsed<T extends OptionTable> = {
  [K in keyof T]: T[K] extends { default: string | number | boolean } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export interface ParseResult<T extends OptionTable> {
  options: Parsed<T>;
  positionals: string[];
  help: boolean;
}

/** Parses `--flag value`, `--flag=value` and boolean `--flag` for the options in `table`. */
export function parseOptions<T extends OptionTable>(
  argv: readonly string[],
  table: T,
  command: string,
): ParseResult<T> {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = table[flag];
    if (!spec) {
      throw new UsageError(
        `unknown option --${flag} for "batchlab ${command}"; valid options: ${Object.keys(table)
          .map((f) => `--${f}`)
          .join(', ')}`,
        'BATCHLAB_UNKNOWN_FLAG',
      );
    }
    let raw: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (spec.type === 'boolean') {
      values[flag] = raw === undefined ? true : raw !== 'false' && raw !== '0';
      continue;
    }
    if (raw === undefined) {
      raw = argv[i + 1];
      if (raw === undefined) throw new UsageError(`option --${flag} needs a value (${spec.value ?? 'VALUE'})`);
      i++;
    }
    values[flag] = convert(flag, spec, raw);
  }
  for (const [flag, spec] of Object.entries(table)) {
    if (values[flag] === undefined && spec.default !== undefined) values[flag] = spec.default;
  }
  return { options: values as Parsed<T>, positionals, help };
}

function convert(flag: string, spec: OptionSpec, raw: string): string | number {
  if (spec.type === 'int')
    return parsePositiveInt(raw, `--${flag}`, {
      code: spec.code,
      example: spec.default !== undefined ? String(spec.default) : '1',
    });
  if (spec.type === 'count') {
    if (/^\s*\+?\d+\s*$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
    throw new UsageError(`--${flag} must be an integer >= 0, got "${raw}"`, spec.code);
  }
  if (spec.type === 'number') {
    const n = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${raw}"`, spec.code);
    return n;
  }
  if (spec.choices && !spec.choices.includes(raw)) {
    throw new UsageError(`--${flag} must be one of ${spec.choices.join(', ')}, got "${raw}"`, spec.code);
  }
  return raw;
}

/** The help text of one command: usage line, description and every option with its default. */
export function formatHelp(opts: {
  command: string;
  usage: string;
  description: string;
  table: OptionTable;
  examples?: string[];
}): string {
  const rows = Object.entries(opts.table).map(([flag, spec]) => {
    const left = `  --${flag}${spec.type === 'boolean' ? '' : ` ${spec.value ?? 'VALUE'}`}`;
    const extra = [
      spec.choices ? `one of: ${spec.choices.join(', ')}` : '',
      spec.default !== undefined && spec.type !== 'boolean' ? `default: ${spec.default}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    return `${left.padEnd(30)} ${spec.help}${extra ? ` (${extra})` : ''}`;
  });
  const examples = opts.examples?.length ? `\nExamples:\n${opts.examples.map((e) => `  ${e}`).join('\n')}\n` : '';
  return `Usage: ${opts.usage}\n\n${opts.description}\n\nOptions:\n${rows.join('\n')}\n  --help                         show this help\n${examples}`;
}
