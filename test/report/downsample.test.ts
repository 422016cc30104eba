import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { minMaxIndices, pick } from '../../src/report/downsample.js';
import { lcg } from './synthetic.js';

/** Brute force: for each bucket k (floor(k n / m) .. floor((k+1) n / m)), its min and max finite value. */
function bruteExtremes(
  ys: (number | null)[],
  buckets: number,
): { start: number; end: number; min?: number; max?: number }[] {
  const out = [];
  for (let k = 0; k < buckets; k++) {
    const start = Math.floor((k * ys.length) / buckets);
    const end = Math.floor(((k + 1) * ys.length) / buckets);
    const finite = ys.slice(start, end).filter((y): y is number => typeof y === 'number' && Number.isFinite(y));
    out.push({
      start,
      end,
      min: finite.length ? Math.min(...finite) : undefined,
      max: finite.length ? Math.max(...finite) : undefined,
    });
  }
  return out;
}

function randomSeries(n: number, seed: number, withGaps: boolean): (number | null)[] {
  const rnd = lcg(seed);
  return Array.from({ length: n }, (_, i) => {
    if (withGaps && rnd() < 0.05) return rnd() < 0.5 ? null : Number.NaN;
    return Math.sin(i / 50) + (rnd() - 0.5) * 0.3 + (rnd() < 0.01 ? 20 : 0);
  });
}

describe('minMaxIndices', () => {
  it('returns every index when the series is short enough', () => {
    assert.deepEqual(minMaxIndices([3, 1, 2], 3), [0, 1, 2]);
    assert.deepEqual(minMaxIndices([], 10), []);
  });

  it("keeps first, last and each bucket's min and max, as brute force finds them", () => {
    for (const [n, maxPoints, seed] of [
      [1000, 100, 1],
      [20_000, 1200, 2],
      [1001, 7, 3],
      [5000, 4, 4],
      [777, 776, 5],
    ] as const) {
      for (const withGaps of [false, true]) {
        const ys = randomSeries(n, seed, withGaps);
        const kept = minMaxIndices(ys, maxPoints);
        assert.ok(kept.length <= maxPoints, `${kept.length} > ${maxPoints}`);
        assert.deepEqual(
          kept,
          [...new Set(kept)].sort((a, b) => a - b),
          'ascending and unique',
        );
        assert.equal(kept[0], 0);
        assert.equal(kept[kept.length - 1], n - 1);
        const keptValues = new Set(kept);
        for (const b of bruteExtremes(ys, Math.floor((maxPoints - 2) / 2))) {
          const inBucket = kept.filter((i) => i >= b.start && i < b.end).map((i) => ys[i]);
          if (b.min === undefined) {
            assert.ok(keptValues.has(b.start), `all-gap bucket ${b.start} keeps its first index`);
            continue;
          }
          assert.ok(inBucket.includes(b.min), `bucket ${b.start}..${b.end} lost its min ${b.min}`);
          assert.ok(inBucket.includes(b.max!), `bucket ${b.start}..${b.end} lost its max ${b.max}`);
        }
        const finite = ys.filter((y): y is number => typeof y === 'number' && Number.isFinite(y));
        const shown = kept.map((i) => ys[i]);
        assert.ok(shown.includes(Math.max(...finite)), 'global max kept');
        assert.ok(shown.includes(Math.min(...finite)), 'global min kept');
      }
    }
  });

  it('keeps a single spike that plain decimation would drop', () => {
    const ys = Array.from({ length: 10_000 }, () => 1);
    ys[4321] = 50;
    assert.ok(minMaxIndices(ys, 100).includes(4321));
    assert.deepEqual(
      pick(ys, minMaxIndices(ys, 100)).filter((y) => y === 50),
      [50],
    );
  });

  it('rejects a maxPoints below 2 by value', () => {
    assert.throws(() => minMaxIndices([1, 2, 3], 1), /maxPoints must be an integer >= 2, got 1/);
    assert.throws(() => minMaxIndices([1, 2, 3], 2.5), /got 2.5/);
  });
});
