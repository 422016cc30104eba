/**
 * Learning-rate scaling rules, schedules with linear warm-up, and batch-size rounding.
 */
import { UnknownNameError, UsageError } from './errors.js';

/** LR scaling rules by name. */
export const LR_RULES = ['fixed', 'linear', 'sqrt'] as const;
export type LrRule = (typeof LR_RULES)[number];

/** LR schedules by name. */
export const LR_SCHEDULES = ['constant', 'cosine', 'step'] as const;
export type LrScheduleKind = (typeof LR_SCHEDULES)[number];

/** Throws unless x is finite and > 0. */
function requirePositive(x: number, what: string, example: string): void {
  if (!(Number.isFinite(x) && x > 0))
    throw new UsageError(`${what} must be a positive number, got ${x}; use e.g. ${example}`);
}

/**
 * Scales a learning rate tuned at `baseBatch` to `batch`:
 * - 'fixed':  lr = baseLr;
 * - 'linear': lr = baseLr * batch / baseBatch (Goyal et al. 2017, "Accurate, Large Minibatch SGD";
 *   for SGD, used together with warm-up);
 * - 'sqrt':   lr = baseLr * sqrt(batch / baseBatch) (Hoffer et al. 2017; Malladi et al. 2022 for Adam).
 */
export function scaleLr(options: { rule: LrRule; baseLr: number; baseBatch: number; batch: number }): number {
  const { rule, baseLr, baseBatch, batch } = options;
  requirePositive(baseLr, 'base learning rate', '--lr 0.1');
  requirePositive(baseBatch, 'base batch size', '--base-batch 256');
  requirePositive(batch, 'batch size', '--batch-size 64');
  switch (rule) {
    case 'fixed':
      return baseLr;
    case 'linear':
      return (baseLr * batch) / baseBatch;
    case 'sqrt':
      return baseLr * Math.sqrt(batch / baseBatch);
    default:
      throw new UnknownNameError('BATCHLAB_BAD_ARGUMENT', 'LR scaling rule', String(rule), LR_RULES);
  }
}

/**
 * The LR rule of an optimizer when none is given: square-root for Adam (Malladi et al. 2022), linear for
 * SGD with or without momentum (Goyal et al. 2017). Unknown (a user's command): linear.
 */
export function defaultLrRule(optimizer: string | undefined): LrRule {
  return optimizer === 'adam' ? 'sqrt' : 'linear';
}

/** Options of lrAt. */
export interface LrScheduleOptions {
  kind: LrScheduleKind;
  /** Peak learning rate, reached at the end of the warm-up. */
  baseLr: number;
  /** Steps of linear warm-up (0 = none). */
  warmupSteps: number;
  /** Total steps of the run; the cosine schedule ends at minLr on this step. */
  totalSteps: number;
  /** 'step' schedule: multiply by gamma every stepEvery steps after the warm-up. */
  stepEvery?: number;
  /** 'step' schedule factor in (0, 1], default 0.1. */
  gamma?: number;
  /** 'cosine' schedule floor, default 0. */
  minLr?: number;
}

/** Validates schedule options that do not depend on the step. */
function checkSchedule(o: LrScheduleOptions): void {
  requirePositive(o.baseLr, 'learning rate', '--lr 0.1');
  if (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0) {
    throw new UsageError(`warm-up steps must be an integer >= 0, got ${o.warmupSteps}; use e.g. --warmup-steps 100`);
  }
  if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) {
    throw new UsageError(`total steps must be a positive integer, got ${o.totalSteps}`);
  }
  if (o.kind === 'cosine' && o.totalSteps <= o.warmupSteps) {
    throw new UsageError(
      `cosine schedule needs total steps (${o.totalSteps}) above the warm-up steps (${o.warmupSteps}); lower --warmup-steps`,
    );
  }
  if (o.kind === 'step' && !(Number.isInteger(o.stepEvery) && (o.stepEvery as number) >= 1)) {
    throw new UsageError(
      `step schedule needs stepEvery, a positive integer, got ${o.stepEvery}; use e.g. --lr-step-every 1000`,
    );
  }
  // A decay factor: 0 would stop training at the first decay, above 1 the LR would grow; 1 keeps it constant.
  if (o.gamma !== undefined && !(o.gamma > 0 && o.gamma <= 1)) {
    throw new UsageError(
      `--lr-gamma must be in (0, 1] (the step schedule multiplies the LR by it), got ${o.gamma}; use e.g. --lr-gamma 0.1`,
    );
  }
}

