import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { studentTQuantile, tTestPower } from './distributions.js';
import { binomialVariance, describeRestsOn, type Observation } from './evidence.js';
import { fitLine } from './fit.js';
import { createRng, type Rng } from './random.js';
import { type ClaimId, testTrend, USUAL_ADVICE } from './trend.js';

const close = (actual: number, expected: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

const SWEEP = [16, 32, 64, 128, 256, 512, 1024];

/** Observations from a table of values, one row per seed (seeds 1, 2, ...), one column per batch size. */
function table(
  batchSizes: readonly number[],
  rows: readonly (readonly number[])[],
  extra?: (v: number) => Partial<Observation>,
): Observation[] {
  return rows.flatMap((row, s) =>
    row.map((value, i) => ({ batchSize: batchSizes[i] as number, seed: s + 1, value, ...extra?.(value) })),
  );
}

test('one seed: the slope and interval are those of an ordinary line fit against log2(B)', () => {
  const values = [0.81, 2.58, 0.28, 0.3, 0.41, 1.91, 1.5];
  const r = testTrend({ claim: 'sharpness', observations: table(SWEEP, [values]) });
  const xs = SWEEP.map(Math.log2);
  const line = fitLine(xs, values);
  const sxx = xs.reduce((a, x) => a + (x - 7) ** 2, 0); // mean log2(B) = 7
  const half = studentTQuantile(0.975, 5) * (line.residualStd / Math.sqrt(sxx));
  close(r.slopePerDoubling, line.slope, 1e-12);
  close(r.interval?.low as number, line.slope - half, 1e-12);
  close(r.interval?.high as number, line.slope + half, 1e-12);
  assert.equal(r.statistic?.df, 5);
});

test('regression (issue 13): sharpness 0.81, 2.58, 0.28, 0.30, 0.41, 1.91, 1.50 at B=16..1024 is inconclusive', () => {
  // The endpoint comparison said "sharpness rose from B=16 to B=1024: 0.81 -> 1.5 ... agrees".
  const r = testTrend({ claim: 'sharpness', observations: table(SWEEP, [[0.81, 2.58, 0.28, 0.3, 0.41, 1.91, 1.5]]) });
  assert.equal(r.verdict, 'inconclusive');
  assert.ok((r.interval?.low as number) < 0 && (r.interval?.high as number) > 0);
  assert.ok((r.toSettle?.seeds as number) > 1, 'says how many seeds would settle it');
  assert.match(r.reason, /contains 0/);
  assert.equal(r.restsOn.seeds, 1);
  assert.deepEqual(r.restsOn.batchSizes, SWEEP);
});

test('regression (issue 13): a falling step time never gives "takes longer" (never agrees)', () => {
  // The case: 0.82 -> 0.67 ms/step over the sweep, 3 seeds.
  const rows = [
    [0.82, 0.8, 0.77, 0.75, 0.71, 0.69, 0.67],
    [0.84, 0.79, 0.78, 0.74, 0.72, 0.7, 0.66],
    [0.81, 0.81, 0.76, 0.75, 0.7, 0.68, 0.68],
  ];
  const r = testTrend({ claim: 'step-time', observations: table(SWEEP, rows) });
  assert.equal(r.verdict, 'contradicts');
  assert.match(r.reason, /falls with B/);
  assert.ok((r.factorPerDoubling?.high as number) < 1, 'the step time shrinks by a factor per doubling');
  // Property: whenever every seed's step time does not rise with B, the verdict is never 'agrees'.
  const falling = fc.array(fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 7, maxLength: 7 }), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(falling, (rs) => {
      const sorted = rs.map((row) => [...row].sort((a, b) => b - a));
      return testTrend({ claim: 'step-time', observations: table(SWEEP, sorted) }).verdict !== 'agrees';
    }),
    { seed: 13, numRuns: 300 },
  );
});

test('regression (issue 13): with 30 held-out samples, a gap change of a fraction of one sample is inconclusive', () => {
  // "the generalization gap did not grow: 5 -> 4.2 points ... contradicts" on iris; one sample = 3.3 points.
  // Even a perfectly straight decline (no spread between runs at all) must not be significant: the held-out
  // set cannot resolve it, and the binomial error of each run is the floor under the noise.
  const gaps = SWEEP.map((_, i) => 0.05 - (0.008 * i) / 6);
  const heldOutAccuracy = 0.933;
  const r = testTrend({
    claim: 'generalization-gap',
    observations: table(SWEEP, [gaps], () => ({ samplingVariance: binomialVariance(heldOutAccuracy, 30) })),
    heldOutSamples: 30,
  });
  assert.equal(r.verdict, 'inconclusive');
  assert.equal(r.restsOn.noise, 'sampling error of each run');
  assert.equal(r.restsOn.heldOutSamples, 30);
  assert.ok(
    (r.toSettle?.heldOutSamples as number) > 30 * 100,
    `needs far more held-out samples: ${r.toSettle?.heldOutSamples}`,
  );
  // The same line without the held-out floor would be "significant": the floor is what decides.
  assert.equal(
    testTrend({ claim: 'generalization-gap', observations: table(SWEEP, [gaps.map((g, i) => g + 1e-6 * (i % 2))]) })
      .verdict,
    'contradicts',
  );
});

