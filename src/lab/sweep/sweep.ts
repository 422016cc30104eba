/**
 * A sweep: the same model trained at many batch sizes, side by side, each run in its own child process.
 *
 * Fairness: within a seed every batch size starts from the same initial weights (seeded init) and sees
 * the same sample order (the epoch permutation depends on the seed and epoch only, not on B). The
 * learning rate of each run follows the chosen rule and is stored and printed next to its batch size.
 *
 * Durability: runs and steps go to SQLite as they happen. Ctrl-C stops the current run, which is marked
 * interrupted; `--resume ID` runs only the unfinished runs. A killed parent loses no finished run.
 */
import { BatchSizeError, UsageError } from '../../core/errors.js';
import { LR_RULES, scaleLr, type LrRule } from '../../core/lr.js';
import { REFERENCE_SWEEP_BATCHES } from '../../core/recommend-plan.js';
import type { SweepBudget } from '../../core/run.js';
import { checkLearningRate } from '../../core/run-checks.js';
import { summarizeSweep } from '../../core/summarize-sweep.js';
import type { RunSummary, SweepSummary } from '../../core/summary.js';
import { expandCommand, resolveValues } from '../../engine/external/template.js';
import type { CommandSpec } from '../../engine/external/trainer.js';
import { loadDataset } from '../../data/registry.js';
import { checkTrainConfig, type DataFacts, type TrainConfig } from '../../engine/tfjs/trainer.js';
import { openStore, type Experiment, type Run, type Store } from '../../store/index.js';
import { environment } from '../environment.js';
import { resumeExperiment } from '../resume.js';
import { executeRun, type RunSpec } from '../run/execute.js';
import type { RunOutcome } from '../run/outcome.js';

/** Everything that defines a sweep; stored with the experiment, and compared on resume. */
export interface SweepSettings {
  /** The run config shared by all runs; batchSize, lr, seed, budget and target are set per run. */
  base: TrainConfig;
  batchSizes: number[];
  seeds: number[];
  lrRule: LrRule;
  baseLr: number;
  baseBatch: number;
  budget: SweepBudget;
  /** Training-set size, fixed when the sweep was planned (sets the eval interval). */
  trainCount: number;
  /** Set for a sweep of a user's own training command instead of a TF.js model (`--cmd`). */
  command?: CommandSpec;
}

export interface SweepHooks {
  onRunStart?(info: {
    run: Run;
    index: number;
    total: number;
    plan?: string;
    backend?: string;
    totalSteps: number;
  }): void;
  onStep?(info: { run: Run; step: number; samples: number; loss: number; stepMs: number; totalSteps: number }): void;
  /** The run as stored after it ended, and how it ended (its real status: oom, timeout, diverged, ...). */
  onRunEnd?(info: { run: Run; outcome: RunOutcome }): void;
  signal?: AbortSignal;
}

export interface SweepResult {
  experiment: Experiment;
  runs: Run[];
  summary: SweepSummary;
  status: 'done' | 'interrupted';
}

/**
 * Settings of a TF.js sweep with the command line's defaults for what is not given: batch sizes 16..1024
 * (those up to the training set), one seed (1), the square-root LR rule from base.lr at batch 64, and
 * one epoch's worth of samples per run, so every batch size sees the same data. Loads the dataset once
 * for its size unless trainCount is given.
 */
export function sweepSettings(o: Pick<SweepSettings, 'base'> & Partial<SweepSettings>): SweepSettings {
  const trainCount = o.trainCount ?? loadDataset(o.base.dataset, o.base.datasetOptions).train.count;
  return {
    batchSizes: REFERENCE_SWEEP_BATCHES.filter((b) => b <= trainCount),
    seeds: [1],
    lrRule: 'sqrt',
    baseLr: o.base.lr,
    baseBatch: 64,
    budget: { kind: 'samples', value: trainCount },
    trainCount,
    ...o,
  };
}

/** Evaluations per epoch: enough to place steps-to-target within 5% of an epoch. */
const EVALS_PER_EPOCH = 20;
/** Held-out samples used by the periodic evaluations (the final one uses all). */
const EVAL_TEST_LIMIT = 2000;

/** The stable key of a run within its sweep. */
export function runKey(batchSize: number, seed: number): string {
  return `b=${batchSize},seed=${seed}`;
}

