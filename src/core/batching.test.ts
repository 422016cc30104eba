import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describePlan,
  epochOrder,
  type EpochPosition,
  makeBatches,
  microRanges,
  planAccumulation,
  resumedOrder,
  stepsPerEpoch,
  stepsWithinBudget,
  takeBatch,
} from './batching.js';
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

test('takeBatch step after step with one batch size gives makeBatches epoch after epoch', () => {
  for (const policy of ['keep', 'drop'] as const) {
    for (const [n, b] of [
      [7, 3],
      [6, 3],
      [10, 1],
      [5, 5],
      [9, 4],
    ] as const) {
      let pos: EpochPosition = { epoch: 0, cursor: 0 };
      const seen: [number, number, number][] = [];
      for (let i = 0; i < 3 * makeBatches(n, b, policy).length; i++) {
        const next = takeBatch(pos, n, b, policy);
        seen.push([next.epoch, ...next.range]);
        pos = { epoch: next.epoch, cursor: next.range[1] };
      }
      const want = [0, 1, 2].flatMap((e) => makeBatches(n, b, policy).map(([s, t]) => [e, s, t]));
      assert.deepEqual(seen, want, `n ${n}, b ${b}, ${policy}`);
    }
  }
});

test('takeBatch: a batch larger than what is left of the epoch is partial (keep) or starts the next (drop)', () => {
  assert.deepEqual(takeBatch({ epoch: 2, cursor: 8 }, 10, 4, 'keep'), { epoch: 2, range: [8, 10] });
  assert.deepEqual(takeBatch({ epoch: 2, cursor: 8 }, 10, 4, 'drop'), { epoch: 3, range: [0, 4] });
  assert.throws(() => takeBatch({ epoch: 0, cursor: 0 }, 10, 11, 'drop'), BatchSizeError);
});

test('stepsWithinBudget walks a changing batch as the loop does, and matches the closed form for a fixed one', () => {
  for (const policy of ['keep', 'drop'] as const) {
    assert.equal(
      stepsWithinBudget({ budget: { epochs: 3 }, trainCount: 100, policy, batchAt: () => 7 }),
      3 * stepsPerEpoch(100, 7, policy),
    );
  }
  // 10 steps of 4, then 8s: 40 samples, then ceil(60 / 8) = 8 more to reach 100.
  const batchAt = (step: number) => (step <= 10 ? 4 : 8);
  assert.equal(stepsWithinBudget({ budget: { maxSamples: 100 }, trainCount: 1000, policy: 'keep', batchAt }), 18);
  assert.equal(
    stepsWithinBudget({ budget: { maxSamples: 100, maxSteps: 12 }, trainCount: 1000, policy: 'keep', batchAt }),
    12,
  );
  assert.equal(stepsWithinBudget({ budget: { maxSteps: 5 }, trainCount: 10, policy: 'keep', batchAt }), 5);
  assert.throws(() => stepsWithinBudget({ budget: {}, trainCount: 10, policy: 'keep', batchAt }), /no training budget/);
});

test('resumedOrder keeps the order for the same seed and reshuffles only the unused rest for another', () => {
  const saved = epochOrder(50, 3, 1);
  assert.equal(resumedOrder(saved, { cursor: 20, savedSeed: 3, seed: 3, epoch: 1 }), saved);
  const other = resumedOrder(saved, { cursor: 20, savedSeed: 3, seed: 4, epoch: 1 });
  assert.deepEqual(other.subarray(0, 20), saved.subarray(0, 20));
  assert.deepEqual(
    [...other.subarray(20)].sort((a, b) => a - b),
    [...saved.subarray(20)].sort((a, b) => a - b),
  );
  assert.notDeepEqual(other.subarray(20), saved.subarray(20));
  assert.deepEqual(resumedOrder(saved, { cursor: 20, savedSeed: 3, seed: 4, epoch: 1 }), other, 'deterministic');
});
