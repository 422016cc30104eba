/**
 * A small typed option parser. Each command declares its options as a table; the parsed values are typed
 * from that table, so an option and the value the command reads cannot drift apart. The command line is
 * tokenized once: the result says which flags the user gave (defaults are not "given"), so a command
 * never scans raw argv; a flag given again overrides the earlier value. Unknown flags and a flag that
 * does not apply to what was asked (`onlyIf`) are refused by name (as nanoGPT rejects unknown config keys); user text is echoed with
 * its control characters escaped.
 */
import { UsageError, type ErrorCode } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import { parsePositiveInt } from '../core/units.js';

/** int: a positive integer; count: an integer >= 0. */
export type OptionType = 'string' | 'int' | 'count' | 'number' | 'boolean';

/** Parsed values by option name, as the checks of `onlyIf` see them (defaults included). */
export type OptionValues = Readonly<Record<string, string | number | boolean | undefined>>;

/** When an option means something. Given while `when` is false, the flag is refused: "--FLAG why". */
export interface Applies {
  when(values: OptionValues): boolean;
  /** Follows the flag's name in the refusal and says what to do, e.g. "only applies with --cmd; ...". */
  why: string;
}

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
  /** A one-letter spelling: 'o' makes `-o PATH` mean `--output PATH`. */
  short?: string;
  /** This flag is another spelling of that option: its value goes there (sweep's `--seed 7` is `--seeds 7`). */
  aliasOf?: string;
  /** Giving this flag sets these options too when they are not given (`--model-file` implies `--model file`). */
  implies?: OptionValues;
  /** Refused by name when given while one of these does not hold (e.g. `--timeout` without `--cmd`). */
  onlyIf?: Applies | readonly Applies[];
  /** Says where or how to run, not what the experiment is (--db, --json): `--resume` takes it as is. */
  control?: boolean;
}

export type OptionTable = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'int' | 'count' | 'number'
  ? number
  : S['type'] extends 'boolean'
    ? boolean
    : string;

/** The names of a table's options, aliases left out (their values land under the option they spell). */
export type OptionKey<T extends OptionTable> = {
  [K in keyof T & string]: T[K] extends { aliasOf: string } ? never : K;
}[keyof T & string];

/** Parsed values keyed by flag name; options with a default are always present. */
export type Parsed<T extends OptionTable> = {
  [K in OptionKey<T>]: T[K] extends { default: string | number | boolean } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined;
};

export interface ParseResult<T extends OptionTable> {
  options: Parsed<T>;
  /** The options the user gave (an alias counts as the option it spells; implied and default ones do not). */
  given: ReadonlySet<OptionKey<T>>;
  positionals: string[];
  help: boolean;
}

/** One flag as typed: its option name and its raw value (undefined for a bare boolean flag). */
interface Token {
  flag: string;
  spelled: string;
  raw: string | undefined;
}

/**
 * Parses `--flag value`, `--flag=value`, `-o value`, boolean `--flag` (or `--flag=false`) and positionals
 * for the options in `table`; then applies `implies`, fills defaults, and checks `onlyIf`.
 */
export function parseOptions<T extends OptionTable>(
  argv: readonly string[],
  table: T,
  command: string,
): ParseResult<T> {
  const { tokens, positionals, help } = tokenize(argv, table, command);
  const values: Record<string, string | number | boolean | undefined> = {};
  const given = new Set<string>();
  const spelledAs = new Map<string, string>();
  for (const t of tokens) {
    // A flag given again (or through its alias) overrides the earlier value, so a script can append overrides.
    const key = table[t.flag]!.aliasOf ?? t.flag;
    given.add(key);
    spelledAs.set(key, t.spelled);
    values[key] = convert(t.spelled, table[key]!, t.raw);
  }
  applyImplied(table, values, given);
  for (const [flag, spec] of Object.entries(table)) {
    if (values[flag] === undefined && spec.default !== undefined && spec.aliasOf === undefined)
      values[flag] = spec.default;
  }
  for (const key of given) {
    const rules = table[key]?.onlyIf ?? [];
    for (const rule of Array.isArray(rules) ? rules : [rules])
      if (!rule.when(values)) throw new UsageError(`${spelledAs.get(key)} ${rule.why}`);
  }
  return { options: values as Parsed<T>, given: given as unknown as ReadonlySet<OptionKey<T>>, positionals, help };
}

