import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/data/registry.js';

test('synthetic datasets: same seed gives identical data, another seed different data', () => {
  for (const name of ['spiral', 'gauss', 'linreg']) {
    const a = loadDataset(name, { seed: 11 });
    const b = loadDataset(name, { seed: 11 });
    const c = loadDataset(name, { seed: 12 });
    assert.deepEqual(a.train.x, b.train.x, name);
    assert.deepEqual(a.train.y, b.train.y, name);
    assert.deepEqual(a.test.x, b.test.x, name);
    assert.notDeepEqual(a.train.x, c.train.x, name);
    assert.equal(a.train.count, 4096);
    assert.equal(a.test.count, 1024);
  }
});

test('linreg follows its definition: residuals y - w*.x have std sigma and mean 0', () => {
  const sigma = 0.5;
  const ds = loadDataset('linreg', { seed: 3, dim: 10, noiseSigma: sigma, trainCount: 20000 });
  assert.equal(ds.task, 'regression');
  assert.deepEqual(ds.inputShape, [10]);
  assert.ok(ds.truth);
  assert.equal(ds.truth.noiseSigma, sigma);
  assert.equal(ds.truth.bias, 0);
  const w = ds.truth.weights;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < ds.train.count; i++) {
    let dot = 0;
    for (let j = 0; j < 10; j++) dot += w[j] * ds.train.x[i * 10 + j];
    const r = ds.train.y[i] - dot;
    sum += r;
    sq += r * r;
  }
  const n = ds.train.count;
  const mean = sum / n;
  const std = Math.sqrt(sq / n - mean * mean);
  // Standard errors: mean sigma/sqrt(n) = 0.0035, std about sigma/sqrt(2n) = 0.0025; allow 4 of them.
  assert.ok(Math.abs(mean) < 0.015, `residual mean ${mean}`);
  assert.ok(Math.abs(std - sigma) < 0.01, `residual std ${std}`);
});

test('linreg inputs and weights are standard normal', () => {
  const ds = loadDataset('linreg', { seed: 8, dim: 50, trainCount: 4000 });
  const x = ds.train.x;
  let sum = 0;
  let sq = 0;
  for (const v of x) {
    sum += v;
    sq += v * v;
  }
  assert.ok(Math.abs(sum / x.length) < 0.01); // se 1/sqrt(200000) = 0.0022
  assert.ok(Math.abs(sq / x.length - 1) < 0.015); // se sqrt(2/200000) = 0.0032
  const w = ds.truth!.weights;
  assert.ok(Math.abs(w.reduce((a, b) => a + b * b, 0) / 50 - 1) < 0.6); // chi2_50 / 50, se 0.2
  // The weights are drawn before the samples: changing trainCount keeps w* and the first rows.
  const small = loadDataset('linreg', { seed: 8, dim: 50, trainCount: 10 });
  assert.deepEqual(small.truth!.weights, w);
  assert.deepEqual(small.train.x, x.subarray(0, 500));
});

test('linreg noiseSigma 0 makes y exactly w*.x (up to float32 rounding)', () => {
  const ds = loadDataset('linreg', { seed: 1, dim: 3, noiseSigma: 0, trainCount: 50 });
  const w = ds.truth!.weights;
  for (let i = 0; i < 50; i++) {
    const dot = w[0] * ds.train.x[3 * i] + w[1] * ds.train.x[3 * i + 1] + w[2] * ds.train.x[3 * i + 2];
    assert.equal(ds.train.y[i], Math.fround(dot));
  }
});

test('spiral: K balanced classes on K arms within the unit disc (plus noise)', () => {
  const ds = loadDataset('spiral', { numClasses: 4, noiseSigma: 0, trainCount: 400, testCount: 100 });
  assert.equal(ds.numClasses, 4);
  assert.deepEqual(ds.inputShape, [2]);
  const counts = [0, 0, 0, 0];
  for (const v of ds.train.y) counts[v]++;
  assert.deepEqual(counts, [100, 100, 100, 100]);
  for (let i = 0; i < ds.train.count; i++) {
    const [px, py] = [ds.train.x[2 * i], ds.train.x[2 * i + 1]];
    const r = Math.hypot(px, py);
    assert.ok(r < 1);
    // With no noise the point lies on its arm: theta = 2 pi k / K + 2 pi 1.75 r (mod 2 pi).
    const expected = (2 * Math.PI * ds.train.y[i]) / 4 + 2 * Math.PI * 1.75 * r;
    const diff = Math.atan2(py, px) - expected;
    assert.ok(r < 1e-3 || Math.abs(Math.atan2(Math.sin(diff), Math.cos(diff))) < 1e-3, `point ${i}`);
  }
});

test('gauss: two balanced blobs centred at (-1.5, -1.5) and (1.5, 1.5)', () => {
  const ds = loadDataset('gauss', { noiseSigma: 0.5, trainCount: 8000 });
  const sums = [
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < ds.train.count; i++) {
    const s = sums[ds.train.y[i]];
    s[0] += ds.train.x[2 * i];
    s[1] += ds.train.x[2 * i + 1];
    s[2]++;
  }
  assert.deepEqual([sums[0][2], sums[1][2]], [4000, 4000]);
  for (const [k, centre] of [
    [0, -1.5],
    [1, 1.5],
  ]) {
    assert.ok(Math.abs(sums[k][0] / 4000 - centre) < 0.03);
    assert.ok(Math.abs(sums[k][1] / 4000 - centre) < 0.03);
  }
});
