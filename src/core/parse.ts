/**
 * Parsers of the values a user types for a sweep: batch lists, budgets, training targets and seeds.
 * Each one either returns a valid value or throws a BatchlabError (exit code 2) that names the value,
 * with its control characters escaped, and shows a valid example; nothing else is ever thrown.
 */
import { BatchSizeError, UsageError } from './errors.js';
import type { SweepBudget, TrainTarget } from './run.js';
import { escapeControl } from './text.js';
import { parsePositiveInt } from './units.js';

/** When to stop training (core/run.ts TrainTarget): held-out accuracy or loss, or the training loss. */
export type TargetSpec = TrainTarget;

/** How long each run of a sweep trains (core/run.ts SweepBudget). */
export type BudgetSpec = SweepBudget;

const BUDGET_KINDS = ['epochs', 'steps', 'samples', 'target'] as const;

/** `acc:0.97`, `accuracy:0.97`, `loss:0.1` (held-out) or `train-loss:0.1`. */
const TARGET_PATTERN = /^(acc|accuracy|loss|train-loss):([0-9.]+)$/;
/** `kind=value`. */
const BUDGET_PATTERN = /^(\w+)=(.+)$/;
/** A seed: decimal digits, optionally surrounded by blanks. */
const SEED_PATTERN = /^\s*\d+\s*$/;

/**
 * Parses "16,32,64": positive integers, at least one, each at most `trainCount` (the training-set size).
 * Duplicates are dropped; the result is sorted ascending.
 */
export function parseBatchList(text: string, trainCount: number): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (text.trim() === '' || parts.some((p) => p === ''))
    throw new BatchSizeError(
      `batch list "${escapeControl(text)}" is empty or has an empty entry; pass e.g. --batch-sizes 16,64,256`,
    );
  const sizes = parts.map((p) =>
    parsePositiveInt(p, 'batch size', { code: 'BATCHLAB_BAD_BATCH_SIZE', example: '--batch-sizes 16,64,256' }),
  );
  const tooBig = sizes.find((b) => b > trainCount);
  if (tooBig !== undefined)
    throw new BatchSizeError(
      `batch size ${tooBig} is above the training-set size ${trainCount}; use batch sizes up to ${trainCount}`,
    );
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/**
 * Parses `acc:0.97` (held-out accuracy in (0, 1]), `loss:0.1` (held-out loss) or `train-loss:0.1` (training
 * loss; both finite and >= 0); undefined stays undefined.
 */
export function parseTarget(text: string | undefined): TargetSpec | undefined {
  if (text === undefined) return undefined;
  const m = TARGET_PATTERN.exec(text.trim());
  const value = m ? Number(m[2]) : Number.NaN;
  const isAccuracy = m !== null && m[1] !== 'loss' && m[1] !== 'train-loss';
  if (!m || !Number.isFinite(value) || (isAccuracy && (value <= 0 || value > 1))) {
    throw new UsageError(
      `target must look like acc:0.97 (held-out accuracy in (0, 1]), loss:0.1 or train-loss:0.1, got "${escapeControl(text)}"`,
    );
  }
  return { metric: isAccuracy ? 'accuracy' : (m[1] as 'loss' | 'train-loss'), value };
}

/**
 * Parses a sweep budget: `epochs=3`, `steps=N`, `samples=N` or `target=acc:0.97` / `target=loss:0.1` /
 * `target=train-loss:0.1` (every batch size trained to the same training loss). No text means one epoch's worth of samples, so every batch size sees the same data. An accuracy
 * target needs a classification task; `maxEpochs` (the give-up point of a target) must be positive.
 */
export function parseBudget(
  text: string | undefined,
  opts: { trainCount: number; maxEpochs: number; task: string },
): BudgetSpec {
  if (text === undefined) return { kind: 'samples', value: opts.trainCount };
  const m = BUDGET_PATTERN.exec(text.trim());
  const kind = BUDGET_KINDS.find((k) => k === m?.[1]);
  if (!m || kind === undefined) {
    throw new UsageError(
      `unknown budget "${escapeControl(text)}"; use epochs=N, steps=N, samples=N or target=acc:0.97 (or target=loss:0.1, target=train-loss:0.1)`,
    );
  }
  const spec = m[2] as string;
  if (kind !== 'target') return { kind, value: parsePositiveInt(spec, `budget ${kind}`, { example: `${kind}=3` }) };
  const target = parseTarget(spec) as TargetSpec;
  if (target.metric === 'accuracy' && opts.task !== 'classification') {
    throw new UsageError(
      `target "${escapeControl(spec)}" needs accuracy, but this dataset is ${opts.task}; use target=loss:X`,
    );
  }
  const maxEpochs = parsePositiveInt(opts.maxEpochs, 'max epochs', { example: '--max-epochs 10' });
  return { kind: 'target', target, maxEpochs };
}

/** Parses "1,2,3": integers >= 0 (any safe integer size), in the order given, duplicates dropped. */
export function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!SEED_PATTERN.test(s) || !Number.isSafeInteger(n))
      throw new UsageError(`seed must be an integer >= 0, got "${escapeControl(s)}"; pass e.g. --seeds 1,2,3`);
    return n;
  });
  return [...new Set(seeds)];
}

/** Most seeds `--replicates` runs. */
export const MAX_REPLICATES = 1000;

/** The seeds of `--replicates N`: 1, 2, ..., N, each its own initial weights and sample order. */
export function replicateSeeds(n: number): number[] {
  const count = parsePositiveInt(n, 'replicates', { example: '--replicates 3' });
  if (count > MAX_REPLICATES)
    throw new UsageError(`replicates must be at most ${MAX_REPLICATES}, got ${count}; pass e.g. --replicates 3`);
  return Array.from({ length: count }, (_, i) => i + 1);
}
