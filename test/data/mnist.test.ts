import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/data/registry.js';

/** Known per-digit counts of the MNIST training and test sets (LeCun et al.). */
const MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
/** Generous bound so a busy test machine does not flake; typical loads take ~0.2-0.5 s. */
const MNIST_LOAD_BUDGET_MS = 2000;

/** Samples per class id. */
function classCounts(y: Int32Array | Float32Array, numClasses: number): number[] {
  const counts = new Array(numClasses).fill(0);
  for (const v of y) counts[v]++;
  return counts;
}

test('mnist loads the full 60000/10000 split quickly, with the known labels', (t) => {
  const start = performance.now();
  const ds = loadDataset('mnist');
  const ms = performance.now() - start;
  t.diagnostic(`mnist loaded in ${ms.toFixed(0)} ms`);
  assert.ok(ms < MNIST_LOAD_BUDGET_MS, `mnist took ${ms.toFixed(0)} ms`);
  assert.equal(ds.train.count, 60000);
  assert.equal(ds.test.count, 10000);
  assert.deepEqual(ds.inputShape, [28, 28, 1]);
  assert.equal(ds.numClasses, 10);
  assert.equal(ds.train.x.length, 60000 * 784);
  assert.equal(ds.test.x.length, 10000 * 784);
  assert.ok(ds.train.y instanceof Int32Array);
  assert.equal(ds.train.y[0], 5); // the famous first training digit
  assert.equal(ds.test.y[0], 7);
  assert.deepEqual(classCounts(ds.train.y, 10), MNIST_TRAIN_COUNTS);
  assert.deepEqual(classCounts(ds.test.y, 10), MNIST_TEST_COUNTS);
});

test('mnist pixels are in [0, 1] and use the full range', () => {
  const ds = loadDataset('mnist', { limit: 1000 });
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.train.x) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});
