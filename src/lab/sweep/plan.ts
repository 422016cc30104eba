/**
 * A sweep's settings from what a user types (the command line's `--batch-sizes`, `--budget`, ...), read
 * against the data and checked (checkSweepSettings) before any experiment is created.
 */
import { UsageError } from '../../core/errors.js';
import type { LrRule } from '../../core/lr.js';
import { parseBatchList, parseBudget } from '../../core/parse.js';
import { loadDataset } from '../../data/registry.js';
import type { CommandSpec } from '../../engine/external/trainer.js';
import { dataFacts, type TrainConfig } from '../../engine/tfjs/trainer.js';
import { checkSweepSettings, type SweepSettings } from './sweep.js';

/** A sweep as typed: batch sizes and budget in the command line's syntax, the rest as values. */
export interface SweepRequest {
  /** The run config every run shares; batch size, LR, seed and budget are set per run. */
  base: TrainConfig;
  /** "16,64,256": each at most the training-set size. */
  batchSizes: string;
  /** epochs=N, steps=N, samples=N or target=acc:X|loss:X; undefined: one epoch's worth of samples per run. */
  budget?: string;
  /** With a target budget: give up on a run after this many epochs. */
  maxEpochs: number;
  seeds: number[];
  lrRule: LrRule;
  baseLr: number;
  baseBatch: number;
  /** Sweep a training command instead of base's model; batchlab reads none of its data. */
  command?: CommandSpec & {
    /** The command's training-set size, for an epochs=N budget. */
    trainSize?: number;
  };
}

/**
 * The settings of a sweep from a request: loads the dataset once (not for a command) to check the batch
 * sizes and the budget against it, then checks everything (checkSweepSettings). Throws a typed error
 * (exit 2) naming the first bad value.
 */
export function planSweep(r: SweepRequest): SweepSettings {
  if (r.command) return commandSweep(r, r.command);
  const data = loadDataset(r.base.dataset, r.base.datasetOptions);
  const trainCount = data.train.count;
  const settings: SweepSettings = {
    base: r.base,
    batchSizes: parseBatchList(r.batchSizes, trainCount),
    seeds: r.seeds,
    lrRule: r.lrRule,
    baseLr: r.baseLr,
    baseBatch: r.baseBatch,
    budget: parseBudget(r.budget, { trainCount, maxEpochs: r.maxEpochs, task: data.task }),
    trainCount,
  };
  checkSweepSettings(settings, dataFacts(data));
  return settings;
}

/** The settings of a command sweep: no dataset is loaded; the command reads its own data. */
function commandSweep(r: SweepRequest, command: NonNullable<SweepRequest['command']>): SweepSettings {
  const trainCount = command.trainSize ?? Number.MAX_SAFE_INTEGER;
  if (r.budget === undefined || (/^\s*epochs=/.test(r.budget) && command.trainSize === undefined)) {
    throw new UsageError(
      'with --cmd, pass --budget steps=N or samples=N (epochs=N also needs --train-size N): batchlab cannot see the size of your data',
    );
  }
  const budget = parseBudget(r.budget, { trainCount, maxEpochs: r.maxEpochs, task: 'classification' });
  if (budget.kind === 'target')
    throw new UsageError("target budgets need batchlab's own trainer; with --cmd use --budget steps=N or samples=N");
  const settings: SweepSettings = {
    base: { ...r.base, dataset: 'external', datasetOptions: {}, sharpness: undefined },
    batchSizes: parseBatchList(r.batchSizes, trainCount),
    seeds: r.seeds,
    lrRule: r.lrRule,
    baseLr: r.baseLr,
    baseBatch: r.baseBatch,
    budget,
    trainCount,
    command: { template: command.template, timeoutMs: command.timeoutMs },
  };
  checkSweepSettings(settings);
  return settings;
}
