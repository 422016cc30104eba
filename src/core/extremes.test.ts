import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { tTestPower } from './distributions.js';
import { binomialVariance, type Observation } from './evidence.js';
import { bestBatches, throughputSaturation } from './extremes.js';
import { createRng, type Rng } from './random.js';

const close = (actual: number, expected: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

const SWEEP = [16, 32, 64, 128, 256, 512, 1024];

function table(batchSizes: readonly number[], rows: readonly (readonly number[])[]): Observation[] {
  return rows.flatMap((row, s) => row.map((value, i) => ({ batchSize: batchSizes[i] as number, seed: s + 1, value })));
}

const mcSd = (p: number, n: number): number => Math.sqrt((p * (1 - p)) / n);

// ---- Best batch -----------------------------------------------------------------------------------------

test('best batch: the set within the noise of the best, and the batches worse than it', () => {
  // Held-out accuracy, 3 seeds: flat at 16..256, lower at 512 and 1024; seed 2 one point better throughout,
  // run-to-run noise 0.3 points (so a difference needs about 3.85 x 0.3 sqrt(2/3) = 0.9 points to count).
  const rng = createRng(5);
  const levels = [0.9, 0.902, 0.899, 0.901, 0.898, 0.86, 0.84];
  const rows = [0, 0.01, -0.003].map((o) => levels.map((v) => v + o + 0.003 * rng.normal()));
  const r = bestBatches({ observations: table(SWEEP, rows), better: 'higher' });
  assert.equal(r.outcome, 'set');
  assert.deepEqual(r.worse, [512, 1024]);
  assert.ok(r.best.includes(32) && r.best.length > 1);
  assert.match(r.restsOn.test, /Bonferroni over all 21 pairs/);
  const at1024 = r.batches.find((b) => b.batchSize === 1024);
  const column = rows.map((row) => row[6] as number);
  close(at1024?.level as number, column.reduce((a, v) => a + v, 0) / 3, 1e-12, 'level = mean over seeds');
});

test('regression (issue 13): best and worst never name the same batch; one best only when it beats all', () => {
  // "best at B=8 (93.33%) and worst at B=8": ties everywhere give no ranking at all.
  const tied = bestBatches({ observations: table([8, 16, 32], [[0.9333, 0.9333, 0.9333]]), better: 'higher' });
  assert.equal(tied.outcome, 'inconclusive');
  assert.deepEqual(tied.best, [8, 16, 32]);
  assert.deepEqual(tied.worse, []);
  // Property: over any data, best and worse split the batch sizes, best is never empty, and 'single'
  // (one best) is said only when exactly one batch size is not worse.
  const rows = fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }), {
    minLength: 1,
    maxLength: 3,
  });
  fc.assert(
    fc.property(rows, fc.boolean(), (rs, higher) => {
      const r = bestBatches({ observations: table([16, 64, 256, 1024], rs), better: higher ? 'higher' : 'lower' });
      const all = [...r.best, ...r.worse].sort((a, b) => a - b);
      return (
        r.best.length >= 1 &&
        r.best.every((b) => !r.worse.includes(b)) &&
        all.join() === '16,64,256,1024' &&
        (r.outcome === 'single') === (r.best.length === 1 && r.worse.length > 0)
      );
    }),
    { seed: 13, numRuns: 300 },
  );
});

test('best batch on 30 held-out samples and one seed: one sample apart is within the noise', () => {
  const accuracies = [0.9333, 0.9, 0.9333, 0.9667, 0.9333, 0.9, 0.9333];
  const observations = SWEEP.map((batchSize, i) => ({
    batchSize,
    seed: 1,
    value: accuracies[i] as number,
    samplingVariance: binomialVariance(accuracies[i] as number, 30),
  }));
  const r = bestBatches({ observations, better: 'higher', heldOutSamples: 30 });
  assert.equal(r.outcome, 'inconclusive');
  assert.equal(r.restsOn.noise, 'sampling error of each run');
  assert.equal(r.best.length, 7);
});

/** 7 batch sizes x `seeds` seeds; value = seed offset + N(0, 1), the last batch size lowered by `shortfall`. */
function sweepWithWorst(rng: Rng, seeds: number, shortfall: number): Observation[] {
  const out: Observation[] = [];
  for (let s = 0; s < seeds; s++) {
    const offset = 2 * rng.normal();
    for (const b of SWEEP)
      out.push({ batchSize: b, seed: s, value: offset + rng.normal() - (b === 1024 ? shortfall : 0) });
  }
  return out;
}

test('calibration: with no differences, no batch is called worse in at least 95% of 4,000 sweeps', () => {
  // Bonferroni over the 21 pairs bounds the false "worse" rate by 5%; it is conservative (about 3%).
  const rng = createRng(1401);
  const sims = 4000;
  let claims = 0;
  for (let i = 0; i < sims; i++)
    if (bestBatches({ observations: sweepWithWorst(rng, 3, 0), better: 'higher' }).outcome !== 'inconclusive') claims++;
  assert.ok(claims / sims <= 0.05, `false claims ${claims / sims}`);
  assert.ok(claims / sims >= 0.01, `false claims ${claims / sims}: needlessly careful`);
});

