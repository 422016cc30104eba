/** Plain-text formatting for terminal output: tables, numbers, durations. */

/** Renders rows as an aligned table; numbers are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c)));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[], raw?: readonly (string | number)[]) =>
    r
      .map((c, i) => (typeof raw?.[i] === 'number' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0]!), sep, ...cells.slice(1).map((r, i) => line(r, rows[i]))].join('\n');
}

/** 12345.6 -> "12,346"; small values keep `digits` significant digits. */
export function num(x: number | undefined | null, digits = 3): string {
  if (x === undefined || x === null || Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}

/** 0.9734 -> "97.34%". */
export function pct(x: number | undefined, decimals = 2): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(decimals)}%`;
}

/** Milliseconds as "850 ms", "12.3 s", "4 min 05 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Bytes as MB with one decimal (1 MB = 10^6 bytes, as `peak MB` columns use). */
export function mb(bytes: number | undefined): string {
  return bytes === undefined ? '-' : (bytes / 1e6).toFixed(1);
}
