/**
 * Reading stored JSON (run and sweep summaries, settings) in the page. A page draws data written by older
 * and newer batchlab versions, so it reads summary fields by path and treats anything missing or of another
 * type as "not measured" (printed "-"), never as an error.
 */

/** A finite number (not NaN, not +-Infinity, not a string). */
export function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** The value at a dotted path (`at(summary, 'stepMs.median')`), or undefined if any part is missing. */
export function at(obj: unknown, path: string): unknown {
  let value: unknown = obj;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The finite number at a dotted path, or undefined. */
export function numAt(obj: unknown, path: string): number | undefined {
  const value = at(obj, path);
  return isNum(value) ? value : undefined;
}

/** A plain object (not null, not an array), for walking JSON of unknown shape. */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** n points spaced evenly in log between lo and hi (both > 0): the x grid of a fitted curve. */
export function logGrid(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo * (hi / lo) ** (i / (n - 1)));
}