test('calibration: a batch 4 standard errors worse than the others is named worse at least 80% of the time', () => {
  // Shortfall in standard errors of a difference of two batch means, sigma sqrt(2 / seeds). Naming the
  // worse batch among 7 at a 5% family-wise error takes a larger shortfall than one planned comparison:
  // at 3 standard errors it is named 55% of the time (3 seeds; 69% with 5), at 4 standard errors 84%.
  const rng = createRng(1402);
  const sims = 4000;
  let detected = 0;
  let wrong = 0;
  for (let i = 0; i < sims; i++) {
    const r = bestBatches({ observations: sweepWithWorst(rng, 3, 4 * Math.sqrt(2 / 3)), better: 'higher' });
    if (r.worse.includes(1024)) detected++;
    if (r.worse.some((b) => b !== 1024)) wrong++;
  }
  assert.ok(detected / sims >= 0.8, `detection ${detected / sims}`);
  assert.ok(wrong / sims <= 0.05, `equal batches called worse ${wrong / sims}`);
});

// ---- Saturation -----------------------------------------------------------------------------------------

/** Samples/s = B / (alpha + beta B) (the step-time model), times a seed factor and per-run noise. */
function throughputRuns(rng: Rng, seeds: number, alphaMs: number, betaMs: number, noise: number): Observation[] {
  const out: Observation[] = [];
  for (let s = 0; s < seeds; s++) {
    const seedFactor = Math.exp(0.1 * rng.normal());
    for (const b of SWEEP) {
      out.push({
        batchSize: b,
        seed: s,
        value: ((1000 * b) / (alphaMs + betaMs * b)) * seedFactor * Math.exp(noise * rng.normal()),
      });
    }
  }
  return out;
}

test('saturation inside the swept range: from the batch where doubling gains under 10%', () => {
  // t(B) = 0.5 ms + 0.01 ms x B: the gain per doubling alpha / (alpha + 2 beta B) = 0.5 / (0.5 + 0.02 B) is 16%
  // at 128 -> 256 and 8.9% at 256 -> 512 (then 4.7%, 2.4%); with 0.2% noise per run the 8.9% is resolved.
  const r = throughputSaturation({ observations: throughputRuns(createRng(1), 3, 0.5, 0.01, 0.002) });
  assert.equal(r.outcome, 'saturated');
  assert.equal(r.saturatedFrom, 256);
  assert.ok((r.saturatedFrom as number) < r.largestBatch);
  close(r.gains[0]?.gain.estimate as number, (2 * (0.5 + 0.16)) / (0.5 + 0.32) - 1, 0.02, 'gain 16 -> 32');
});

test('regression (issue 13): throughput still rising at the largest batch is never "stops improving past" it', () => {
  // t(B) = 50 ms + 0.001 ms x B: the gain per doubling at 512 -> 1024 is still 50 / 51 = 98%.
  const r = throughputSaturation({ observations: throughputRuns(createRng(2), 3, 50, 0.001, 0.01) });
  assert.equal(r.outcome, 'still-rising');
  assert.equal(r.saturatedFrom, undefined);
  assert.match(r.reason, /still rising at the largest batch swept \(B=1024\)/);
  // Property: a saturation point, when named, is always a swept batch below the largest one.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.01, max: 50, noNaN: true }), (seed, alpha) => {
      const s = throughputSaturation({ observations: throughputRuns(createRng(seed), 2, alpha, 0.01, 0.05) });
      return s.saturatedFrom === undefined || (SWEEP.includes(s.saturatedFrom) && s.saturatedFrom < s.largestBatch);
    }),
    { seed: 14, numRuns: 200 },
  );
});

/**
 * Sweeps whose true gain per doubling is exactly the 10% threshold at every step, except the last doubling,
 * which falls short of it by `shortfall` standard errors of the estimated ln gain (noise sigma = 0.05 in ln
 * samples/s, so that standard error is sigma sqrt(2 / seeds)).
 */
function thresholdSweep(rng: Rng, seeds: number, shortfall: number): Observation[] {
  const sigma = 0.05;
  const out: Observation[] = [];
  for (let s = 0; s < seeds; s++) {
    const offset = 0.3 * rng.normal();
    let level = Math.log(1000);
    SWEEP.forEach((b, i) => {
      if (i > 0) level += Math.log(1.1) - (i === SWEEP.length - 1 ? shortfall * sigma * Math.sqrt(2 / seeds) : 0);
      out.push({ batchSize: b, seed: s, value: Math.exp(level + offset + sigma * rng.normal()) });
    });
  }
  return out;
}

test('calibration: at exactly the threshold, saturation is claimed either way at most ~5% of 4,000 sweeps', () => {
  // The two claims are two one-sided 2.5% tests of the last doubling, exact under this noise: 5% in all.
  const rng = createRng(1403);
  const sims = 4000;
  let claims = 0;
  for (let i = 0; i < sims; i++)
    if (throughputSaturation({ observations: thresholdSweep(rng, 3, 0) }).outcome !== 'inconclusive') claims++;
  assert.ok(claims / sims <= 0.05 + 3 * mcSd(0.05, sims), `false claims ${claims / sims}`);
});

test('calibration: a last doubling 3 standard errors under the threshold is detected at the exact t power', () => {
  // Exact power of the last doubling's test: noncentral t with (7 - 1)(seeds - 1) degrees of freedom:
  // 78.6% with 3 seeds (12 df, under the 80% aim), 82.1% with 5 seeds (24 df).
  const rng = createRng(1404);
  const sims = 4000;
  for (const seeds of [3, 5]) {
    const exact = tTestPower({ delta: 3, df: 6 * (seeds - 1), confidence: 0.95 });
    let detected = 0;
    for (let i = 0; i < sims; i++)
      if (throughputSaturation({ observations: thresholdSweep(rng, seeds, 3) }).outcome === 'saturated') detected++;
    close(detected / sims, exact, 3 * mcSd(exact, sims), `${seeds} seeds`);
    if (seeds === 5) assert.ok(exact >= 0.8);
  }
});
