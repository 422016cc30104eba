import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnknownNameError, UsageError } from '../../src/core/errors.js';
import { DATASET_NAMES, listDatasets, loadDataset } from '../../src/data/registry.js';
import { thrown } from './helpers.js';

test('listDatasets describes every dataset without loading it', () => {
  const start = performance.now();
  const list = listDatasets();
  assert.ok(performance.now() - start < 50);
  assert.deepEqual(
    list.map((d) => d.name),
    ['mnist', 'fashion-mnist', 'iris', 'spiral', 'gauss', 'linreg', 'csv', 'idx', 'cifar10'],
  );
  const mnist = list.find((d) => d.name === 'mnist')!;
  assert.deepEqual([mnist.trainCount, mnist.testCount, mnist.numClasses], [60000, 10000, 10]);
  assert.deepEqual(mnist.inputShape, [28, 28, 1]);
  assert.equal(list.find((d) => d.name === 'csv')!.needsFile, true);
  assert.equal(list.find((d) => d.name === 'linreg')!.task, 'regression');
  for (const d of list) assert.ok(d.description.length > 10, d.name);
});

test('listed sizes match what loadDataset returns for the built-in datasets', () => {
  for (const info of listDatasets().filter((d) => !d.needsFile && d.name !== 'fashion-mnist')) {
    const ds = loadDataset(info.name);
    assert.equal(ds.train.count, info.trainCount, info.name);
    assert.equal(ds.test.count, info.testCount, info.name);
    assert.deepEqual(ds.inputShape, info.inputShape, info.name);
    assert.equal(ds.numClasses, info.numClasses, info.name);
    assert.equal(ds.task, info.task, info.name);
  }
});

test('an unknown dataset name throws UnknownNameError listing the valid names', () => {
  const err = thrown(() => loadDataset('mnsit'));
  assert.ok(err instanceof UnknownNameError);
  assert.equal(err.code, 'BATCHLAB_UNKNOWN_DATASET');
  assert.match(
    err.message,
    /unknown dataset "mnsit"; valid datasets: mnist, fashion-mnist, iris, spiral, gauss, linreg, csv, idx, cifar10/,
  );
  assert.equal(DATASET_NAMES.length, 9);
});

test('limit keeps the first N training samples after a seeded shuffle and caps the test split', () => {
  const full = loadDataset('mnist');
  const ds = loadDataset('mnist', { limit: 1000, seed: 2 });
  assert.equal(ds.train.count, 1000);
  assert.equal(ds.train.x.length, 1000 * 784);
  assert.equal(ds.test.count, 500); // max(ceil(1000 / 5), 500)
  assert.equal(ds.info.fullTrainCount, 60000);
  assert.equal(loadDataset('mnist', { limit: 5000 }).test.count, 1000);
  // Each kept sample is a real training sample with its own label.
  const rowOf = new Map<string, number>();
  for (let i = 0; i < 2000; i++) rowOf.set(full.train.x.subarray(i * 784, (i + 1) * 784).join(','), i);
  let found = 0;
  for (let k = 0; k < ds.train.count; k++) {
    const i = rowOf.get(ds.train.x.subarray(k * 784, (k + 1) * 784).join(','));
    if (i !== undefined) {
      found++;
      assert.equal(ds.train.y[k], full.train.y[i]);
    }
  }
  assert.ok(found > 0 && found < 100, `${found} of the first 2000 rows among 1000 of 60000`); // ~33 expected
  assert.deepEqual(loadDataset('mnist', { limit: 1000, seed: 2 }).train.y, ds.train.y);
  assert.notDeepEqual(loadDataset('mnist', { limit: 1000, seed: 3 }).train.y, ds.train.y);
});

test('a limit above the split size leaves it unchanged', () => {
  const ds = loadDataset('iris', { limit: 1000 });
  assert.deepEqual(ds.train, loadDataset('iris').train);
});

test('bad or inapplicable options throw UsageError naming the option', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['mnist', { limit: 0 }, /limit must be a positive integer, got 0/],
    ['mnist', { limit: 2.5 }, /limit must be a positive integer, got 2\.5/],
    ['iris', { seed: 1.5 }, /seed must be an integer, got 1\.5/],
    ['iris', { testFraction: 1 }, /testFraction must be a number between 0 and 1/],
    ['mnist', { dim: 3 }, /option dim does not apply to dataset mnist/],
    ['linreg', { dim: -1 }, /dim must be a positive integer/],
    ['linreg', { noiseSigma: -0.1 }, /noiseSigma must be a number >= 0/],
    ['spiral', { numClasses: 1 }, /numClasses must be at least 2/],
    ['csv', {}, /dataset csv reads a file; pass file/],
    ['csv', { file: 'x.csv', task: 'ranking' }, /task must be "classification" or "regression", got "ranking"/],
  ];
  for (const [name, opts, pattern] of cases) {
    const err = thrown(() => loadDataset(name, opts));
    assert.ok(err instanceof UsageError, `${name} ${JSON.stringify(opts)}: ${err}`);
    assert.match(err.message, pattern);
  }
});
