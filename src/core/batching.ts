/**
 * Mini-batching: which samples go into which update, and how an update is split into micro-batches.
 *
 * Definitions (../shared/product.md): batch size B = samples per parameter update; micro-batch b =
 * samples per forward/backward pass; accumulation steps k; B = b x k.
 */
import { BatchSizeError, UsageError } from './errors.js';
import { createRng, deriveSeed, permutation, shuffleInPlace } from './random.js';
import type { TrainBudget } from './run.js';

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

/** Where a run is in its data: the epoch, and the next position of that epoch's order. */
export interface EpochPosition {
  epoch: number;
  /** Positions [0, cursor) of the epoch's order are used. */
  cursor: number;
}

/**
 * The next step's batch from `pos`: [cursor, min(cursor + batchSize, n)) of the current epoch, or the
 * first batch of the next epoch when the current one has none left (cursor at n, or, with 'drop', fewer
 * than batchSize positions). Taken step after step with one batch size this gives makeBatches(n,
 * batchSize, policy) epoch after epoch; a batch-size schedule or a resumed run may change the size
 * between steps. The position after the step is { epoch, cursor: range[1] }.
 */
export function takeBatch(
  pos: EpochPosition,
  n: number,
  batchSize: number,
  policy: LastBatchPolicy,
): { epoch: number; range: BatchRange } {
  assertBatchSize(batchSize);
  const fits = (cursor: number) => cursor < n && (policy === 'keep' || cursor + batchSize <= n);
  if (fits(pos.cursor)) return { epoch: pos.epoch, range: [pos.cursor, Math.min(pos.cursor + batchSize, n)] };
  if (!fits(0)) {
    throw new BatchSizeError(
      `batch size ${batchSize} is larger than the ${n} training samples, so no batch fits with --last-batch drop; pass a batch of at most ${n}`,
    );
  }
  return { epoch: pos.epoch + 1, range: [0, Math.min(batchSize, n)] };
}

/** True once a budget is spent: `steps` and `samples` done so far, the next step in epoch `epoch`. */
export function budgetSpent(budget: TrainBudget, steps: number, samples: number, epoch: number): boolean {
  const { epochs, maxSteps, maxSamples } = budget;
  return (
    (epochs !== undefined && epoch >= epochs) ||
    (maxSteps !== undefined && steps >= maxSteps) ||
    (maxSamples !== undefined && samples >= maxSamples)
  );
}

/**
 * The steps a budget allows when the batch size may change from step to step (`batchAt(step)`, 1-based:
 * a batch-size schedule): the training loop's own walk (takeBatch, budgetSpent) without the training.
 */
export function stepsWithinBudget(o: {
  budget: TrainBudget;
  trainCount: number;
  policy: LastBatchPolicy;
  batchAt: (step: number) => number;
}): number {
  const { budget } = o;
  if (budget.epochs === undefined && budget.maxSamples === undefined) {
    if (budget.maxSteps === undefined)
      throw new UsageError('no training budget given; pass --epochs N, --steps N or --samples N');
    return budget.maxSteps;
  }
  let pos: EpochPosition = { epoch: 0, cursor: 0 };
  let samples = 0;
  for (let steps = 0; ; steps++) {
    const next = takeBatch(pos, o.trainCount, o.batchAt(steps + 1), o.policy);
    if (budgetSpent(budget, steps, samples, next.epoch)) return steps;
    samples += next.range[1] - next.range[0];
    pos = { epoch: next.epoch, cursor: next.range[1] };
  }
}

/**
 * The order a run resumed from a checkpoint continues its epoch with. With the data-order seed the
 * checkpoint was saved with, the saved order itself: the resumed run is the same run. With another seed
 * (a branch repeated over seeds), positions [0, cursor) stay and the samples the epoch has not used yet
 * are reshuffled with a stream of the new seed, so each sample is still seen once per epoch; later
 * epochs follow epochOrder of the new seed.
 */
export function resumedOrder(
  saved: Int32Array,
  o: { cursor: number; savedSeed: number; seed: number; epoch: number },
): Int32Array {
  if (o.seed === o.savedSeed) return saved;
  const order = Int32Array.from(saved);
  shuffleInPlace(order.subarray(o.cursor), createRng(deriveSeed(o.seed, `resume:epoch=${o.epoch}`)));
  return order;
}
