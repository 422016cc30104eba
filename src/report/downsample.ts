/**
 * Downsampling long series for display while keeping their extremes. A 20,000-step loss curve has far
 * more points than a chart has pixel columns; min/max per bucket keeps every spike and dip a reader
 * would see at full resolution (a divergence spike must not vanish), unlike plain decimation.
 */

/**
 * Bucket `k` of `buckets` over `n` points covers indices [floor(k n / buckets), floor((k+1) n / buckets)):
 * start inclusive, end exclusive; consecutive buckets tile [0, n) without overlap.
 */
export function bucketBounds(n: number, buckets: number, k: number): [start: number, end: number] {
  return [Math.floor((k * n) / buckets), Math.floor(((k + 1) * n) / buckets)];
}

/**
 * Indices (ascending, unique) of the points of `ys` to draw so that at most `maxPoints` remain:
 * the first and last point, and in each of floor((maxPoints - 2) / 2) buckets (see `bucketBounds`) the
 * index of its smallest and of its largest finite value (the first one on ties). Non-finite values
 * (NaN, null, Infinity) are never chosen as extremes; a bucket holding only such values keeps its first
 * index, so a gap stays a gap. With n <= maxPoints every index is returned.
 * Throws a RangeError if maxPoints is not an integer >= 2.
 */
export function minMaxIndices(ys: ArrayLike<number | null>, maxPoints: number): number[] {
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`maxPoints must be an integer >= 2, got ${maxPoints}`);
  }
  const n = ys.length;
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i);
  const buckets = Math.floor((maxPoints - 2) / 2);
  const keep = new Set<number>([0, n - 1]);
  for (let k = 0; k < buckets; k++) {
    const [start, end] = bucketBounds(n, buckets, k);
    const [lo, hi] = extremesIn(ys, start, end);
    keep.add(lo);
    keep.add(hi);
  }
  return [...keep].sort((a, b) => a - b);
}

/** Indices of the first smallest and first largest finite value in [start, end); `start` twice if none. */
function extremesIn(ys: ArrayLike<number | null>, start: number, end: number): [number, number] {
  let lo = -1;
  let hi = -1;
  for (let i = start; i < end; i++) {
    const y = ys[i];
    if (typeof y !== 'number' || !Number.isFinite(y)) continue;
    if (lo < 0 || y < (ys[lo] as number)) lo = i;
    if (hi < 0 || y > (ys[hi] as number)) hi = i;
  }
  return lo < 0 ? [start, start] : [lo, hi];
}

/** Picks `indices` out of `values` (a column of a table downsampled by `minMaxIndices`). */
export function pick<T>(values: ArrayLike<T>, indices: readonly number[]): T[] {
  return indices.map((i) => values[i]!);
}
