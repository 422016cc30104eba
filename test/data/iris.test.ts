import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/data/registry.js';

test('iris: 150 flowers, 3 classes, stratified 120/30 split', () => {
  const ds = loadDataset('iris');
  assert.equal(ds.train.count + ds.test.count, 150);
  assert.equal(ds.train.count, 120);
  assert.equal(ds.numClasses, 3);
  assert.deepEqual(ds.inputShape, [4]);
  const testCounts = [0, 0, 0];
  for (const v of ds.test.y) testCounts[v]++;
  assert.deepEqual(testCounts, [10, 10, 10]);
  assert.equal(ds.info.classes, 'setosa, versicolor, virginica');
});

test('iris features are standardized with training statistics', () => {
  const ds = loadDataset('iris', { seed: 4 });
  for (let f = 0; f < 4; f++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < ds.train.count; i++) sum += ds.train.x[i * 4 + f];
    const mean = sum / ds.train.count;
    for (let i = 0; i < ds.train.count; i++) sq += (ds.train.x[i * 4 + f] - mean) ** 2;
    assert.ok(Math.abs(mean) < 1e-5, `feature ${f} mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(sq / ds.train.count) - 1) < 1e-5, `feature ${f} std`);
  }
  // Petal length (feature 2) separates setosa (class 0) from the rest, even after standardization.
  for (let i = 0; i < ds.test.count; i++) {
    assert.equal(ds.test.x[i * 4 + 2] < -0.5, ds.test.y[i] === 0, `test flower ${i}`);
  }
});

test('iris split is reproducible by seed and changes with it', () => {
  assert.deepEqual(loadDataset('iris', { seed: 9 }).test.x, loadDataset('iris', { seed: 9 }).test.x);
  assert.notDeepEqual(loadDataset('iris', { seed: 9 }).test.x, loadDataset('iris', { seed: 10 }).test.x);
});