/** The config of one run of the sweep. */
export function runConfig(s: SweepSettings, batchSize: number, seed: number): TrainConfig {
  const lr = scaleLr({ rule: s.lrRule, baseLr: s.baseLr, baseBatch: s.baseBatch, batch: batchSize });
  const b = s.budget;
  const budget =
    b.kind === 'epochs'
      ? { epochs: b.value }
      : b.kind === 'steps'
        ? { maxSteps: b.value }
        : b.kind === 'samples'
          ? { maxSamples: b.value }
          : { epochs: b.maxEpochs };
  return {
    ...s.base,
    batchSize,
    lr,
    seed,
    budget,
    target: b.kind === 'target' ? b.target : undefined,
    evalEvery: Math.max(1, Math.round(s.trainCount / EVALS_PER_EPOCH / batchSize)),
    evalTestLimit: EVAL_TEST_LIMIT,
  };
}

/**
 * Starts a new sweep, or resumes `resumeId` (whose stored settings must equal `settings` when given).
 * New settings are checked (checkSweepSettings) before the store is opened.
 */
export async function runSweep(
  opts: { dbPath: string; settings?: SweepSettings; resumeId?: number },
  hooks: SweepHooks = {},
): Promise<SweepResult> {
  if (opts.settings) checkSweepSettings(opts.settings);
  const store = openStore(opts.dbPath);
  try {
    const experiment =
      opts.resumeId !== undefined
        ? resumeExperiment(store, opts.resumeId, { kind: 'sweep', command: 'sweep', settings: opts.settings })
        : newExperiment(store, opts.settings!);
    const settings = experiment.settings as unknown as SweepSettings;
    const startMs = performance.now();
    store.setExperimentStatus(experiment.id, 'running');
    const status = await runPending(store, experiment, settings, opts.dbPath, hooks);
    const finished = store.runsOf(experiment.id).filter((r) => r.status === 'done' && r.summary);
    const summary = summarizeSweep(
      finished.map((r) => r.summary as unknown as RunSummary),
      performance.now() - startMs,
      { budget: settings.budget, trainCount: settings.trainCount },
    );
    store.setExperimentSummary(experiment.id, summary);
    store.setExperimentStatus(experiment.id, status);
    return { experiment: store.getExperiment(experiment.id), runs: store.runsOf(experiment.id), summary, status };
  } finally {
    store.close();
  }
}

function newExperiment(store: Store, settings: SweepSettings): Experiment {
  const experiment = store.createExperiment({ kind: 'sweep', settings, env: environment() });
  for (const seed of settings.seeds) {
    for (const batchSize of settings.batchSizes) {
      const c = runConfig(settings, batchSize, seed);
      store.upsertRun({
        experimentId: experiment.id,
        key: runKey(batchSize, seed),
        batchSize,
        microBatchSize: batchSize / c.accumSteps,
        accumSteps: c.accumSteps,
        seed,
        lr: c.lr,
        settings: c,
      });
    }
  }
  return experiment;
}

/** Runs every unfinished run in order; stops scheduling when aborted. */
async function runPending(
  store: Store,
  experiment: Experiment,
  settings: SweepSettings,
  dbPath: string,
  hooks: SweepHooks,
): Promise<'done' | 'interrupted'> {
  const pending = store.unfinishedRuns(experiment.id);
  const total = store.runsOf(experiment.id).length;
  const doneBefore = total - pending.length;
  for (const [i, run] of pending.entries()) {
    if (hooks.signal?.aborted) return 'interrupted';
    let totalSteps = 0;
    const outcome = await executeRun(runSpec(settings, run), {
      record: { dbPath, runId: run.id },
      hooks: {
        signal: hooks.signal,
        onStart: (plan) => {
          totalSteps = plan.totalSteps;
          hooks.onRunStart?.({ run, index: doneBefore + i, total, plan: plan.plan, backend: plan.backend, totalSteps });
        },
        onStep: (p) => hooks.onStep?.({ run, totalSteps, ...p }),
      },
    });
    hooks.onRunEnd?.({ run: store.getRun(run.id), outcome });
    if (outcome.status === 'interrupted') return 'interrupted';
  }
  return hooks.signal?.aborted ? 'interrupted' : 'done';
}

