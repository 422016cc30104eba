import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describePlan, epochOrder, makeBatches, microRanges, planAccumulation, stepsPerEpoch } from './batching.js';
import { BatchSizeError } from './errors.js';

test('makeBatches gives half-open ranges and keeps or drops the partial last batch', () => {
  assert.deepEqual(makeBatches(7, 3), [
    [0, 3],
    [3, 6],
    [6, 7],
  ]);
  assert.deepEqual(makeBatches(7, 3, 'drop'), [
    [0, 3],
    [3, 6],
  ]);
  assert.deepEqual(makeBatches(6, 3, 'drop'), [
    [0, 3],
    [3, 6],
  ]);
  assert.deepEqual(makeBatches(0, 4), []);
  assert.deepEqual(makeBatches(2, 5), [[0, 2]]);
  assert.deepEqual(makeBatches(2, 5, 'drop'), []);
});

test('makeBatches covers every position exactly once, for many (n, b)', () => {
  for (let n = 0; n < 40; n++) {
    for (let b = 1; b < 12; b++) {
      const seen = makeBatches(n, b).flatMap(([s, e]) => Array.from({ length: e - s }, (_, i) => s + i));
      assert.deepEqual(
        seen,
        Array.from({ length: n }, (_, i) => i),
      );
      assert.equal(makeBatches(n, b).length, stepsPerEpoch(n, b));
      assert.equal(makeBatches(n, b, 'drop').length, stepsPerEpoch(n, b, 'drop'));
    }
  }
});

test('bad batch sizes are rejected with a typed error naming the value', () => {
  for (const b of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => makeBatches(10, b),
      (e: unknown) => e instanceof BatchSizeError && e.message.includes(String(b)),
    );
  }
});

test('epochOrder is a permutation, reproducible per (seed, epoch), different across epochs and seeds', () => {
  const a = epochOrder(1000, 7, 0);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(a, epochOrder(1000, 7, 0));
  assert.notDeepEqual(a, epochOrder(1000, 7, 1));
  assert.notDeepEqual(a, epochOrder(1000, 8, 0));
});

test('accumulation plan: B = b x k, divisibility checked', () => {
  const plan = planAccumulation({ batchSize: 64, accumSteps: 4 });
  assert.deepEqual(plan, { batchSize: 64, microBatchSize: 16, accumSteps: 4 });
  assert.equal(describePlan(plan), '64 = 16 x 4');
  assert.deepEqual(planAccumulation({ batchSize: 10 }), { batchSize: 10, microBatchSize: 10, accumSteps: 1 });
  assert.throws(() => planAccumulation({ batchSize: 10, accumSteps: 4 }), BatchSizeError);
  assert.deepEqual(microRanges([8, 18], 4), [
    [8, 12],
    [12, 16],
    [16, 18],
  ]);
});
