import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accumulationPlan,
  findMaxBatch,
  fitMemory,
  GROWTH_FLAT_FACTOR,
  GROWTH_MAX_FACTOR,
  nextBatchUp,
  predictMaxBatch,
  secantCrossing,
  type FindMaxResult,
  type GrowthGuide,
  type PeakPoint,
  type ProbeResult,
} from './search.js';

const BASE_BYTES = 50e6;
const BYTES_PER_SAMPLE = 3e5;

/** A fake probe whose largest fitting batch is `trueMax`; records how often it was called. */
function fakeProbe(trueMax: number): { probe: (b: number) => Promise<ProbeResult>; calls: number[] } {
  const calls: number[] = [];
  const probe = async (b: number): Promise<ProbeResult> => {
    calls.push(b);
    return b <= trueMax
      ? { ok: true, peakBytes: BASE_BYTES + BYTES_PER_SAMPLE * b }
      : { ok: false, kind: b % 2 === 0 ? 'over-budget' : 'oom', message: `batch ${b} does not fit` };
  };
  return { probe, calls };
}

/** Checks the invariants every result must satisfy. */
function checkResult(r: FindMaxResult, calls: number[]): void {
  assert.deepEqual(
    r.trials.map((t) => t.batch),
    calls,
    'trials are every probe, in order',
  );
  if (r.maxBatch !== undefined) {
    assert.ok(
      r.trials.some((t) => t.batch === r.maxBatch && t.result.ok),
      `maxBatch ${r.maxBatch} was tested and passed`,
    );
  }
  assert.equal(new Set(calls).size, calls.length, 'no batch probed twice');
}

test('exact search (tolerance 0) finds the true max within log2(max) + 3 probes for predictions within 2x', async () => {
  const maxima = [
    1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 100, 127, 128, 129, 500, 777, 1000, 1023, 1024, 1025, 4097, 10_000,
  ];
  for (let m = 2; m < 300; m += 3) maxima.push(m);
  for (const trueMax of maxima) {
    for (const ratio of [0.5, 0.51, 0.7, 0.99, 1, 1.01, 1.3, 1.99, 2]) {
      const { probe, calls } = fakeProbe(trueMax);
      const r = await findMaxBatch({ probe, predictedMax: trueMax * ratio, cap: 1_000_000, tolerance: 0 });
      checkResult(r, calls);
      assert.equal(r.outcome, 'found', `max ${trueMax} ratio ${ratio}`);
      assert.equal(r.maxBatch, trueMax, `max ${trueMax} ratio ${ratio}: got ${r.maxBatch}`);
      assert.equal(r.firstFailure, trueMax + 1);
      assert.equal(r.peakBytes, BASE_BYTES + BYTES_PER_SAMPLE * trueMax);
      assert.ok(
        calls.length <= Math.log2(trueMax) + 3,
        `max ${trueMax} ratio ${ratio}: ${calls.length} probes (${calls.join(',')})`,
      );
    }
  }
});

test('default tolerance lands within 5% (below the truth) in fewer probes, even from a poor prediction', async () => {
  for (let trueMax = 1; trueMax <= 5000; trueMax = Math.ceil(trueMax * 1.37)) {
    for (const ratio of [0.25, 0.5, 0.8, 1, 1.25, 2, 4]) {
      const { probe, calls } = fakeProbe(trueMax);
      const r = await findMaxBatch({ probe, predictedMax: trueMax * ratio, cap: 1_000_000 });
      checkResult(r, calls);
      assert.ok(
        r.maxBatch! <= trueMax && r.maxBatch! >= 0.95 * trueMax,
        `max ${trueMax} ratio ${ratio}: got ${r.maxBatch}`,
      );
      // Within 2x: the product goal log2(max) + 3; 4x off costs one more doubling or halving.
      const bound = Math.log2(trueMax) + (ratio >= 0.5 && ratio <= 2 ? 3 : 4);
      assert.ok(calls.length <= bound, `max ${trueMax} ratio ${ratio}: ${calls.length} probes (${calls.join(',')})`);
    }
  }
  // Starting from 2 (no prediction) still finds it, in at most 2 log2(max) + 3 probes.
  const { probe, calls } = fakeProbe(3000);
  const r = await findMaxBatch({ probe, predictedMax: 2, cap: 1_000_000 });
  assert.ok(r.maxBatch! >= 0.95 * 3000 && r.maxBatch! <= 3000);
  assert.ok(calls.length <= 2 * Math.log2(3000) + 3);
});