/**
 * Learning rate at a 1-based step.
 * Warm-up (step <= W = warmupSteps): lr = baseLr * step / W, rising linearly from baseLr / W at step 1
 * to baseLr at step W (Goyal et al. 2017, sec. 2.2 "gradual warmup").
 * After it, with t = step - W:
 * - 'constant': baseLr;
 * - 'cosine': minLr + (baseLr - minLr) (1 + cos(pi p)) / 2 with p = min(1, t / (totalSteps - W))
 *   (Loshchilov & Hutter 2017, one cycle): baseLr at step W, minLr at step totalSteps and after;
 * - 'step': baseLr * gamma^floor(t / stepEvery).
 */
export function lrAt(step: number, options: LrScheduleOptions): number {
  checkSchedule(options);
  if (!Number.isInteger(step) || step < 1)
    throw new UsageError(`step must be a positive integer (1-based), got ${step}`);
  const W = options.warmupSteps;
  if (step <= W) return (options.baseLr * step) / W;
  const t = step - W;
  switch (options.kind) {
    case 'constant':
      return options.baseLr;
    case 'cosine': {
      const minLr = options.minLr ?? 0;
      const p = Math.min(1, t / (options.totalSteps - W));
      return minLr + ((options.baseLr - minLr) * (1 + Math.cos(Math.PI * p))) / 2;
    }
    case 'step':
      return options.baseLr * (options.gamma ?? 0.1) ** Math.floor(t / (options.stepEvery as number));
    default:
      throw new UnknownNameError('BATCHLAB_UNKNOWN_SCHEDULE', 'schedule', String(options.kind), LR_SCHEDULES);
  }
}

/** A rounded batch size and how it was rounded. */
export interface RoundedBatch {
  batch: number;
  /** 'power-of-two' or 'multiple-of-8' when that value is inside the interval; 'integer' otherwise. */
  rounding: 'power-of-two' | 'multiple-of-8' | 'integer';
  /** Plain-words explanation, e.g. "rounded 100 to 128, a power of two inside [64, 200]". */
  text: string;
}

/** Candidates from `values` inside [lo, hi] and <= max, nearest to b in log scale (|ln(c / b)|). */
function nearestInside(b: number, values: number[], lo: number, hi: number, max: number): number | undefined {
  const inside = values.filter((c) => c >= lo && c <= hi && c <= max && c >= 1);
  inside.sort((x, y) => Math.abs(Math.log(x / b)) - Math.abs(Math.log(y / b)) || x - y);
  return inside[0];
}

/**
 * Rounds a recommended batch size b to a hardware-friendly value that stays inside its confidence
 * interval [ciLow, ciHigh] (and at or below `max`, e.g. the memory ceiling): first the nearest power of
 * two (2^floor(log2 b) or 2^ceil(log2 b), nearer in log scale); if neither is inside, the nearest
 * multiple of 8 (8 floor(b/8) or 8 ceil(b/8)); otherwise round(b) clamped to [1, max].
 */
export function roundBatch(b: number, options: { ciLow: number; ciHigh: number; max?: number }): RoundedBatch {
  requirePositive(b, 'batch size', '64');
  const { ciLow, ciHigh } = options;
  const max = options.max ?? Number.POSITIVE_INFINITY;
  const range = `[${+ciLow.toPrecision(4)}, ${+ciHigh.toPrecision(4)}]`;
  const pow = nearestInside(b, [2 ** Math.floor(Math.log2(b)), 2 ** Math.ceil(Math.log2(b))], ciLow, ciHigh, max);
  if (pow !== undefined) {
    return {
      batch: pow,
      rounding: 'power-of-two',
      text: `rounded ${+b.toPrecision(4)} to ${pow}, a power of two inside ${range}`,
    };
  }
  const m8 = nearestInside(b, [8 * Math.floor(b / 8), 8 * Math.ceil(b / 8)], ciLow, ciHigh, max);
  if (m8 !== undefined) {
    return {
      batch: m8,
      rounding: 'multiple-of-8',
      text: `rounded ${+b.toPrecision(4)} to ${m8}, a multiple of 8 inside ${range} (no power of two is)`,
    };
  }
  const batch = Math.max(1, Math.min(Math.round(b), Math.floor(max)));
  return { batch, rounding: 'integer', text: `kept ${batch}: no power of two or multiple of 8 lies inside ${range}` };
}
