import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recommend, relativeTimeToTarget, smallestBatchWithin, type RecommendInputs } from './recommend.js';

const close = (actual: number, expected: number, tol = 1e-12, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

/**
 * Shared hand-made measurements: step time 20 ms + 0.1 ms/sample, B_simple = 800 with 90% interval
 * [600, 1000] measured after 200 steps, SGD LR 0.1 tuned at batch 256, 60 000 training samples, memory
 * ceiling 4096 in 4 GiB.
 */
const BASE: RecommendInputs = {
  objective: 'time',
  maxBatch: 4096,
  memoryBudgetBytes: 4 * 1024 ** 3,
  stepTime: { alphaMs: 20, betaMsPerSample: 0.1 },
  saturationBatch: 1024,
  noise: { bSimple: 800, low: 600, high: 1000, confidence: 0.9, afterStep: 200 },
  lr: { baseLr: 0.1, baseBatch: 256, optimizer: 'sgd' },
  trainSamples: 60_000,
};

/** Brute force: the integer batch in [1, max] minimizing (1 + Bc/B)(alpha + beta B). */
function bruteForceTimeOptimum(bCrit: number, alpha: number, beta: number, max: number): number {
  const cost = (b: number) => (1 + bCrit / b) * (alpha + beta * b);
  let best = 1;
  for (let b = 1; b <= max; b++) if (cost(b) < cost(best)) best = b;
  return best;
}

test("'time': B* = sqrt(B_crit alpha / beta), the noise scale binds", () => {
  const r = recommend(BASE);
  // sqrt(800 * 20 / 0.1) = 400; interval scaled by 400/800 -> [300, 500]: 256 and 512 lie outside,
  // so the multiple of 8 (400 itself) is kept.
  assert.deepEqual([r.batch, r.microBatchSize, r.accumSteps, r.binding], [400, 400, 1, 'noise']);
  assert.equal(bruteForceTimeOptimum(800, 20, 0.1, 4096), 400);
  assert.equal(r.rounding.kind, 'multiple-of-8');
  close(r.lr, (0.1 * 400) / 256); // linear rule for SGD
  assert.equal(r.lrRule, 'linear');
  assert.equal(r.warmupSteps, Math.ceil((0.25 * 60_000) / 400)); // a quarter epoch
  assert.equal(r.confidence, 'high'); // 1000 / 600 < 2
  assert.deepEqual(
    r.reasons.map((x) => x.effect),
    ['memory', 'speed', 'stability', 'generalization'],
  );
  assert.match(r.reasons[0]!.text, /fits up to 4,096 in 4 GiB/);
  assert.match(r.reasons[1]!.text, /throughput flat past 1,024/);
  assert.match(r.reasons[2]!.text, /B_simple ~ 800 \(90% CI 600-1,000\) after 200 steps/);
  assert.match(r.reasons[3]!.text, /Shallue et al. 2019/);
  assert.match(r.conclusion, /^so batch 400, LR 0.156 with 38 warm-up steps \(by the linear rule/);
  assert.deepEqual(r.warnings, []);
});

test("'time' where memory binds: capped at the ceiling, no accumulation", () => {
  const r = recommend({ ...BASE, maxBatch: 300 });
  assert.deepEqual([r.batch, r.microBatchSize, r.accumSteps, r.binding], [300, 300, 1, 'memory']);
  close(r.lr, (0.1 * 300) / 256);
  assert.match(r.reasons[0]!.text, /fits up to 300 in 4 GiB.*memory binds: the objective asked for about 400/);
});

test("'time' where the noise scale binds below throughput: small B_simple gives a small batch", () => {
  // B_simple = 20: sqrt(20 * 200) = 63.2; interval [15, 25] scaled -> [47.4, 79.1] holds 64.
  const r = recommend({ ...BASE, noise: { bSimple: 20, low: 15, high: 25, confidence: 0.95 } });
  assert.deepEqual([r.batch, r.binding, r.rounding.kind], [64, 'noise', 'power-of-two']);
  assert.match(r.rounding.text, /rounded 63.25 to 64, a power of two inside/);
  assert.equal(r.warmupSteps, 0, 'no warm-up when the LR is scaled down');
  assert.ok(
    r.warnings.some((w) => /past the critical batch ~20.*linear LR rule stops holding/.test(w)),
    r.warnings.join('|'),
  );
});

test("'compute': B = B_crit / 10 so that E(B) <= 1.1 E_min; accumulation when memory binds", () => {
  const r = recommend({ ...BASE, objective: 'compute' });
  // 800 / 10 = 80, interval [60, 100]: 64 is a power of two inside it.
  assert.deepEqual([r.batch, r.accumSteps, r.binding, r.rounding.kind], [64, 1, 'noise', 'power-of-two']);
  close(r.lr, (0.1 * 64) / 256);
  const m = recommend({ ...BASE, objective: 'compute', maxBatch: 32 });
  assert.deepEqual([m.batch, m.microBatchSize, m.accumSteps], [64, 32, 2]);
  assert.match(m.reasons[0]!.text, /batch 64 = 32 x 2: 2 accumulation steps of micro-batch 32/);
  assert.ok(m.warnings.some((w) => /saves no time on one device/.test(w)));
});

test("'generalization': the smallest batch within +25% of the fastest predicted time", () => {
  const r = recommend({ ...BASE, objective: 'generalization' });
  // T(400) relative = (1/400 + 1/800)(20 + 40) = 0.225; K = 1.25 * 0.225. The smaller root of
  // (0.1/800) B^2 + (0.1 + 20/800 - K) B + 20 = 0 is 144.76; interval scaled -> [108.6, 181]: 128.
  const k = 1.25 * relativeTimeToTarget(400, BASE.stepTime!, 800);
  const root = smallestBatchWithin(k, BASE.stepTime!, 800);
  close(root, 144.76, 0.01);
  let smallest = 1;
  while (relativeTimeToTarget(smallest, BASE.stepTime!, 800) > k) smallest++;
  assert.equal(smallest, 145, 'brute force agrees with the root');
  assert.deepEqual([r.batch, r.binding], [128, 'noise']);
  assert.match(r.reasons[3]!.text, /batch 128 is the smallest within \+25% of the fastest predicted time.*tendency/);
  const wide = recommend({ ...BASE, objective: 'generalization', timeAllowance: 1 });
  assert.ok(wide.batch < r.batch, `a larger allowance gives a smaller batch (${wide.batch} vs ${r.batch})`);
});

test("'memory': the largest batch that fits; needs a budget", () => {
  const r = recommend({ ...BASE, objective: 'memory', maxBatch: 3000 });
  // 3000 capped; interval [2250, 3750] capped at 3000: no power of two inside, 3000 is a multiple of 8.
  assert.deepEqual([r.batch, r.accumSteps, r.binding, r.rounding.kind], [3000, 1, 'memory', 'multiple-of-8']);
  assert.ok(r.warnings.some((w) => /past the critical batch ~800/.test(w)));
  assert.throws(
    () => recommend({ ...BASE, objective: 'memory', memoryBudgetBytes: undefined }),
    /no budget was given.*--memory-budget 4GiB/,
  );
  const data = recommend({ ...BASE, objective: 'memory', maxBatch: 100_000 });
  assert.deepEqual([data.batch, data.binding], [60_000, 'data'], 'capped by the training set');
});

test('no noise estimate: throughput decides, confidence low; measured B_crit beats the noise scale', () => {
  const r = recommend({ ...BASE, noise: undefined });
  assert.deepEqual([r.batch, r.binding, r.confidence], [1024, 'throughput', 'low']);
  assert.match(r.reasons[2]!.text, /no critical batch estimate/);
  assert.ok(r.warnings.some((w) => /batchlab noise/.test(w)));
  const m = recommend({ ...BASE, measuredBCrit: 3200, objective: 'compute' });
  // 3200 / 10 = 320; a measured B_crit has no interval, so +-25%: [256, 400] holds 256 (512 is outside).
  assert.deepEqual([m.batch, m.confidence, m.criticalBatch?.source], [256, 'high', 'sweep']);
  assert.match(m.reasons[2]!.text, /B_crit ~ 3,200 measured by the steps-to-target sweep/);
  const wide = recommend({ ...BASE, noise: { bSimple: 800, low: 100, high: 5000, confidence: 0.95 } });
  assert.equal(wide.confidence, 'low');
});

test('LR rules: linear for SGD and momentum, square root for Adam; bad inputs throw', () => {
  const m = recommend({ ...BASE, lr: { baseLr: 0.1, baseBatch: 256, optimizer: 'momentum' } });
  assert.equal(m.lrRule, 'linear');
  const r = recommend({ ...BASE, lr: { baseLr: 0.001, baseBatch: 256, optimizer: 'adam' } });
  assert.equal(r.lrRule, 'sqrt');
  close(r.lr, 0.001 * Math.sqrt(400 / 256));
  assert.match(r.conclusion, /square-root rule of Malladi et al. 2022/);
  assert.throws(() => recommend({ ...BASE, maxBatch: 0 }), /largest batch that fits must be a positive integer, got 0/);
  assert.throws(() => recommend({ ...BASE, objective: 'cheap' as never }), /unknown objective "cheap"/);
});

test('the noise scale read at the target says where, instead of the early-training caveat', () => {
  const where = 'at training loss 0.066, measured on both sides of it';
  const r = recommend({ ...BASE, noise: { bSimple: 1025, low: 671, high: 1929, confidence: 0.95, where } });
  const stability = r.reasons.find((x) => x.effect === 'stability')!.text;
  assert.match(
    stability,
    /^B_simple ~ 1,025 \(95% CI 671-1,929\) where the target is reached \(at training loss 0\.066, measured on both sides of it\)/,
  );
  assert.doesNotMatch(stability, /grows as training goes on/);
  assert.match(
    recommend(BASE).reasons.find((x) => x.effect === 'stability')!.text,
    /after 200 steps.*grows as training goes on/,
  );
});