test('cap, nothing fits, and the trial limit', async () => {
  let f = fakeProbe(5000);
  let r = await findMaxBatch({ probe: f.probe, predictedMax: 700, cap: 1000 });
  assert.deepEqual([r.outcome, r.maxBatch], ['capped', 1000]);
  assert.deepEqual(f.calls, [700, 1000]);
  f = fakeProbe(0);
  r = await findMaxBatch({ probe: f.probe, predictedMax: 64, cap: 1000 });
  assert.deepEqual([r.outcome, r.maxBatch, r.firstFailure], ['none-fits', undefined, 1]);
  assert.deepEqual(f.calls, [64, 32, 16, 8, 4, 2, 1]);
  f = fakeProbe(1000);
  r = await findMaxBatch({ probe: f.probe, predictedMax: 10, cap: 1_000_000, maxTrials: 4 });
  assert.deepEqual([r.outcome, r.maxBatch], ['trial-limit', 80]);
  assert.equal(f.calls.length, 4);
  // The prediction is clamped into [minBatch, cap].
  f = fakeProbe(50);
  r = await findMaxBatch({ probe: f.probe, predictedMax: 1e9, cap: 100, tolerance: 0 });
  assert.equal(f.calls[0], 100);
  assert.equal(r.maxBatch, 50);
});

test("an 'error' probe stops the search and is never taken for OOM", async () => {
  const calls: number[] = [];
  const probe = async (b: number): Promise<ProbeResult> => {
    calls.push(b);
    if (b <= 300) return { ok: true, peakBytes: b };
    if (b < 1000) return { ok: false, kind: 'error', message: 'shape mismatch in layer dense_2' };
    return { ok: false, kind: 'oom', message: 'out of memory' };
  };
  const r = await findMaxBatch({ probe, predictedMax: 200, cap: 10_000 });
  assert.equal(r.outcome, 'error');
  assert.deepEqual(r.error, { batch: 400, message: 'shape mismatch in layer dense_2' });
  assert.deepEqual(calls, [200, 400], 'no probe after the error');
  assert.equal(r.firstFailure, undefined, 'the error is not a memory failure');
  // A probe that throws propagates.
  await assert.rejects(
    findMaxBatch({
      probe: async () => {
        throw new Error('child died');
      },
      predictedMax: 8,
      cap: 10,
    }),
    /child died/,
  );
});

test('nextBatchUp: to the secant crossing, a step past it, clamped; flat memory grows by the flat factor', () => {
  const guide: GrowthGuide = { limitBytes: 1000, baseline: { batch: 8, peakBytes: 100 }, minRiseBytes: 10 };
  const up = (points: PeakPoint[], g = guide, tol = 0.04) => nextBatchUp(points, g, tol);
  // One risen probe: the secant from the baseline, slope (200 - 100) / (108 - 8) = 1 byte per sample,
  // meets the limit at 108 + 800 = 908; half a tolerance past it (x 1.02), rounded up.
  assert.equal(up([{ batch: 108, peakBytes: 200 }]), Math.ceil(908 * 1.02));
  assert.equal(up([{ batch: 108, peakBytes: 200 }], guide, 0), 908);
  // A rise below minRiseBytes is noise: grow by the flat factor (from the largest passed batch).
  assert.equal(
    up([
      { batch: 16, peakBytes: 100 },
      { batch: 1000, peakBytes: 109 },
    ]),
    1000 * GROWTH_FLAT_FACTOR,
  );
  assert.equal(up([{ batch: 1000, peakBytes: 95 }], { ...guide, flatFactor: 3 }), 3000);
  // A far crossing from a small rise is capped at maxFactor x B (rise 1 over 8 samples: 16 + 899 x 8 = 7208).
  assert.equal(up([{ batch: 16, peakBytes: 101 }], { ...guide, minRiseBytes: 1 }), 16 * GROWTH_MAX_FACTOR);
  assert.equal(up([{ batch: 16, peakBytes: 101 }], { ...guide, minRiseBytes: 1, maxFactor: 8 }), 128);
  // At or over the limit (a passed probe right at it): still a step up, by at least one tolerance.
  assert.equal(up([{ batch: 900, peakBytes: 1000 }]), Math.floor(900 * 1.04) + 1);
  assert.equal(up([{ batch: 900, peakBytes: 1000 }], guide, 0), 901);
});