test('seed offsets cancel: a lucky seed moves all its runs alike and does not hide a trend', () => {
  // Held-out accuracy falling 0.5 point per doubling; seed 2 is 5 points better everywhere, seed 3 5 points worse.
  const rng = createRng(1);
  const rows = [0, 0.05, -0.05].map((offset) => SWEEP.map((_, i) => 0.9 + offset - 0.005 * i + 0.001 * rng.normal()));
  const r = testTrend({ claim: 'held-out-accuracy', observations: table(SWEEP, rows) });
  assert.equal(r.verdict, 'agrees');
  close(r.slopePerDoubling, -0.005, 0.001);
  assert.equal(r.statistic?.df, 21 - 3 - 1);
  assert.match(describeRestsOn(r.restsOn), /^3 seeds x 7 batch sizes \(B = 16\.\.1024\), 21 runs; least-squares trend/);
});

test('memory rising by a factor per doubling agrees, on the log scale', () => {
  const rows = [1, 2].map(() => SWEEP.map((b) => 4e6 + 3e4 * b));
  const r = testTrend({
    claim: 'memory',
    observations: table(
      SWEEP,
      rows.map((row, s) => row.map((v, i) => v * (1 + 1e-4 * ((i + s) % 3)))),
    ),
  });
  assert.equal(r.verdict, 'agrees');
  assert.ok((r.factorPerDoubling?.estimate as number) > 1.3);
});

test('too little data: one batch size throws; two runs of one seed cannot estimate the noise', () => {
  assert.throws(
    () => testTrend({ claim: 'memory', observations: table([64], [[1], [2]]) }),
    /at least two batch sizes/,
  );
  const r = testTrend({ claim: 'loss-noise', observations: table([16, 32], [[0.2, 0.1]]) });
  assert.equal(r.verdict, 'inconclusive');
  assert.equal(r.interval, undefined);
  assert.equal(r.restsOn.noise, 'not estimable');
  assert.throws(() => testTrend({ claim: 'memory', observations: table([16, 32], [[0, 5]]) }), /finite value > 0/);
  assert.throws(() => testTrend({ claim: 'nope' as ClaimId, observations: [] }), /unknown claim "nope"/);
});

test('the usual advice is named as such, never as a "seed"', () => {
  for (const claim of Object.values(USUAL_ADVICE)) {
    assert.doesNotMatch(`${claim.quantity} ${claim.advice}`, /seed/i);
  }
});

// ---- Calibration by simulation -------------------------------------------------------------------------

/** Simulated sweep: 7 batch sizes x `seeds` seeds, value = seed offset + slope log2(B) + N(0, 1) noise. */
function simulatedSweep(rng: Rng, seeds: number, slope: number): Observation[] {
  const out: Observation[] = [];
  for (let s = 0; s < seeds; s++) {
    const offset = 2 * rng.normal(); // a seed's luck, twice the noise: removed by the per-seed intercepts
    for (const b of SWEEP) out.push({ batchSize: b, seed: s, value: 5 + offset + slope * Math.log2(b) + rng.normal() });
  }
  return out;
}

/** Standard error of the within-seed slope for unit noise: 1 / sqrt(seeds x sum_B (log2 B - 7)^2) = 1 / sqrt(28 seeds). */
const slopeSe = (seeds: number): number => 1 / Math.sqrt(28 * seeds);

/** Monte Carlo standard deviation of a rate p estimated from n simulations. */
const mcSd = (p: number, n: number): number => Math.sqrt((p * (1 - p)) / n);

const SIMULATIONS = 10_000;

