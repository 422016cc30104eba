import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  binomialVariance,
  describeRestsOn,
  type Observation,
  onScale,
  pooledNoise,
  twoWayFit,
  varianceFromInterval,
} from './evidence.js';
import { createRng } from './random.js';

const close = (actual: number, expected: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

test('two-way fit of a complete design: levels are the means over seeds, df = (K - 1)(S - 1)', () => {
  const rng = createRng(2);
  const batchSizes = [16, 64, 256, 1024];
  const obs: Observation[] = [];
  for (let s = 0; s < 3; s++)
    for (const b of batchSizes) obs.push({ batchSize: b, seed: s, value: 3 * s + Math.log2(b) + rng.normal() });
  const fit = twoWayFit(obs);
  assert.equal(fit.df, 3 * 2);
  for (const b of fit.batches) {
    const column = obs.filter((o) => o.batchSize === b.batchSize).map((o) => o.value);
    close(b.level, column.reduce((a, v) => a + v, 0) / 3, 1e-12, `level at ${b.batchSize}`);
    assert.equal(b.runs, 3);
  }
});

test('two-way fit with a missing run is still least squares: residuals sum to 0 per batch and per seed', () => {
  const rng = createRng(3);
  const obs: Observation[] = [];
  for (let s = 0; s < 3; s++) {
    for (const b of [16, 32, 64, 128, 256]) {
      if (s === 1 && b === 64) continue; // a run that failed
      obs.push({ batchSize: b, seed: s, value: 5 * s - 0.1 * Math.log2(b) + rng.normal() });
    }
  }
  const fit = twoWayFit(obs);
  assert.equal(fit.df, 14 - 5 - 3 + 1);
  const level = new Map(fit.batches.map((b) => [b.batchSize, b.level]));
  // Seed offsets from the fit: mean over the seed's runs of value - level.
  const offsets = new Map<number, number>();
  for (const s of [0, 1, 2]) {
    const runs = obs.filter((o) => o.seed === s);
    offsets.set(s, runs.reduce((a, o) => a + o.value - (level.get(o.batchSize) as number), 0) / runs.length);
  }
  const residual = (o: Observation): number =>
    o.value - (level.get(o.batchSize) as number) - (offsets.get(o.seed) as number);
  for (const b of [16, 32, 64, 128, 256]) {
    close(
      obs.filter((o) => o.batchSize === b).reduce((a, o) => a + residual(o), 0),
      0,
      1e-9,
      `batch ${b}`,
    );
  }
  close(
    obs.reduce((a, o) => a + residual(o) ** 2, 0),
    fit.residualSS,
    1e-9,
    'residual SS',
  );
});

test('pooled noise: residual variance, floored by the known sampling variance; none without either', () => {
  const obs = (v?: number): Observation[] =>
    [1, 2, 3].map((s) => ({ batchSize: 16, seed: s, value: 0.9, samplingVariance: v }));
  assert.deepEqual(pooledNoise(0.4, 4, obs()), { variance: 0.1, df: 4, source: 'spread between runs' });
  assert.deepEqual(pooledNoise(0.4, 4, obs(0.3)), { variance: 0.3, df: 4, source: 'sampling error of each run' });
  assert.deepEqual(pooledNoise(0, 0, obs(0.3)), {
    variance: 0.3,
    df: Number.POSITIVE_INFINITY,
    source: 'sampling error of each run',
  });
  assert.equal(pooledNoise(0, 0, obs()), undefined);
});

test('binomial variance is Agresti-Coull, never 0; an interval gives back its variance', () => {
  close(binomialVariance(28 / 30, 30), ((30 / 34) * (4 / 34)) / 30, 1e-15);
  assert.ok(binomialVariance(1, 30) > 0);
  close(varianceFromInterval({ low: 1 - 1.959963984540054, high: 1 + 1.959963984540054, confidence: 0.95 }), 1, 1e-12);
  assert.throws(() => binomialVariance(1.2, 30), /accuracy must be in \[0, 1\]/);
});

test('log scale: ln of the value and the delta-method variance; bad values are named', () => {
  const [o] = onScale([{ batchSize: 32, seed: 1, value: 2, samplingVariance: 0.04 }], 'log');
  close(o?.value as number, Math.log(2), 1e-15);
  close(o?.samplingVariance as number, 0.01, 1e-15);
  assert.throws(() => onScale([{ batchSize: 32, seed: 1, value: -1 }], 'log'), /B=32, seed 1 needs a finite value > 0/);
  assert.throws(
    () => onScale([{ batchSize: 0, seed: 1, value: 1 }], 'linear'),
    /batch size must be a positive integer/,
  );
  const twice = { batchSize: 32, seed: 7, value: 1 };
  assert.throws(() => onScale([twice, twice], 'linear'), /two runs at B=32 with seed 7/);
});

test('what a statement rests on, in words', () => {
  const text = describeRestsOn({
    seeds: 1,
    batchSizes: [16, 32, 64],
    runs: 3,
    heldOutSamples: 30,
    test: 'a test',
    confidence: 0.95,
    noise: 'sampling error of each run',
  });
  assert.equal(
    text,
    '1 seed x 3 batch sizes (B = 16..64), 3 runs, 30 held-out samples per run; a test; 95% interval; noise from the sampling error of each run',
  );
});