/** What one run of the sweep runs: its TF.js config, or the command with `{max_steps}` from the budget (steps, or samples / B). */
export function runSpec(
  settings: SweepSettings,
  run: Pick<Run, 'batchSize' | 'microBatchSize' | 'accumSteps' | 'lr' | 'seed'>,
): RunSpec {
  if (!settings.command) return { kind: 'tfjs', config: runConfig(settings, run.batchSize, run.seed) };
  const b = settings.budget;
  const maxSteps =
    b.kind === 'steps'
      ? b.value
      : b.kind === 'samples'
        ? Math.ceil(b.value / run.batchSize)
        : b.kind === 'epochs'
          ? Math.ceil((b.value * settings.trainCount) / run.batchSize)
          : 0;
  return {
    kind: 'command',
    command: settings.command,
    values: {
      batch: run.batchSize,
      microBatch: run.microBatchSize,
      accum: run.accumSteps,
      lr: run.lr,
      maxSteps,
      seed: run.seed,
    },
  };
}

/**
 * Checks a sweep's settings before anything is stored: the batch sizes, seeds, LR rule, base LR and
 * batch, the budget, and every run's config (a TF.js run: its settings, warm-up and schedule against its
 * length, and, with `data`, its model against the data's shape; a command: its template and values).
 */
export function checkSweepSettings(s: SweepSettings, data?: DataFacts): void {
  if (s.batchSizes.length === 0) throw new BatchSizeError('a sweep needs at least one batch size; pass e.g. 16,64');
  if (s.seeds.length === 0 || s.seeds.some((seed) => !(Number.isSafeInteger(seed) && seed >= 0)))
    throw new UsageError(`seeds must be integers >= 0, got [${s.seeds.join(', ')}]; pass e.g. --seeds 1,2,3`);
  if (!(LR_RULES as readonly string[]).includes(s.lrRule))
    throw new UsageError(`unknown LR rule "${s.lrRule}"; valid LR rules: ${LR_RULES.join(', ')}`);
  checkLearningRate(s.baseLr, '--base-lr');
  if (!(Number.isSafeInteger(s.baseBatch) && s.baseBatch >= 1))
    throw new BatchSizeError(`--base-batch must be a positive integer, got ${s.baseBatch}; pass e.g. --base-batch 64`);
  if (s.budget.kind === 'target' && !(Number.isSafeInteger(s.budget.maxEpochs) && s.budget.maxEpochs >= 1))
    throw new UsageError(`--max-epochs must be a positive integer, got ${s.budget.maxEpochs}`);
  if (s.budget.kind !== 'target' && !(Number.isSafeInteger(s.budget.value) && s.budget.value >= 1))
    throw new UsageError(`budget ${s.budget.kind} must be a positive integer, got ${s.budget.value}`);
  for (const batchSize of s.batchSizes) {
    if (!(Number.isSafeInteger(batchSize) && batchSize >= 1 && batchSize <= s.trainCount))
      throw new BatchSizeError(
        `batch size ${batchSize} must be a positive integer up to the training-set size ${s.trainCount}`,
      );
    if (s.command) checkCommandRun(s, batchSize);
    else checkTrainConfig(runConfig(s, batchSize, s.seeds[0]!), data ?? { trainCount: s.trainCount });
  }
}

/** A command run: B divisible by the accumulation steps, and a template whose placeholders all have values. */
function checkCommandRun(s: SweepSettings, batchSize: number): void {
  if (batchSize % s.base.accumSteps !== 0)
    throw new BatchSizeError(
      `batch size ${batchSize} is not divisible by --accum ${s.base.accumSteps}; pick batch sizes that are multiples of it`,
    );
  const spec = runSpec(s, {
    batchSize,
    microBatchSize: batchSize / s.base.accumSteps,
    accumSteps: s.base.accumSteps,
    seed: s.seeds[0]!,
    lr: runConfig(s, batchSize, s.seeds[0]!).lr,
  });
  if (spec.kind === 'command') expandCommand(spec.command.template, resolveValues(spec.values));
  const timeoutMs = s.command?.timeoutMs;
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    throw new UsageError(`--timeout must be a positive number of seconds, got ${timeoutMs / 1000}`);
}
