import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recommend, type RecommendInputs } from './recommend.js';

const close = (actual: number, expected: number, tol = 1e-12, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

/**
 * Shared hand-made measurements: step time 20 ms + 0.1 ms/sample (half peak throughput at
 * alpha/beta = 200), B_simple = 800 with 90% interval [600, 1000], SGD LR 0.1 tuned at batch 256,
 * 60 000 training samples, memory ceiling 4096.
 */
const BASE: RecommendInputs = {
  objective: 'time',
  maxBatch: 4096,
  stepTime: { alphaMs: 20, betaMsPerSample: 0.1 },
  saturationBatch: 1024,
  noise: { bSimple: 800, low: 600, high: 1000, confidence: 0.9 },
  lr: { baseLr: 0.1, baseBatch: 256, optimizer: 'sgd' },
  trainSamples: 60_000,
};

test("'time': B* = sqrt(B_crit alpha / beta), noise binds", () => {
  const r = recommend(BASE);
  // sqrt(800 * 20 / 0.1) = 400; interval scaled by 400/800 -> [300, 500]; 256 and 512 lie outside,
  // so the multiple of 8 (400 itself) is kept.
  assert.deepEqual([r.batch, r.microBatchSize, r.accumSteps, r.binding], [400, 400, 1, 'noise']);
  close(r.lr, (0.1 * 400) / 256); // linear rule for SGD
  assert.equal(r.lrRule, 'linear');
  assert.equal(r.warmupSteps, Math.ceil(60_000 / 400)); // one epoch
  assert.equal(r.confidence, 'high'); // 1000 / 600 < 2
  // Independent check: 400 minimizes (1 + 800/B)(20 + 0.1 B) over integers.
  const cost = (b: number) => (1 + 800 / b) * (20 + 0.1 * b);
  let best = 1;
  for (let b = 1; b <= 4096; b++) if (cost(b) < cost(best)) best = b;
  assert.equal(best, 400);
  const effects = r.reasons.map((x) => x.effect);
  assert.deepEqual(effects, ['memory', 'speed', 'stability']);
  assert.match(r.reasons[2]!.text, /critical batch ~800 from the gradient noise scale B_simple \(90% interval 600-1000\)/);
  assert.match(r.reasons[2]!.text, /150 warm-up steps/);
});

test("'time' where memory binds: capped at the ceiling, no accumulation", () => {
  const r = recommend({ ...BASE, maxBatch: 300 });
  assert.deepEqual([r.batch, r.microBatchSize, r.accumSteps, r.binding], [300, 300, 1, 'memory']);
  close(r.lr, (0.1 * 300) / 256);
  assert.match(r.reasons[0]!.text, /largest batch that fits is 300.*memory binds: the objective asked for about 400/);
});

test("'compute': B = B_crit / 10 so that E(B) <= 1.1 E_min", () => {
  const r = recommend({ ...BASE, objective: 'compute' });
  // 800 / 10 = 80, interval [60, 100]: 64 is a power of two inside it.
  assert.deepEqual([r.batch, r.accumSteps, r.binding], [64, 1, 'noise']);
  close(r.lr, 0.1 * 64 / 256);
  assert.equal(r.warmupSteps, 0, 'no warm-up when the LR is scaled down');
});

test("'generalization': smallest batch at half peak throughput (alpha/beta), or B_crit when smaller", () => {
  const r = recommend({ ...BASE, objective: 'generalization' });
  // alpha / beta = 200 < 800; interval scaled by 1/4 -> [150, 250]: 128 and 256 outside, 200 kept.
  assert.deepEqual([r.batch, r.binding], [200, 'throughput']);
  assert.ok(r.reasons.some((x) => x.effect === 'generalization'));
  // Noise binds when B_simple = 100 < 200: interval [80, 120] -> 104, the multiple of 8 nearest in log scale.
  const n = recommend({ ...BASE, objective: 'generalization', noise: { bSimple: 100, low: 80, high: 120, confidence: 0.9 } });
  assert.deepEqual([n.batch, n.binding], [104, 'noise']);
  assert.match(n.reasons.find((x) => x.effect === 'generalization')!.text, /batch 104 stays at or below the critical batch ~100/);
  assert.match(r.reasons.find((x) => x.effect === 'generalization')!.text, /batch 200 is the smallest that keeps half the peak throughput/);
});

test("'memory': the time batch by accumulation over a small micro-batch", () => {
  const r = recommend({ ...BASE, objective: 'memory', maxBatch: 128 });
  // Effective 400 (as 'time' without the cap); micro-batch <= min(128, alpha/beta = 200) = 128;
  // 400 = 100 x 4 (k_min = ceil(400/128) = 4 divides 400).
  assert.deepEqual([r.batch, r.microBatchSize, r.accumSteps, r.binding], [400, 100, 4, 'noise']);
  assert.match(r.reasons[0]!.text, /4 accumulation steps give batch 400 = 100 x 4/);
});

test('no noise estimate: throughput decides, confidence low; measured B_crit beats the noise scale', () => {
  const r = recommend({ ...BASE, noise: undefined });
  assert.deepEqual([r.batch, r.binding, r.confidence], [1024, 'throughput', 'low']);
  assert.match(r.reasons[2]!.text, /no critical batch estimate/);
  const m = recommend({ ...BASE, measuredBCrit: 3200, objective: 'compute' });
  // 3200 / 10 = 320; a measured B_crit has no interval, so +-25%: [256, 400] holds 256 (512 is outside).
  assert.deepEqual([m.batch, m.confidence], [256, 'high']);
  assert.match(m.reasons[2]!.text, /critical batch ~3200 measured by the steps-to-target sweep/);
});

test('Adam uses the square-root rule; bad inputs throw', () => {
  const r = recommend({ ...BASE, lr: { baseLr: 0.001, baseBatch: 256, optimizer: 'adam' } });
  assert.equal(r.lrRule, 'sqrt');
  close(r.lr, 0.001 * Math.sqrt(400 / 256));
  assert.throws(() => recommend({ ...BASE, maxBatch: 0 }), /largest batch that fits must be a positive integer, got 0/);
  assert.throws(() => recommend({ ...BASE, objective: 'cheap' as never }), /unknown objective "cheap"/);
});