test('secantCrossing: the local secant through the two largest risen probes; none before a visible rise', () => {
  const guide: GrowthGuide = { limitBytes: 1000, baseline: { batch: 8, peakBytes: 100 }, minRiseBytes: 10 };
  // Memory 100 + B^2 / 1000 (faster than linear): the local secant through 200 (140) and 400 (260) has
  // slope 0.6 and meets 1000 at 400 + 740 / 0.6 = 1633.3; from the baseline it would say 400 + 740 / (160 / 392) = 2213.
  const points = [
    { batch: 100, peakBytes: 105 },
    { batch: 400, peakBytes: 260 },
    { batch: 200, peakBytes: 140 },
  ];
  assert.ok(Math.abs((secantCrossing(points, guide) as number) - (400 + 740 / 0.6)) < 1e-9);
  assert.ok(Math.abs((secantCrossing([points[1]], guide) as number) - (400 + 740 / (160 / 392))) < 1e-9);
  // 105 is only 5 above the baseline (noise): it does not count, and alone it gives no crossing.
  assert.equal(secantCrossing([points[0]], guide), undefined);
  assert.equal(secantCrossing([], guide), undefined);
  // A flat or falling secant predicts nothing.
  assert.equal(
    secantCrossing(
      [
        { batch: 200, peakBytes: 300 },
        { batch: 400, peakBytes: 300 },
      ],
      guide,
    ),
    undefined,
  );
});

/**
 * A GPU-like memory model: a flat 1 GiB context, allocator blocks of 2 MiB, then bytesPerSample per
 * sample plus an optional quadratic term; a probe fails 'over-budget' above the limit and 'oom' above
 * the card. The true maximum is brute-forced by bisection over the monotone model.
 */
function gpuLike(o: { bytesPerSample: number; quadratic?: number; limitBytes: number; cardBytes: number }) {
  const block = 2 ** 21;
  const peak = (b: number) => 2 ** 30 + Math.ceil((o.bytesPerSample * b + (o.quadratic ?? 0) * b * b) / block) * block;
  const calls: number[] = [];
  const probe = async (b: number): Promise<ProbeResult> => {
    calls.push(b);
    const p = peak(b);
    if (p > o.cardBytes) return { ok: false, kind: 'oom', message: 'CUDA out of memory' };
    return p > o.limitBytes ? { ok: false, kind: 'over-budget', message: `peak ${p}` } : { ok: true, peakBytes: p };
  };
  let lo = 1;
  let hi = 2 ** 40;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (peak(mid) <= o.limitBytes) lo = mid;
    else hi = mid;
  }
  return { probe, calls, trueMax: lo, baseline: { batch: 8, peakBytes: peak(8) } };
}

test('a guided climb from a flat small-B profile finds the maximum in far fewer probes than doubling', async (t) => {
  const card = 80 * 2 ** 30;
  const cases = [
    { bytesPerSample: 7_000 }, // the MNIST MLP on an 80 GB card: the maximum near 10 million
    { bytesPerSample: 3e6 }, // a CNN: the maximum in the thousands
    { bytesPerSample: 7_000, quadratic: 1e-4 }, // superlinear memory: the secant undershoots the slope
    { bytesPerSample: 50 }, // almost nothing per sample: the cap decides
  ];
  for (const c of cases) {
    const cap = 2 ** 28;
    const limitBytes = 0.9 * card;
    const plain = gpuLike({ ...c, limitBytes, cardBytes: card });
    const base = await findMaxBatch({ probe: plain.probe, predictedMax: 16, cap, tolerance: 0.04 });
    const g = gpuLike({ ...c, limitBytes, cardBytes: card });
    const growth: GrowthGuide = {
      limitBytes,
      baseline: g.baseline,
      minRiseBytes: 0.01 * (limitBytes - g.baseline.peakBytes),
    };
    const r = await findMaxBatch({ probe: g.probe, predictedMax: 16, cap, tolerance: 0.04, growth });
    checkResult(r, g.calls);
    const what = `${JSON.stringify(c)}: truth ${g.trueMax}, got ${r.maxBatch} in ${g.calls.length} probes (${g.calls.join(',')}); doubling ${base.maxBatch} in ${plain.calls.length}`;
    assert.ok(r.outcome === 'found' || r.outcome === 'capped', what);
    const truth = Math.min(g.trueMax, cap);
    assert.ok(r.maxBatch! <= truth && r.maxBatch! >= truth / 1.04, what);
    assert.ok(g.calls.length <= plain.calls.length, what);
    if (truth > 1e5) assert.ok(g.calls.length <= 0.7 * plain.calls.length, what);
    t.diagnostic(what);
  }
});

