import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NoiseScaleTracker,
  noiseScaleSeries,
  noiseScaleWithCI,
  noiseTerms,
  simpleNoiseScale,
  termsFromRecord,
  type NoiseStepRecord,
} from './noise.js';
import { createRng, type Rng } from './random.js';
import { ema } from './stats.js';

const close = (actual: number, expected: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected} +- ${tol}, got ${actual}`);

type Vec = number[];
const dot = (a: Vec, b: Vec): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
const sqNorm = (a: Vec): number => dot(a, a);

/** Mean of a list of vectors. */
function meanVec(vs: readonly Vec[]): Vec {
  const out = new Array<number>(vs[0]!.length).fill(0);
  for (const v of vs) v.forEach((x, i) => (out[i]! += x / vs.length));
  return out;
}

test('two-batch formulas are exactly unbiased: brute force over all batches drawn with replacement', () => {
  // Three per-sample gradients in 2-D. G = mean g, tr(Sigma) = mean |g|^2 - |G|^2 (population covariance).
  const grads: Vec[] = [
    [1, 0],
    [0, 2],
    [3, 1],
  ];
  const G = meanVec(grads); // (4/3, 1)
  const trueGradSq = sqNorm(G);
  const trueTrace = grads.reduce((s, g) => s + sqNorm(g), 0) / grads.length - trueGradSq;
  /** Exact E|G_b|^2 by enumerating all 3^b ordered batches of size b. */
  const expectedSqNorm = (b: number): number => {
    let total = 0;
    let count = 0;
    const idx = new Array<number>(b).fill(0);
    for (;;) {
      total += sqNorm(meanVec(idx.map((i) => grads[i]!)));
      count++;
      let k = 0;
      while (k < b && ++idx[k]! === grads.length) idx[k++] = 0;
      if (k === b) break;
    }
    return total / count;
  };
  for (const [b, B] of [
    [1, 2],
    [1, 3],
    [2, 5],
  ] as const) {
    // The estimators are linear in the squared norms, so E[estimate] = estimate(E[norms]).
    const t = noiseTerms({ smallBatch: b, smallSqNorm: expectedSqNorm(b), bigBatch: B, bigSqNorm: expectedSqNorm(B) });
    close(t.gradSqNorm, trueGradSq, 1e-12, `|G|^2 b=${b} B=${B}`);
    close(t.traceSigma, trueTrace, 1e-12, `tr b=${b} B=${B}`);
  }
});

test('noiseTerms hand values and input checks', () => {
  // |G|^2 = 1, tr = 8: E|G_2|^2 = 1 + 4 = 5, E|G_8|^2 = 1 + 1 = 2.
  const t = noiseTerms({ smallBatch: 2, smallSqNorm: 5, bigBatch: 8, bigSqNorm: 2 });
  close(t.gradSqNorm, 1, 1e-12);
  close(t.traceSigma, 8, 1e-12);
  assert.deepEqual(simpleNoiseScale(t), { bSimple: 8, status: 'ok' });
  assert.throws(
    () => noiseTerms({ smallBatch: 8, smallSqNorm: 1, bigBatch: 8, bigSqNorm: 1 }),
    /0 < b < B, got b = 8, B = 8/,
  );
  assert.throws(() => noiseTerms({ smallBatch: 2, smallSqNorm: Number.NaN, bigBatch: 8, bigSqNorm: 1 }), /finite/);
});

test('degenerate estimates are reported as not measurable, never as a negative noise scale', () => {
  // |G_B|^2 much smaller than |G_b|^2: |G|^2 estimate (8*0.1 - 2*5)/6 < 0.
  const t = noiseTerms({ smallBatch: 2, smallSqNorm: 5, bigBatch: 8, bigSqNorm: 0.1 });
  assert.ok(t.gradSqNorm < 0);
  assert.deepEqual(simpleNoiseScale(t), { bSimple: undefined, status: 'gradient-not-measurable' });
  // |G_B|^2 > |G_b|^2: tr(Sigma) estimate < 0.
  assert.deepEqual(
    simpleNoiseScale(noiseTerms({ smallBatch: 2, smallSqNorm: 1, bigBatch: 8, bigSqNorm: 2 })).status,
    'noise-not-measurable',
  );
  // A step without accumulation gives nothing; neither does a partial batch.
  const base = { step: 1, gradSqNorm: 1, microGradSqNorm: 2 };
  assert.equal(termsFromRecord({ ...base, batchSize: 32, microBatchSize: 32, accumSteps: 1 }), undefined);
  assert.equal(termsFromRecord({ ...base, batchSize: 30, microBatchSize: 8, accumSteps: 4 }), undefined);
  const tracker = new NoiseScaleTracker({ alpha: 0.5 });
  assert.equal(tracker.ingest({ ...base, batchSize: 32, microBatchSize: 32, accumSteps: 1 }), undefined);
  assert.equal(tracker.current, undefined);
  const none = noiseScaleWithCI([{ ...base, batchSize: 32, microBatchSize: 32, accumSteps: 1 }], { rng: createRng(1) });
  assert.equal(none.status, 'no-two-batch-sizes');
  assert.equal(none.bSimple, undefined);
  const p = tracker.ingest({
    step: 2,
    batchSize: 8,
    microBatchSize: 2,
    accumSteps: 4,
    microGradSqNorm: 5,
    gradSqNorm: 0.1,
  });
  assert.equal(p?.bSimple, undefined);
  assert.equal(p?.status, 'gradient-not-measurable');
});

/**
 * Linear regression with a known noise scale.
 *
 * Data: x ~ N(0, I_d), y = w*.x + sigma eps, eps ~ N(0, 1). Loss l = 1/2 (w.x - y)^2 at weights w,
 * delta = w - w*. Per-sample gradient g = x (x.w - y) = x x^T delta - sigma eps x.
 * Mean: G = E[x x^T] delta - sigma E[eps] E[x] = delta.
 * Second moment: E[g g^T] = E[x x^T delta delta^T x x^T] + sigma^2 E[eps^2] E[x x^T] (cross terms have
 * E[eps] = 0). By Isserlis, E[x_i x_j x_k x_l] = d_ij d_kl + d_ik d_jl + d_il d_jk, so for A = delta delta^T
 * E[x x^T A x x^T]_il = A_il + A_li + d_il tr A, i.e. 2 delta delta^T + |delta|^2 I.
 * Covariance: Sigma = E[g g^T] - G G^T = |delta|^2 I + delta delta^T + sigma^2 I.
 * Hence tr(Sigma) = (d + 1)|delta|^2 + d sigma^2, |G|^2 = |delta|^2 and
 * B_simple = ((d + 1)|delta|^2 + d sigma^2) / |delta|^2.
 * With d = 4, |delta| = 1, sigma = 1: B_simple = (5 + 4) / 1 = 9.
 */
const D = 4;
const SIGMA = 1;
const CLOSED_FORM_B_SIMPLE = ((D + 1) * 1 + D * SIGMA * SIGMA) / 1;

/** Per-sample gradients at w = w* + delta, |delta| = 1, for n samples. */
function regressionGradients(n: number, rng: Rng): Vec[] {
  const wStar = Array.from({ length: D }, () => rng.normal());
  const raw = Array.from({ length: D }, () => rng.normal());
  const delta = raw.map((v) => v / Math.sqrt(sqNorm(raw)));
  const w = wStar.map((v, i) => v + delta[i]!);
  const grads: Vec[] = [];
  for (let s = 0; s < n; s++) {
    const x = Array.from({ length: D }, () => rng.normal());
    const y = dot(wStar, x) + SIGMA * rng.normal();
    const r = dot(w, x) - y;
    grads.push(x.map((xi) => xi * r));
  }
  return grads;
}

/**
 * Step records as a trainer with accumulation would write them: k micro-batches of b samples drawn
 * with replacement; microGradSqNorm = mean_k |g_micro|^2, gradSqNorm = |mean_k g_micro|^2, B = b k.
 */
function simulateSteps(
  grads: readonly Vec[],
  options: { steps: number; micro: number; accum: number; rng: Rng },
): NoiseStepRecord[] {
  const records: NoiseStepRecord[] = [];
  for (let step = 1; step <= options.steps; step++) {
    const micros: Vec[] = [];
    for (let j = 0; j < options.accum; j++) {
      const batch = Array.from({ length: options.micro }, () => grads[options.rng.randInt(grads.length)]!);
      micros.push(meanVec(batch));
    }
    records.push({
      step,
      batchSize: options.micro * options.accum,
      microBatchSize: options.micro,
      accumSteps: options.accum,
      microGradSqNorm: micros.reduce((s, g) => s + sqNorm(g), 0) / micros.length,
      gradSqNorm: sqNorm(meanVec(micros)),
    });
  }
  return records;
}

test('linear regression: estimated B_simple matches the closed form and the exact finite-sample value', () => {
  const rng = createRng(2024);
  const grads = regressionGradients(4000, rng);
  // Exact values for this finite data set (sampling with replacement from it is exactly the model).
  const G = meanVec(grads);
  const empiricalGradSq = sqNorm(G);
  const empiricalTrace = grads.reduce((s, g) => s + sqNorm(g), 0) / grads.length - empiricalGradSq;
  const empiricalBSimple = empiricalTrace / empiricalGradSq;
  // The finite sample itself is within 15% of the population closed form (sampling error ~ 5%).
  close(empiricalBSimple, CLOSED_FORM_B_SIMPLE, 0.15 * CLOSED_FORM_B_SIMPLE, 'empirical vs closed form');

  const records = simulateSteps(grads, { steps: 20_000, micro: 8, accum: 8, rng });
  const est = noiseScaleWithCI(records, { windows: 20, iterations: 400, confidence: 0.95, rng: createRng(5) });
  assert.equal(est.status, 'ok');
  assert.equal(est.steps, 20_000);
  // Monte Carlo error of the ratio over 20k steps is ~0.5%: 3% against the exact finite-sample value...
  close(est.bSimple!, empiricalBSimple, 0.03 * empiricalBSimple, 'estimate vs finite-sample');
  close(est.gradSqNorm!, empiricalGradSq, 0.02 * empiricalGradSq, '|G|^2');
  close(est.traceSigma!, empiricalTrace, 0.03 * empiricalTrace, 'tr(Sigma)');
  // ...and 15% against the population closed form.
  close(est.bSimple!, CLOSED_FORM_B_SIMPLE, 0.15 * CLOSED_FORM_B_SIMPLE, 'estimate vs closed form');
  // The interval contains the exact value and is narrow.
  assert.ok(
    est.low! <= empiricalBSimple && empiricalBSimple <= est.high!,
    `CI [${est.low}, ${est.high}] vs ${empiricalBSimple}`,
  );
  assert.ok(est.high! - est.low! < 0.1 * empiricalBSimple, `CI width ${est.high! - est.low!}`);

  // The streaming tracker with a ~500-step EMA ends near the same value.
  const series = noiseScaleSeries(records, { alpha: 0.002 });
  assert.equal(series.length, records.length);
  const last = series[series.length - 1]!;
  close(last.bSimple!, empiricalBSimple, 0.1 * empiricalBSimple, 'tracker');
});

test('tracker smooths numerator and denominator separately with the bias-corrected EMA', () => {
  const rng = createRng(3);
  const grads = regressionGradients(500, rng);
  const records = simulateSteps(grads, { steps: 50, micro: 4, accum: 4, rng });
  const terms = records.map((r) => termsFromRecord(r)!);
  const alpha = 0.1;
  const gEma = ema(
    terms.map((t) => t.gradSqNorm),
    alpha,
  );
  const tEma = ema(
    terms.map((t) => t.traceSigma),
    alpha,
  );
  const series = noiseScaleSeries(records, { alpha });
  series.forEach((p, i) => {
    close(p.smoothedGradSqNorm, gEma[i]!, 1e-9, `grad ${i}`);
    close(p.smoothedTraceSigma, tEma[i]!, 1e-9, `trace ${i}`);
    if (gEma[i]! > 0 && tEma[i]! > 0) close(p.bSimple!, tEma[i]! / gEma[i]!, 1e-9, `ratio ${i}`);
    else assert.equal(p.bSimple, undefined);
  });
  // The ratio of EMAs differs from the EMA of per-step ratios (which the tracker must not compute).
  const perStepRatios = ema(
    terms.map((t) => t.traceSigma / t.gradSqNorm),
    alpha,
  );
  assert.notEqual(series[series.length - 1]!.bSimple, perStepRatios[perStepRatios.length - 1]);
  assert.throws(() => new NoiseScaleTracker({ alpha: 0 }), /alpha/);
});

test('noiseScaleWithCI: an unresolved gradient gives an undefined estimate and an interval up to Infinity', () => {
  // Pure noise: G = 0 exactly (gradients +-1 in equal numbers), so |G|^2 estimates scatter around 0.
  const grads: Vec[] = Array.from({ length: 1000 }, (_, i) => [i % 2 === 0 ? 1 : -1, i % 4 < 2 ? 1 : -1]);
  const rng = createRng(12);
  const records = simulateSteps(grads, { steps: 400, micro: 4, accum: 4, rng });
  const est = noiseScaleWithCI(records, { windows: 10, iterations: 300, rng: createRng(4) });
  assert.ok(est.high === Number.POSITIVE_INFINITY, `high ${est.high}`);
  assert.ok(est.low! >= 0);
  if (est.gradSqNorm! <= 0) assert.equal(est.status, 'gradient-not-measurable');
  else assert.ok(est.bSimple! > 50, `B_simple ${est.bSimple} should be huge when G = 0`);
});