/** Splits argv into flags with their raw values and positionals; unknown flags are refused here. */
function tokenize(
  argv: readonly string[],
  table: OptionTable,
  command: string,
): { tokens: Token[]; positionals: string[]; help: boolean } {
  const tokens: Token[] = [];
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const long = arg.startsWith('--');
    if (!long && !/^-[A-Za-z]/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(long ? 2 : 1, eq < 0 ? undefined : eq);
    const flag = long ? name : Object.keys(table).find((f) => table[f]!.short === name);
    const spec = flag === undefined ? undefined : table[flag];
    if (flag === undefined || spec === undefined)
      throw unknownFlag(arg.slice(0, eq < 0 ? undefined : eq), table, command);
    let raw = eq < 0 ? undefined : arg.slice(eq + 1);
    if (raw === undefined && spec.type !== 'boolean') {
      raw = argv[++i];
      if (raw === undefined) throw new UsageError(`option --${flag} needs a value (${spec.value ?? 'VALUE'})`);
    }
    tokens.push({ flag, spelled: `--${flag}`, raw });
  }
  return { tokens, positionals, help };
}

function unknownFlag(spelled: string, table: OptionTable, command: string): UsageError {
  const valid = Object.keys(table).map((f) => `--${f}`);
  return new UsageError(
    `unknown option ${escapeControl(spelled)} for "batchlab ${command}"; valid options: ${[...valid, '--help'].join(', ')}`,
    'BATCHLAB_UNKNOWN_FLAG',
  );
}

/** Honours `implies`: a given flag sets the options it implies unless the user set them to something else. */
function applyImplied(table: OptionTable, values: Record<string, unknown>, given: ReadonlySet<string>): void {
  for (const key of given) {
    for (const [other, value] of Object.entries(table[key]?.implies ?? {})) {
      if (!given.has(other)) values[other] = value;
      else if (values[other] !== value)
        throw new UsageError(
          `--${key} needs --${other} ${value}, got --${other} ${escapeControl(String(values[other]))}`,
        );
    }
  }
}

function convert(flag: string, spec: OptionSpec, raw: string | undefined): string | number | boolean {
  if (spec.type === 'boolean') return raw === undefined ? true : raw !== 'false' && raw !== '0';
  const text = raw as string;
  const shown = `"${escapeControl(text)}"`;
  if (spec.type === 'int')
    return parsePositiveInt(text, flag, {
      code: spec.code,
      example: spec.default !== undefined ? String(spec.default) : '1',
    });
  if (spec.type === 'count') {
    if (/^\s*\+?\d+\s*$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
    throw new UsageError(`${flag} must be an integer >= 0, got ${shown}`, spec.code);
  }
  if (spec.type === 'number') {
    const n = text.trim() === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got ${shown}`, spec.code);
    return n;
  }
  if (spec.choices && !spec.choices.includes(text)) {
    throw new UsageError(`${flag} must be one of ${spec.choices.join(', ')}, got ${shown}`, spec.code);
  }
  return text;
}

/** The help rows of a table: each flag with its value, help, choices and default. */
export function optionRows(table: OptionTable): string[] {
  return Object.entries(table).map(([flag, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '';
    const left = `  ${short}--${flag}${spec.type === 'boolean' ? '' : ` ${spec.value ?? 'VALUE'}`}`;
    const extra = [
      spec.choices ? `one of: ${spec.choices.join(', ')}` : '',
      spec.default !== undefined && spec.type !== 'boolean' ? `default: ${spec.default}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    return `${left.padEnd(30)} ${spec.help}${extra ? ` (${extra})` : ''}`;
  });
}

/**
 * The given flags that describe what is run, not where or how (`control` flags left out, and flags of no
 * table entry: --json, which defineCommand adds to the command's table, is one).
 */
export function settingFlags<T extends OptionTable>(table: T, given: ReadonlySet<OptionKey<T>>): OptionKey<T>[] {
  return [...given].filter((flag) => {
    const spec = table[flag] as OptionSpec | undefined;
    return spec !== undefined && !spec.control;
  });
}
