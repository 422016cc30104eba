/**
 * Mini-batching: which samples go into which update, and how an update is split into micro-batches.
 *
 * Definitions (../shared/product.md): batch size B = samples per parameter update; micro-batch b =
 * samples per forward/backward pass; accumulation steps k; B = b x k.
 */
import { BatchSizeError, UsageError } from './errors.js';
import { createRng, permutation } from './random.js';

/** A half-open range of positions: `start` is inclusive, `end` is exclusive. */
export type BatchRange = readonly [start: number, end: number];

/** What to do with the last batch of an epoch when the batch size does not divide the sample count. */
export type LastBatchPolicy = 'keep' | 'drop';

export const LAST_BATCH_POLICIES: readonly LastBatchPolicy[] = ['keep', 'drop'];

/**
 * Splits positions [0, n) into consecutive half-open ranges of `batchSize`.
 * `makeBatches(7, 3)` gives `[[0,3],[3,6],[6,7]]`; with `policy = 'drop'` the partial `[6,7]` is left out.
 * `n = 0` gives no batches.
 */
export function makeBatches(n: number, batchSize: number, policy: LastBatchPolicy = 'keep'): BatchRange[] {
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`sample count must be a non-negative integer, got ${n}`);
  assertBatchSize(batchSize);
  const ranges: BatchRange[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(start + batchSize, n);
    if (end - start < batchSize && policy === 'drop') break;
    ranges.push([start, end]);
  }
  return ranges;
}

/** Throws a BatchSizeError unless `batchSize` is a positive integer. */
export function assertBatchSize(batchSize: number, what = 'batch size'): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new BatchSizeError(`${what} must be a positive integer, got ${batchSize}; pass e.g. 64`);
  }
}

/**
 * The sample order of one epoch: a permutation of [0, n), the same for the same (seed, epoch) and
 * different from epoch to epoch. The stream is seeded from both numbers, so epoch 3 of seed 1 does not
 * depend on how many epochs ran before (a resumed run sees the same order).
 */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  // Knuth's multiplicative hash spreads consecutive epochs over unrelated seeds.
  return permutation(n, createRng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0));
}

/** How one update of `batchSize` samples is computed: `batchSize = microBatchSize x accumSteps`. */
export interface AccumulationPlan {
  /** Effective batch B: samples per update. */
  batchSize: number;
  /** b: samples per forward/backward pass. */
  microBatchSize: number;
  /** k: micro-batches averaged into one update. */
  accumSteps: number;
}

/**
 * Checks and completes an accumulation plan from the effective batch and the accumulation steps.
 * The batch must be divisible by the steps, so that every micro-batch has the same size.
 */
export function planAccumulation(opts: { batchSize: number; accumSteps?: number }): AccumulationPlan {
  const accumSteps = opts.accumSteps ?? 1;
  assertBatchSize(opts.batchSize);
  if (!Number.isInteger(accumSteps) || accumSteps < 1) {
    throw new UsageError(`accumulation steps must be a positive integer, got ${accumSteps}; pass e.g. --accum 4`);
  }
  if (opts.batchSize % accumSteps !== 0) {
    throw new BatchSizeError(
      `batch size ${opts.batchSize} is not divisible by ${accumSteps} accumulation steps; ` +
        `pick a batch that is a multiple of ${accumSteps}, e.g. ${Math.max(accumSteps, Math.round(opts.batchSize / accumSteps) * accumSteps)}`,
    );
  }
  return { batchSize: opts.batchSize, microBatchSize: opts.batchSize / accumSteps, accumSteps };
}

/** The plan printed the way nanoGPT prints tokens per iteration: `64 = 16 x 4`. */
export function describePlan(plan: AccumulationPlan): string {
  return `${plan.batchSize} = ${plan.microBatchSize} x ${plan.accumSteps}`;
}

/**
 * Splits one update's range into its micro-batch ranges (half-open, relative to the epoch order).
 * A partial last batch is split into micro-batches of at most `microBatchSize`, the last possibly smaller.
 */
export function microRanges(range: BatchRange, microBatchSize: number): BatchRange[] {
  const [start, end] = range;
  return makeBatches(end - start, microBatchSize, 'keep').map(([s, e]) => [start + s, start + e] as const);
}

/** Updates per epoch for `n` samples at batch size `batchSize` under `policy`. */
export function stepsPerEpoch(n: number, batchSize: number, policy: LastBatchPolicy = 'keep'): number {
  return policy === 'drop' ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}
