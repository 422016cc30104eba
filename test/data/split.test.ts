import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng as createCoreRng } from '../../src/core/random.js';
import { createRng, deriveSeed, permutation } from '../../src/core/random.js';
import { gatherSplit, randomSplitIndices, stratifiedSplitIndices } from '../../src/data/split.js';
import { applyStandardization, fitStandardization } from '../../src/data/standardize.js';

test('data uses the project RNG of src/core/random.ts', () => {
  const ours = createRng(42);
  const core = createCoreRng(42);
  assert.deepEqual(
    [ours.uniform(), ours.normal(), ours.randInt(10)],
    [core.uniform(), core.normal(), core.randInt(10)],
  );
});

test('createRng: reproducible, seed-dependent, normals have mean 0 and variance 1', () => {
  const a = createRng(7);
  const b = createRng(7);
  const c = createRng(8);
  const sa = Array.from({ length: 5 }, () => a.normal());
  assert.deepEqual(
    sa,
    Array.from({ length: 5 }, () => b.normal()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 5 }, () => c.normal()),
  );
  const rng = createRng(1);
  const n = 200000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    sum += z;
    sq += z * z;
  }
  assert.ok(Math.abs(sum / n) < 0.01);
  assert.ok(Math.abs(sq / n - 1) < 0.015);
  for (let i = 0; i < 1000; i++) {
    const k = rng.randInt(3);
    assert.ok(k === 0 || k === 1 || k === 2);
  }
});

test('deriveSeed separates purposes and seeds', () => {
  assert.notEqual(deriveSeed(0, 'split'), deriveSeed(0, 'limit-train'));
  assert.notEqual(deriveSeed(0, 'split'), deriveSeed(1, 'split'));
  assert.equal(deriveSeed(5, 'split'), deriveSeed(5, 'split'));
});

test('permutation holds each index once', () => {
  const p = permutation(1000, createRng(3));
  assert.deepEqual(
    Array.from(p).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.notDeepEqual(Array.from(p.subarray(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('stratifiedSplitIndices keeps class proportions and partitions the rows', () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 600 ? 0 : i < 900 ? 1 : 2));
  const { trainIndices, testIndices } = stratifiedSplitIndices(labels, { testFraction: 0.1, seed: 4 });
  const counts = [0, 0, 0];
  for (const i of testIndices) counts[labels[i]]++;
  assert.deepEqual(counts, [60, 30, 10]);
  const all = [...trainIndices, ...testIndices].sort((a, b) => a - b);
  assert.deepEqual(
    all,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.notDeepEqual(
    Array.from(testIndices),
    Array.from(stratifiedSplitIndices(labels, { testFraction: 0.1, seed: 5 }).testIndices),
  );
});

test('randomSplitIndices holds out round(n * fraction) rows', () => {
  const { trainIndices, testIndices } = randomSplitIndices(101, { testFraction: 0.2, seed: 1 });
  assert.equal(testIndices.length, 20);
  assert.equal(trainIndices.length, 81);
  assert.equal(new Set([...trainIndices, ...testIndices]).size, 101);
});

test('gatherSplit copies rows and labels in index order', () => {
  const split = { x: Float32Array.from([0, 1, 10, 11, 20, 21]), y: Int32Array.from([5, 6, 7]), count: 3 };
  const out = gatherSplit(split, [2, 0], { xSize: 2, ySize: 1 });
  assert.deepEqual(Array.from(out.x), [20, 21, 0, 1]);
  assert.deepEqual(out.y, Int32Array.from([7, 5]));
  const reg = gatherSplit({ x: split.x, y: Float32Array.from([1, 2, 3, 4, 5, 6]), count: 3 }, [1], {
    xSize: 2,
    ySize: 2,
  });
  assert.deepEqual(reg.y, Float32Array.from([3, 4]));
});

test('standardization uses population mean and std; a constant feature is only centred', () => {
  const x = Float32Array.from([1, 5, 3, 5]); // feature 0: 1, 3; feature 1: 5, 5
  const stats = fitStandardization(x, 2);
  assert.deepEqual(Array.from(stats.mean), [2, 5]);
  assert.deepEqual(Array.from(stats.std), [1, 1]);
  assert.deepEqual(Array.from(applyStandardization(x, stats)), [-1, 0, 1, 0]);
  const y = fitStandardization(Float32Array.from([0, 4]), 1);
  assert.deepEqual(Array.from(y.std), [2]);
});