test('calibration: with no trend, false claims stay at 5% (10,000 simulated sweeps of 7 batch sizes x 3 seeds)', () => {
  // The test is exact under this noise, so its false-claim rate is exactly 1 - 0.95 = 5% (tTestPower with
  // delta = 0, distributions.test.ts); no valid test can be below 5% at 95% confidence and still detect a
  // 3-standard-error trend 80% of the time (the next test), so the Monte Carlo rate is allowed its own
  // error: 3 Monte Carlo standard deviations (0.65 points). A normal interval in place of Student's would
  // claim 6.7% of the time and fail here.
  const rng = createRng(1301);
  const claims = { agrees: 0, contradicts: 0, inconclusive: 0 };
  for (let i = 0; i < SIMULATIONS; i++)
    claims[testTrend({ claim: 'sharpness', observations: simulatedSweep(rng, 3, 0) }).verdict]++;
  const falseRate = (claims.agrees + claims.contradicts) / SIMULATIONS;
  assert.ok(falseRate <= 0.05 + 3 * mcSd(0.05, SIMULATIONS), `false-claim rate ${falseRate}`);
  assert.ok(
    falseRate >= 0.05 - 3 * mcSd(0.05, SIMULATIONS),
    `false-claim rate ${falseRate}: the test is needlessly careful`,
  );
  // Symmetric: half of the false claims 'agree', half 'contradict'.
  close(claims.agrees / SIMULATIONS, 0.025, 3 * mcSd(0.025, SIMULATIONS), 'false agrees');
});

test('calibration: a trend of 3 standard errors is detected 80.7% of the time (7 batch sizes x 3 seeds)', () => {
  // "A trend of 3 standard errors": the true slope per doubling is 3 x the standard error of the slope
  // estimator under the simulated noise, 3 / sqrt(28 x 3) for unit noise. Exact power of the test at that
  // trend: the noncentral t with 17 degrees of freedom, 0.8070 (>= 0.80); the simulation must agree with it.
  const exact = tTestPower({ delta: 3, df: 17, confidence: 0.95 });
  assert.ok(exact >= 0.8, `exact power ${exact}`);
  const rng = createRng(1302);
  for (const direction of [1, -1]) {
    let detected = 0;
    for (let i = 0; i < SIMULATIONS; i++) {
      const r = testTrend({ claim: 'sharpness', observations: simulatedSweep(rng, 3, direction * 3 * slopeSe(3)) });
      if (r.verdict === (direction > 0 ? 'agrees' : 'contradicts')) detected++;
    }
    close(detected / SIMULATIONS, exact, 3 * mcSd(exact, SIMULATIONS), `detection rate, direction ${direction}`);
  }
});

test('calibration: a held-out floor only makes false claims rarer (10,000 sweeps, 30 held-out samples, 1 seed)', () => {
  // Held-out accuracy of 7 runs of one seed, each a binomial draw on 30 samples at p = 0.9: the binomial
  // error is the whole noise, so the floor is exact and claims must stay under 5%.
  const rng = createRng(1303);
  let claims = 0;
  for (let i = 0; i < SIMULATIONS; i++) {
    const observations = SWEEP.map((batchSize) => {
      let correct = 0;
      for (let k = 0; k < 30; k++) if (rng.uniform() < 0.9) correct++;
      return { batchSize, seed: 1, value: correct / 30, samplingVariance: binomialVariance(correct / 30, 30) };
    });
    if (testTrend({ claim: 'held-out-accuracy', observations, heldOutSamples: 30 }).verdict !== 'inconclusive')
      claims++;
  }
  assert.ok(claims / SIMULATIONS <= 0.05, `false-claim rate ${claims / SIMULATIONS}`);
});

test('"to settle": the seeds it names detect the observed trend about 80% of the time', () => {
  // A 3-seed sweep whose observed trend is 1.2 of its estimated standard errors: inconclusive. (Adding a
  // multiple of log2(B) moves the slope and leaves the residuals, so the standard error, as they were.)
  const rng = createRng(1304);
  const t17 = studentTQuantile(0.975, 17);
  const base = simulatedSweep(rng, 3, 0);
  const r0 = testTrend({ claim: 'sharpness', observations: base });
  const se = ((r0.interval?.high as number) - r0.slopePerDoubling) / t17;
  const slope = 1.2 * se;
  const shifted = base.map((o) => ({ ...o, value: o.value + (slope - r0.slopePerDoubling) * Math.log2(o.batchSize) }));
  const r = testTrend({ claim: 'sharpness', observations: shifted });
  assert.equal(r.verdict, 'inconclusive');
  const seeds = r.toSettle?.seeds as number;
  assert.ok(seeds > 3, `needs more than 3 seeds, got ${seeds}`);
  // Sweeps with that many seeds, at the observed slope and the observed noise (sd = se sqrt(28 x 3)).
  const noiseSd = se * Math.sqrt(28 * 3);
  let detected = 0;
  const sims = 2000;
  for (let i = 0; i < sims; i++) {
    const sweep = simulatedSweep(rng, seeds, 0).map((o) => ({
      ...o,
      value: 5 + (o.value - 5) * noiseSd + slope * Math.log2(o.batchSize),
    }));
    if (testTrend({ claim: 'sharpness', observations: sweep }).verdict === 'agrees') detected++;
  }
  const power = detected / sims;
  assert.ok(power >= 0.75 && power <= 0.88, `power at ${seeds} seeds: ${power}`);
});
