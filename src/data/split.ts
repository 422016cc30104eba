/**
 * Pure helpers that split and subset typed-array datasets: seeded stratified and random held-out
 * splits, row gathering, and the `limit` subset.
 */
import { createRng, deriveSeed, permutation, shuffleInPlace } from '../core/random.js';
import type { Dataset, Split } from './types.js';

/** Row indices of the two sides of a held-out split, each in a seeded shuffled order. */
export interface SplitIndices {
  trainIndices: Int32Array;
  testIndices: Int32Array;
}

/** Options shared by the split helpers. */
export interface SplitOptions {
  /** Fraction of samples held out, in [0, 1). */
  testFraction: number;
  /** Seed of the split's own stream (callers pass deriveSeed(seed, 'split')). */
  seed: number;
}

/** Floats per sample for an input shape: the product of its dimensions. */
export function featureSize(inputShape: readonly number[]): number {
  return inputShape.reduce((a, b) => a * b, 1);
}

/**
 * Stratified held-out split: each class c with n_c samples sends round(n_c * testFraction) of them,
 * chosen uniformly at random, to the test side, so every class keeps its proportion on both sides.
 * Classes are visited in ascending id order, each shuffled with one stream from `seed`; the train
 * and test lists are then shuffled with the same stream so neither is sorted by class.
 */
export function stratifiedSplitIndices(labels: ArrayLike<number>, opts: SplitOptions): SplitIndices {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const members = byClass.get(labels[i]) ?? [];
    members.push(i);
    byClass.set(labels[i], members);
  }
  const rng = createRng(opts.seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(cls)!;
    shuffleInPlace(members, rng);
    const testCount = Math.round(members.length * opts.testFraction);
    for (let k = 0; k < members.length; k++) (k < testCount ? test : train).push(members[k]);
  }
  shuffleInPlace(train, rng);
  shuffleInPlace(test, rng);
  return { trainIndices: Int32Array.from(train), testIndices: Int32Array.from(test) };
}

/** Random held-out split of `count` rows: round(count * testFraction) rows, uniformly chosen, go to test. */
export function randomSplitIndices(count: number, opts: SplitOptions): SplitIndices {
  const perm = permutation(count, createRng(opts.seed));
  const testCount = Math.round(count * opts.testFraction);
  return { trainIndices: perm.slice(testCount), testIndices: perm.slice(0, testCount) };
}

/**
 * Copies rows `indices` (in that order) of `split` into a new split. `xSize` floats per sample of x,
 * `ySize` entries per sample of y (1 for class labels, targetDim for regression).
 */
export function gatherSplit(split: Split, indices: ArrayLike<number>, sizes: { xSize: number; ySize: number }): Split {
  const { xSize, ySize } = sizes;
  const x = new Float32Array(indices.length * xSize);
  const y =
    split.y instanceof Int32Array ? new Int32Array(indices.length * ySize) : new Float32Array(indices.length * ySize);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    x.set(split.x.subarray(i * xSize, (i + 1) * xSize), k * xSize);
    y.set(split.y.subarray(i * ySize, (i + 1) * ySize), k * ySize);
  }
  return { x, y, count: indices.length };
}

/** Minimum held-out samples kept under `limit` (a smaller test set gives too noisy an accuracy). */
export const LIMIT_TEST_MIN = 500;
/** Under `limit`, the held-out split is capped at max(ceil(limit / LIMIT_TEST_RATIO), LIMIT_TEST_MIN). */
export const LIMIT_TEST_RATIO = 5;

/**
 * The `limit` subset: the training split becomes its first `limit` rows after a seeded shuffle
 * (stream deriveSeed(seed, 'limit-train')); the held-out split is capped the same way (stream
 * deriveSeed(seed, 'limit-test')) at max(ceil(limit / 5), 500) rows. A split already within its cap is
 * returned unchanged (same order). `info` records the limit and the sizes before it.
 */
export function applyLimit(ds: Dataset, opts: { limit: number; seed: number }): Dataset {
  const sizes = { xSize: featureSize(ds.inputShape), ySize: ds.task === 'classification' ? 1 : ds.targetDim };
  const testCap = Math.max(Math.ceil(opts.limit / LIMIT_TEST_RATIO), LIMIT_TEST_MIN);
  const take = (split: Split, cap: number, label: string): Split => {
    if (split.count <= cap) return split;
    const perm = permutation(split.count, createRng(deriveSeed(opts.seed, label)));
    return gatherSplit(split, perm.subarray(0, cap), sizes);
  };
  return {
    ...ds,
    train: take(ds.train, opts.limit, 'limit-train'),
    test: take(ds.test, testCap, 'limit-test'),
    info: { ...ds.info, limit: opts.limit, fullTrainCount: ds.train.count, fullTestCount: ds.test.count },
  };
}
