/**
 * The one number formatter of batchlab: the terminal, the findings, the HTML report and the dashboard all
 * print numbers through these functions, so a value reads the same everywhere.
 */

/**
 * 12345.6 -> "12,346"; values under 1000 keep `digits` significant digits (0.000123456 -> "0.000123").
 * undefined, null and NaN print as "-" (not measured); +-Infinity as "Infinity"/"-Infinity".
 */
export function num(x: number | undefined | null, digits = 3): string {
  if (x === undefined || x === null || Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}

/** A fraction as a percentage: 0.9734 -> "97.34%" (`decimals` after the point). */
export function pct(x: number | undefined | null, decimals = 2): string {
  return x === undefined || x === null || Number.isNaN(x) ? '-' : `${(x * 100).toFixed(decimals)}%`;
}

/** Milliseconds as "850 ms", "12.3 s", "4 min 05 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Bytes as MB with one decimal (1 MB = 10^6 bytes, as the `peak MB` columns use). */
export function mb(bytes: number | undefined | null): string {
  return bytes === undefined || bytes === null ? '-' : (bytes / 1e6).toFixed(1);
}

/** A ratio a/b as "2.5x" (3 significant digits). */
export function ratio(a: number, b: number): string {
  return `${num(a / b)}x`;
}

/**
 * A value with the half-width of its interval, as the terminal and the report print it: "96.91% ±0.34"
 * (`fmt` formats both numbers; `unit` follows the value). The half-width is (high - low) / 2, a fair
 * summary of an interval that is not quite symmetric (Wilson, bootstrap). Without an interval: the value.
 */
export function plusMinus(
  v: { estimate: number; low?: number; high?: number },
  fmt: (x: number) => string = num,
  unit = '',
): string {
  const value = `${fmt(v.estimate)}${unit}`;
  if (v.low === undefined || v.high === undefined || !Number.isFinite(v.high - v.low)) return value;
  return `${value} \u00b1${fmt((v.high - v.low) / 2)}`;
}

/** A fraction in percentage points with `decimals` after the point, no sign: 0.9734 -> "97.34". */
export function points(x: number, decimals = 2): string {
  return (x * 100).toFixed(decimals);
}
