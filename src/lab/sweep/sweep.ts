/**
 * A sweep: the same model trained at many batch sizes, side by side, each run in its own child process.
 *
 * Fairness: within a seed every batch size starts from the same initial weights (seeded init) and sees
 * the same sample order (the epoch permutation depends on the seed and epoch only, not on B). The
 * learning rate of each run follows the chosen rule and is stored and printed next to its batch size.
 *
 * Durability: every setting is checked before anything is written, and the experiment is created with
 * all its runs in one transaction. Runs and steps go to SQLite as they happen. One process runs an
 * experiment at a time: it holds the experiment's lock from start to end. Ctrl-C stops the current run,
 * which is marked interrupted; so is a run stopped by a full disk or a lost parent. `--resume ID` runs
 * the unfinished runs from their start; `--retry-failed` also reruns those that failed on their own.
 * A killed parent loses no finished run.
 */
import { planAccumulation } from '../../core/batching.js';
import { BatchlabError, BatchSizeError, UsageError } from '../../core/errors.js';
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
import { classifyRunFailure, type Experiment, openStore, type Run, type Store } from '../../store/index.js';
import { environment } from '../environment.js';
import { type HeldLock, runExperimentLocked } from '../experiment-lock.js';
import { type Launcher, localLauncher } from '../launch/launcher.js';
import { runEach } from '../launch/queue.js';
import { checkResumable } from '../resume.js';
import type { RunSpec } from '../run/execute.js';
import type { RunOutcome } from '../run/outcome.js';
import { remeasureAlone } from './timing.js';

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
  /** One line the user should see: a stale lock taken over, failed runs that will run again. */
  onNotice?(text: string): void;
  signal?: AbortSignal;
}