test('fitMemory and predictMaxBatch against brute force', () => {
  const points = [16, 32, 64, 128].map((b) => ({ batchSize: b, peakBytes: BASE_BYTES + BYTES_PER_SAMPLE * b }));
  const fit = fitMemory(points);
  assert.ok(Math.abs(fit.interceptBytes - BASE_BYTES) < 1e-3);
  assert.ok(Math.abs(fit.bytesPerSample - BYTES_PER_SAMPLE) < 1e-6);
  assert.ok(Math.abs(fit.r2 - 1) < 1e-12);
  for (const budget of [2 ** 30, 4 * 2 ** 30, 123_456_789]) {
    let brute = 0;
    while (BASE_BYTES + BYTES_PER_SAMPLE * (brute + 1) <= budget) brute++;
    assert.equal(predictMaxBatch(fit, budget), brute, `budget ${budget}`);
  }
  assert.equal(predictMaxBatch(fit, 2 ** 30, { marginBytes: 2 ** 30 }), 0);
  assert.equal(predictMaxBatch({ interceptBytes: 1e6, bytesPerSample: 0 }, 2 ** 30), undefined);
  assert.throws(() => fitMemory([{ batchSize: 8, peakBytes: 1 }]), /2 distinct/);
});

test('accumulationPlan: hand cases', () => {
  assert.deepEqual(
    [accumulationPlan(512, 128)].map((p) => [
      p.microBatchSize,
      p.accumSteps,
      p.effectiveBatch,
      p.batchSize,
      p.exact,
      p.text,
    ]),
    [[128, 4, 512, 512, true, '512 = 128 x 4']],
  );
  assert.equal(accumulationPlan(100, 128).accumSteps, 1);
  assert.equal(accumulationPlan(96, 40).microBatchSize, 32); // k_min = 3 divides 96
  const prime = accumulationPlan(1021, 256);
  assert.deepEqual([prime.microBatchSize, prime.accumSteps, prime.effectiveBatch, prime.exact], [256, 4, 1024, false]);
  assert.match(prime.text, /^1021 -> 1024 = 256 x 4/);
  assert.throws(() => accumulationPlan(0, 8), /target batch size must be a positive integer, got 0/);
  assert.throws(() => accumulationPlan(64, 1.5), /largest micro-batch/);
});

test('accumulationPlan: brute force over targets and limits', () => {
  for (let target = 1; target <= 300; target++) {
    for (let max = 1; max <= 64; max++) {
      const p = accumulationPlan(target, max);
      assert.ok(p.microBatchSize <= max && p.microBatchSize >= 1);
      assert.equal(p.effectiveBatch, p.microBatchSize * p.accumSteps);
      assert.ok(p.effectiveBatch >= target);
      const kMin = Math.ceil(target / max);
      // Brute force: divisors b <= max with target / b <= 2 kMin.
      const divisors = [];
      for (let b = 1; b <= max; b++) if (target % b === 0 && target / b <= 2 * kMin) divisors.push(b);
      if (divisors.length > 0) {
        assert.ok(p.exact, `${target}/${max}`);
        assert.equal(p.microBatchSize, Math.max(...divisors), `${target}/${max}`);
      } else {
        assert.ok(!p.exact);
        assert.equal(p.accumSteps, kMin);
        assert.ok(p.effectiveBatch - target < kMin, `${target}/${max}: overshoot ${p.effectiveBatch - target}`);
      }
    }
  }
});
