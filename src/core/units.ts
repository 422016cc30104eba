/**
 * Parsing and formatting of user-facing quantities: memory budgets in bytes and positive integers
 * (batch sizes, step counts). Errors name the bad value and show valid examples.
 */
import { BatchlabError, UsageError, type ErrorCode } from './errors.js';
import { escapeControl } from './text.js';

/**
 * Multipliers by unit suffix (matched case-insensitively):
 * - binary, IEC: KiB, MiB, GiB, TiB = 1024^1..4;
 * - decimal, SI: KB, MB, GB, TB = 1000^1..4;
 * - bare K, M, G, T = binary (1024^n), as in `ulimit`, Java's -Xmx and most memory flags;
 * - B or no suffix = bytes.
 */
export const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/** Examples shown in every budget error. */
const BUDGET_EXAMPLES = '4GiB, 512MiB, 1.5G, 800MB or 1073741824';

/** A number (digits with an optional fraction) followed by an optional unit of letters. */
const BYTES_PATTERN = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i;

/**
 * Parses a memory budget to a whole number of bytes (rounded to the nearest byte).
 * Accepts a number of bytes or a string such as '4GiB', '512MB', '1.5G', '1073741824'; see
 * BYTE_UNITS for the meaning of each suffix (bare G/M/K are binary).
 * Throws BatchlabError('BATCHLAB_BAD_BUDGET') for zero, negative, non-numeric or unknown-unit values.
 */
export function parseBytes(value: string | number, what = 'memory budget'): number {
  const bad = (why: string): BatchlabError =>
    new BatchlabError(
      'BATCHLAB_BAD_BUDGET',
      `${what} ${why}, got "${escapeControl(String(value))}"; use e.g. ${BUDGET_EXAMPLES}`,
    );
  let bytes: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw bad('must be a finite number of bytes');
    bytes = value;
  } else {
    const match = BYTES_PATTERN.exec(value);
    if (match === null)
      throw bad('must be a positive number with an optional unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB, K, M, G, T)');
    const unit = (match[2] as string).toLowerCase();
    const multiplier = BYTE_UNITS[unit];
    if (multiplier === undefined) throw bad(`has an unknown unit "${match[2]}"`);
    bytes = Number(match[1]) * multiplier;
  }
  const rounded = Math.round(bytes);
  if (!(rounded >= 1)) throw bad('must be at least 1 byte');
  if (!Number.isSafeInteger(rounded)) throw bad('is too large');
  return rounded;
}

/** Binary unit names for formatBytes, by power of 1024. */
const BINARY_NAMES = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * Formats bytes with binary units and at most 3 significant digits, dropping trailing zeros:
 * 512 -> '512 B', 1536 -> '1.5 KiB', 4294967296 -> '4 GiB', 1288490189 -> '1.2 GiB'.
 * The unit is the largest power of 1024 not above |n|. Non-finite values print as-is ('NaN B').
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} B`;
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  let k = 0;
  while (v >= 1024 && k < BINARY_NAMES.length - 1) {
    v /= 1024;
    k++;
  }
  // 3 significant digits of a value in [1000, 1024) give 1000..1020, so rounding never reaches 1024.
  const digits = k === 0 ? String(Math.round(v)) : String(+v.toPrecision(3));
  return `${sign}${digits} ${BINARY_NAMES[k]}`;
}

/** Options of parsePositiveInt. */
export interface PositiveIntOptions {
  /** Error code to throw with; default 'BATCHLAB_BAD_ARGUMENT' (use 'BATCHLAB_BAD_BATCH_SIZE' for batch sizes). */
  code?: ErrorCode;
  /** How to pass a valid value, shown after "pass e.g."; default '64'. */
  example?: string;
}

/**
 * Parses a positive integer (batch size, step count, ...). Accepts an integer number or a string of
 * decimal digits with optional surrounding whitespace and leading '+'. Rejects "abc", "", 0, -1, 1.5,
 * "1e3", "0x10" and values above Number.MAX_SAFE_INTEGER with a UsageError naming `what` and the value.
 */
export function parsePositiveInt(value: string | number, what: string, options: PositiveIntOptions = {}): number {
  const n = typeof value === 'number' ? value : /^\s*\+?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isSafeInteger(n) && n >= 1) return n;
  const shown = typeof value === 'number' ? String(value) : `"${escapeControl(value)}"`;
  throw new UsageError(
    `${what} must be a positive integer, got ${shown}; pass e.g. ${options.example ?? '64'}`,
    options.code ?? 'BATCHLAB_BAD_ARGUMENT',
  );
}