/** How a sweep's runs are run: where, how many at once, and how their step time is measured. */
export interface SweepLaunch {
  /** Default: the local launcher, one run at a time in a warm worker process. Closed by the caller. */
  launcher?: Launcher;
  /**
   * 'isolated': after runs that shared the machine, re-measure the step time of each batch size alone
   * (timing.ts); 'shared' (default): keep the step times the runs measured, marked as shared.
   */
  timing?: 'shared' | 'isolated';
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

/** What to run: a new sweep (`settings`), or `resumeId`'s unfinished runs (its stored settings must equal `settings` when given). */
export interface SweepOptions extends SweepLaunch {
  dbPath: string;
  settings?: SweepSettings;
  resumeId?: number;
  /** With resumeId: also rerun the runs that failed on their own (failed, oom, diverged, over-budget, timeout). */
  retryFailed?: boolean;
  /** How often the experiment's lock is refreshed while the sweep runs, in ms (default LOCK_REFRESH_MS). */
  lockRefreshMs?: number;
}

/**
 * Starts a new sweep, or resumes `resumeId`. Throws ExperimentLockedError (exit 2) while another live
 * process runs the experiment. A sweep stopped by its environment (a full disk, an I/O error) throws a
 * BATCHLAB_INTERRUPTED error that says how to resume it; one stopped by `hooks.signal` returns 'interrupted'.
 */
export async function runSweep(opts: SweepOptions, hooks: SweepHooks = {}): Promise<SweepResult> {
  if (opts.retryFailed && opts.resumeId === undefined)
    throw new UsageError('--retry-failed reruns the failed runs of an earlier sweep; pass it with --resume ID');
  if (opts.resumeId === undefined && opts.settings === undefined)
    throw new UsageError('a sweep needs its settings, or --resume ID to finish an earlier one');
  if (opts.settings) checkSweepSettings(opts.settings);
  const store = openStore(opts.dbPath);
  // The experiment whose lock this process took (a new one, or the one resumed), for stoppedError.
  let lockedId: number | undefined;
  try {
    return await runExperimentLocked(
      store,
      {
        resumeId: opts.resumeId,
        refreshMs: opts.lockRefreshMs,
        onNotice: hooks.onNotice,
        create: () => {
          lockedId = newExperiment(store, opts.settings!).id;
          return lockedId;
        },
        check: (id) => checkResumable(store, id, { kind: 'sweep', command: 'sweep', settings: opts.settings }),
        prepare: (id) => {
          lockedId = id;
          prepareResume(store, id, opts.retryFailed ?? false, hooks);
        },
      },
      (lock) => runLaunched(opts, { store, lock, dbPath: opts.dbPath, timing: opts.timing }, hooks),
    );
  } catch (err) {
    throw stoppedError(store, lockedId, opts.dbPath, err);
  } finally {
    store.close();
  }
}

/** A sweep held under its lock, and where its runs go. */
interface HeldSweep {
  store: Store;
  lock: HeldLock;
  dbPath: string;
  launcher: Launcher;
  timing?: SweepLaunch['timing'];
}

/**
 * Runs the held sweep with `opts.launcher`, or a local one made here and closed before the caller
 * releases the lock: it ends what it holds (warm workers, jobs) before another process may take it.
 */
async function runLaunched(
  opts: SweepLaunch,
  held: Omit<HeldSweep, 'launcher'>,
  hooks: SweepHooks,
): Promise<SweepResult> {
  const launcher = opts.launcher ?? localLauncher();
  try {
    return await runHeld({ ...held, launcher }, hooks);
  } finally {
    if (!opts.launcher) await launcher.close();
  }
}

/** Runs the experiment's unfinished runs under its lock, then writes its summary and status. */
async function runHeld(held: HeldSweep, hooks: SweepHooks): Promise<SweepResult> {
  const { store, lock, dbPath, launcher } = held;
  const experiment = store.getExperiment(lock.experimentId);
  const settings = experiment.settings as unknown as SweepSettings;
  if (!settings.command) launcher.prepare?.(settings.base);
  const startMs = performance.now();
  store.setExperimentStatus(experiment.id, 'running');
  const signal = AbortSignal.any([lock.lost, ...(hooks.signal ? [hooks.signal] : [])]);
  const stop = await runPending({ store, experiment, settings, dbPath, launcher }, { ...hooks, signal });
  let status: SweepResult['status'] = stop === undefined ? 'done' : 'interrupted';
  if (status === 'done' && held.timing === 'isolated')
    status = await remeasureAlone({ store, experiment, settings, signal });
  // The new owner writes the experiment's status and summary from now on.
  if (lock.lost.aborted) throw lostLockError(experiment.id);
  const finished = store.runsOf(experiment.id).filter((r) => r.status === 'done' && r.summary);
  const summary = summarizeSweep(
    finished.map((r) => r.summary as unknown as RunSummary),
    performance.now() - startMs,
    { budget: settings.budget, trainCount: settings.trainCount },
  );
  store.setExperimentSummary(experiment.id, summary);
  store.setExperimentStatus(experiment.id, status);
  if (stop !== undefined && !hooks.signal?.aborted) throw interruptedRunError(experiment.id, dbPath, stop);
  return { experiment: store.getExperiment(experiment.id), runs: store.runsOf(experiment.id), summary, status };
}

/** Creates the experiment, all its runs and its lock in one transaction: all of it or nothing. */
function newExperiment(store: Store, settings: SweepSettings): Experiment {
  return store.transaction(() => {
    const experiment = store.createExperiment({ kind: 'sweep', settings, env: environment() });
    for (const run of plannedRuns(settings)) {
      const { key, batchSize, microBatchSize, accumSteps, seed, lr, config } = run;
      store.upsertRun({
        experimentId: experiment.id,
        key,
        batchSize,
        microBatchSize,
        accumSteps,
        seed,
        lr,
        settings: config,
      });
    }
    store.acquireExperimentLock(experiment.id);
    return experiment;
  });
}

/**
 * Under the lock: runs left 'running' by a killed process become interrupted (they run again from their
 * start), and with `retryFailed` the runs that failed on their own become pending again.
 */
function prepareResume(store: Store, id: number, retryFailed: boolean, hooks: SweepHooks): void {
  const reset = store.transaction(() => {
    store.markRunningAsInterrupted(id);
    return retryFailed ? store.resetFailedRuns(id) : [];
  });
  if (reset.length > 0) {
    const which = reset.map((r) => `B=${r.batchSize} seed ${r.seed}`).join(', ');
    hooks.onNotice?.(
      `--retry-failed: ${reset.length} run${reset.length === 1 ? '' : 's'} that had failed will run again (${which})`,
    );
  }
}

/** Where a sweep's runs go. */
interface SweepContext {
  store: Store;
  experiment: Experiment;
  settings: SweepSettings;
  dbPath: string;
  launcher: Launcher;
}

/** A run that stopped the sweep: it ended interrupted, or never began. */
type Stop = { run: Run; outcome: RunOutcome };

/**
 * Runs every unfinished run, in order, `launcher.slots` at once; stops starting runs at an abort or at a
 * run that was interrupted (the runs already going finish, or stop on the same signal). Returns the first
 * interrupted run, or the first that never began; undefined when every run ended.
 */
async function runPending(ctx: SweepContext, hooks: SweepHooks & { signal: AbortSignal }): Promise<Stop | undefined> {
  const { store, experiment, settings, dbPath, launcher } = ctx;
  const pending = store.unfinishedRuns(experiment.id);
  const total = store.runsOf(experiment.id).length;
  const doneBefore = total - pending.length;
  const scheduling = new AbortController();
  const stopScheduling = () => scheduling.abort();
  hooks.signal.addEventListener('abort', stopScheduling, { once: true });
  if (hooks.signal.aborted) stopScheduling();
  let stop: Stop | undefined;
  try {
    await runEach(pending, { limit: launcher.slots, signal: scheduling.signal }, async (run, i) => {
      let totalSteps = 0;
      const outcome = await launcher.execute(runSpec(settings, run), {
        record: { dbPath, runId: run.id },
        hooks: {
          signal: hooks.signal,
          onStart: (plan) => {
            totalSteps = plan.totalSteps;
            hooks.onRunStart?.({
              run,
              index: doneBefore + i,
              total,
              plan: plan.plan,
              backend: plan.backend,
              totalSteps,
            });
          },
          onStep: (p) => hooks.onStep?.({ run, totalSteps, ...p }),
        },
      });
      const stored = store.getRun(run.id);
      hooks.onRunEnd?.({ run: stored, outcome });
      if (outcome.status === 'interrupted') {
        stop ??= { run: stored, outcome };
        stopScheduling();
      }
    });
  } finally {
    hooks.signal.removeEventListener('abort', stopScheduling);
  }
  if (stop !== undefined || !scheduling.signal.aborted) return stop;
  const notBegun = store.unfinishedRuns(experiment.id)[0];
  return (
    notBegun && { run: notBegun, outcome: { status: 'interrupted', reason: 'stopped before it began', wallMs: 0 } }
  );
}

/** The resume command for a message. */
function resumeHint(id: number, dbPath: string): string {
  return `batchlab sweep --resume ${id} --db ${dbPath}`;
}

/** A run interrupted by something other than the caller's signal (a full disk, a signal to the worker). */
function interruptedRunError(id: number, dbPath: string, stop: Stop): BatchlabError {
  const r = stop.run;
  return new BatchlabError(
    'BATCHLAB_INTERRUPTED',
    `sweep ${id} stopped: run B=${r.batchSize} seed ${r.seed} was interrupted (${stop.outcome.reason.split('\n')[0]}). ` +
      `Nothing finished was lost; once that is fixed, run ${resumeHint(id, dbPath)}`,
  );
}

function lostLockError(id: number): BatchlabError {
  return new BatchlabError(
    'BATCHLAB_LOCKED',
    `sweep ${id} stopped: another batchlab process took over its lock (this one had not refreshed it in time); ` +
      'it runs the rest of the sweep',
  );
}

/**
 * The error a sweep ends with. An environmental failure of this process's own writes (a full disk while
 * starting a run or writing the summary) leaves a resumable sweep: it is marked interrupted where the
 * store still allows, and the message says how to resume. Anything else is passed on as it is.
 */
function stoppedError(store: Store, id: number | undefined, dbPath: string, err: unknown): unknown {
  const cls = classifyRunFailure(err);
  if (id === undefined || cls.kind !== 'interrupted' || cls.code === 'BATCHLAB_INTERRUPTED') return err;
  try {
    store.markRunningAsInterrupted(id, `stopped by its environment (${cls.code})`);
    store.setExperimentStatus(id, 'interrupted');
  } catch {
    // the store cannot be written right now; a resume marks the runs it finds running as interrupted
  }
  const message = err instanceof Error ? err.message : String(err);
  return new BatchlabError(
    'BATCHLAB_INTERRUPTED',
    `sweep ${id} stopped: ${message}. Nothing finished was lost; once that is fixed, run ${resumeHint(id, dbPath)}`,
    { cause: err },
  );
}

/** The planned facts of a run that its spec needs. */
export type PlannedRun = Pick<Run, 'batchSize' | 'microBatchSize' | 'accumSteps' | 'lr' | 'seed'>;

/** What one run of the sweep runs: its TF.js config, or the command with `{max_steps}` from the budget (steps, or samples / B). */
export function runSpec(settings: SweepSettings, run: PlannedRun): RunSpec {
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

/** The runs of a sweep, seed by seed, each batch size in order: what the store plans, with each run's config. */
export function plannedRuns(s: SweepSettings): (PlannedRun & { key: string; config: TrainConfig })[] {
  return s.seeds.flatMap((seed) =>
    s.batchSizes.map((batchSize) => {
      const config = runConfig(s, batchSize, seed);
      const plan = planAccumulation({ batchSize, accumSteps: config.accumSteps });
      return { key: runKey(batchSize, seed), ...plan, lr: config.lr, seed, config };
    }),
  );
}

/**
 * Checks a sweep's settings before anything is stored: the batch sizes, seeds, LR rule, base LR and
 * batch, the budget, and every run's config (a TF.js run: its settings, warm-up and schedule against its
 * length, and, with `data`, its model against the data's shape; a command: its template and values).
 */
export function checkSweepSettings(s: SweepSettings, data?: DataFacts): void {
  if (s.batchSizes.length === 0) throw new BatchSizeError('a sweep needs at least one batch size; pass e.g. 16,64');
  checkNoRepeats(s.batchSizes, 'batch size', (m) => new BatchSizeError(m));
  checkNoRepeats(s.seeds, 'seed', (m) => new UsageError(m));
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

/** Each batch size or seed listed once: a repeat would plan two runs under one key. */
function checkNoRepeats(values: readonly number[], what: string, error: (message: string) => BatchlabError): void {
  const repeated = values.find((v, i) => values.indexOf(v) !== i);
  if (repeated !== undefined) throw error(`${what} ${repeated} is listed twice; list each once`);
}
