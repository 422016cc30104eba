/**
 * `batchlab branch`: the critical batch measured directly at checkpoints of a run (Merrill, Arora,
 * Groeneveld, Hajishirzi 2025, arXiv 2505.23971), next to the gradient noise scale, and the batch-size
 * warm-up that follows from it.
 *
 * The runs, in order (each through executeRun, recorded in the store as an experiment of kind 'branch'):
 * 1. The base run at the base batch b, as a chain of segments 0 -> c_1 -> c_2 -> ... -> c_n (the
 *    checkpoints, by default geometric over the full run: critical-batch.geometricCheckpoints): each
 *    segment resumes from the previous one's checkpoint file and saves its own. A segment is the base
 *    run itself (resume is bit-identical), and its held-out loss is the base loss at the checkpoint.
 * 2. At each checkpoint c, for each seed: the base run continued at b for the window of W samples, and
 *    branches at 2b, 4b, ... with the LR scaled by the rule, each for the same W samples. The first seed
 *    is the base run's own (its continuation at b is the base run); the others reshuffle the samples the
 *    epoch has left, so base and branches of one seed see the same samples and pair by seed.
 *    The continuations at b measure B_simple over the window (every step computed as two halves).
 * Then the summary (core/branch-summary.ts): the critical batch per checkpoint (the largest branch whose
 * held-out loss after the window stays within the tolerance of the base run's, with an interval, or
 * "cannot tell"), B_simple over the same windows, whether they agree, the schedule, and the compute.
 *
 * Resumable: `--resume ID` runs only the unfinished runs (a finished segment's checkpoint file must still
 * be there). A user's command is branched the same way through {checkpoint_in}, {checkpoint_out} and
 * {resume_step} (docs/protocol.md).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  criticalPointsFromBranches,
  formatBatchSchedule,
  scheduleFromCriticalCurve,
} from '../../core/batch-schedule.js';
import {
  type BranchSchedule,
  type BranchSummary,
  type CheckpointMeasurement,
  summarizeBranches,
} from '../../core/branch-summary.js';
import { DEFAULT_BRANCH_TOLERANCE, geometricCheckpoints } from '../../core/critical-batch.js';
import { BatchlabError, UsageError } from '../../core/errors.js';
import { defaultLrRule, scaleLr, type LrRule } from '../../core/lr.js';
import { accumulationPlan } from '../../core/search.js';
import type { RunSummary } from '../../core/summary.js';
import { loadDataset } from '../../data/registry.js';
import type { CommandSpec } from '../../engine/external/trainer.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { openStore, type Experiment, type Run, type Store } from '../../store/index.js';
import { environment } from '../environment.js';
import { type HeldLock, runExperimentLocked } from '../experiment-lock.js';
import { checkResumable } from '../resume.js';
import { executeRun, type ExecuteRun, type RunSpec } from '../run/execute.js';
import type { RunOutcome } from '../run/outcome.js';

/** Everything that defines a branch experiment; stored with it and compared on resume. */
export interface BranchSettings {
  /** The run config (dataset, model, optimizer, seed, warm-up); batch, LR, budget and checkpoints are set per run. */
  base: TrainConfig;
  /** A user's training command instead of a TF.js model; it must honour {checkpoint_in} and {checkpoint_out}. */
  command?: CommandSpec;
  /** Training-set size (the largest batch a schedule may reach). */
  trainCount: number;
  baseBatch: number;
  /** LR at the base batch; branches scale it by lrRule. */
  baseLr: number;
  lrRule: LrRule;
  /** Samples of the full base run the checkpoints are placed in (the run a schedule is for). */
  totalSamples: number;
  /** Samples seen at each checkpoint, increasing. */
  checkpoints: number[];
  /** Samples every run trains after its checkpoint. */
  windowSamples: number;
  /** Batches of the branches (2b, 4b, ...). */
  branchBatches: number[];
  /** Seeds of the windows; the first is the base run's. */
  seeds: number[];
  /** Relative held-out loss excess a branch may have and still count as "as good" (critical-batch.ts). */
  tolerance: number;
  /** Largest micro-batch: larger batches accumulate (and the schedule's split). */
  maxMicroBatch: number;
  /** Folder for the checkpoint files (a sub-folder per experiment). */
  checkpointDir: string;
}

/** Default ratios of the branch batches to the base batch. */
export const DEFAULT_BRANCH_MULTIPLIERS = [2, 4, 8, 16];
/** Default window: this fraction of the full run. */
const DEFAULT_WINDOW_FRACTION = 1 / 16;
/** Default number of seeds per window. */
const DEFAULT_SEED_COUNT = 3;

/**
 * Settings with the command line's defaults for what is not given: the base batch and LR of `base`, the
 * LR rule of its optimizer, one epoch for the full run, a window of 1/16 of it (rounded up to whole steps
 * of the largest branch), 6 geometric checkpoints, branches at 2, 4, 8 and 16 times the base batch (those
 * up to the training set), 3 seeds from base.seed, the 1% tolerance. Loads the dataset for its size
 * unless trainCount is given.
 */
export function branchSettings(o: Pick<BranchSettings, 'base'> & Partial<BranchSettings>): BranchSettings {
  const trainCount = o.trainCount ?? loadDataset(o.base.dataset, o.base.datasetOptions).train.count;
  const baseBatch = o.baseBatch ?? o.base.batchSize;
  const totalSamples = o.totalSamples ?? trainCount;
  const branchBatches =
    o.branchBatches ?? DEFAULT_BRANCH_MULTIPLIERS.map((k) => k * baseBatch).filter((b) => b <= trainCount);
  const largest = Math.max(baseBatch, ...branchBatches);
  const windowSamples =
    o.windowSamples ?? Math.max(largest, Math.ceil((totalSamples * DEFAULT_WINDOW_FRACTION) / largest) * largest);
  return {
    trainCount,
    baseBatch,
    baseLr: o.base.lr,
    lrRule: defaultLrRule(o.base.optimizer.name),
    totalSamples,
    windowSamples,
    checkpoints: o.checkpoints ?? geometricCheckpoints({ totalSamples, baseBatch, windowSamples }),
    branchBatches,
    seeds: Array.from({ length: DEFAULT_SEED_COUNT }, (_, i) => o.base.seed + i),
    tolerance: DEFAULT_BRANCH_TOLERANCE,
    maxMicroBatch: largest,
    checkpointDir: 'batchlab-checkpoints',
    ...o,
  };
}

/** Checks settings a user can get wrong, naming the value and the fix. */
export function checkBranchSettings(s: BranchSettings): void {
  if (s.checkpoints.length === 0)
    throw new UsageError(
      `no checkpoint fits: a window of ${s.windowSamples} samples leaves none in a run of ${s.totalSamples}; pass a longer --samples or a shorter --window`,
    );
  s.checkpoints.forEach((c, i) => {
    if (!(Number.isInteger(c) && c > 0 && c % s.baseBatch === 0) || (i > 0 && c <= s.checkpoints[i - 1]!))
      throw new UsageError(
        `checkpoints must increase and be positive multiples of the base batch ${s.baseBatch}, got ${s.checkpoints.join(',')}`,
      );
  });
  if (s.branchBatches.length === 0 || s.branchBatches.some((b) => !Number.isInteger(b) || b <= s.baseBatch))
    throw new UsageError(
      `branch batches must be integers above the base batch ${s.baseBatch}, got ${s.branchBatches.join(',') || 'none'}; pass e.g. --branch-batches ${2 * s.baseBatch},${4 * s.baseBatch}`,
    );
  if (s.seeds.length === 0) throw new UsageError('a branch experiment needs at least one seed; pass e.g. --seeds 3');
  for (const b of [s.baseBatch, ...s.branchBatches])
    if (b > s.trainCount)
      throw new UsageError(
        `batch ${b} is larger than the training set (${s.trainCount} samples)`,
        'BATCHLAB_BAD_BATCH_SIZE',
      );
}

/** One planned run: a segment of the base run or a window after a checkpoint. */
export interface BranchRunPlan {
  key: string;
  kind: 'segment' | 'window';
  batchSize: number;
  seed: number;
  lr: number;
  /** Samples seen before it (its checkpoint in) and when it stops. */
  fromSamples: number;
  toSamples: number;
  /** The checkpoint it starts from (windows) or ends at (segments). */
  checkpoint: number;
}

/** Every run of the experiment in the order it runs (file comment). */
export function branchRunPlans(s: BranchSettings): BranchRunPlan[] {
  const seed = s.seeds[0]!;
  const segments = s.checkpoints.map((c, i): BranchRunPlan => {
    const from = i === 0 ? 0 : s.checkpoints[i - 1]!;
    return {
      key: `base:${from}-${c}`,
      kind: 'segment',
      batchSize: s.baseBatch,
      seed,
      lr: s.baseLr,
      fromSamples: from,
      toSamples: c,
      checkpoint: c,
    };
  });
  const windows = s.checkpoints.flatMap((c) =>
    s.seeds.flatMap((sd) =>
      [s.baseBatch, ...s.branchBatches].map(
        (b): BranchRunPlan => ({
          key: `cp=${c},b=${b},seed=${sd}`,
          kind: 'window',
          batchSize: b,
          seed: sd,
          lr: scaleLr({ rule: s.lrRule, baseLr: s.baseLr, baseBatch: s.baseBatch, batch: b }),
          fromSamples: c,
          toSamples: c + s.windowSamples,
          checkpoint: c,
        }),
      ),
    ),
  );
  return [...segments, ...windows];
}

/** Where experiment `id` keeps the base run's checkpoint at `samples`. */
export function checkpointFile(s: BranchSettings, experimentId: number, samples: number): string {
  const ext = s.command ? 'ckpt' : 'safetensors';
  return join(s.checkpointDir, `experiment-${experimentId}`, `base-${samples}.${ext}`);
}

/** The previous checkpoint of a run (the one it resumes from), or undefined for the first segment. */
function checkpointIn(s: BranchSettings, p: BranchRunPlan): number | undefined {
  return p.kind === 'window' ? p.checkpoint : p.fromSamples === 0 ? undefined : p.fromSamples;
}

/** What one planned run runs: a TF.js config or the command with its values. */
export function branchRunSpec(s: BranchSettings, experimentId: number, p: BranchRunPlan): RunSpec {
  const from = checkpointIn(s, p);
  const resumeFrom = from === undefined ? undefined : checkpointFile(s, experimentId, from);
  const saveTo = p.kind === 'segment' ? checkpointFile(s, experimentId, p.checkpoint) : undefined;
  // The base batch's windows measure B_simple: every step as two halves (or two micro-batches).
  const measureNoise = p.kind === 'window' && p.batchSize === s.baseBatch;
  const split = accumulationPlan(p.batchSize, s.maxMicroBatch);
  const accumSteps = split.exact ? split.accumSteps : 1;
  if (s.command) {
    const noiseAccum = measureNoise && accumSteps === 1 && p.batchSize % 2 === 0 ? 2 : accumSteps;
    return {
      kind: 'command',
      command: s.command,
      values: {
        batch: p.batchSize,
        accum: noiseAccum,
        lr: p.lr,
        seed: p.seed,
        maxSteps: Math.ceil((p.toSamples - p.fromSamples) / p.batchSize),
        resumeStep: from === undefined ? 0 : from / s.baseBatch,
        ...(resumeFrom !== undefined && { checkpointIn: resumeFrom }),
        ...(saveTo !== undefined && { checkpointOut: saveTo }),
      },
    };
  }
  return { kind: 'tfjs', config: branchRunConfig(s, p, { resumeFrom, saveTo, measureNoise, accumSteps }) };
}

/** The TF.js config of one planned run. */
function branchRunConfig(
  s: BranchSettings,
  p: BranchRunPlan,
  o: { resumeFrom?: string; saveTo?: string; measureNoise: boolean; accumSteps: number },
): TrainConfig {
  return {
    ...s.base,
    batchSize: p.batchSize,
    accumSteps: o.accumSteps,
    lr: p.lr,
    seed: p.seed,
    budget: { maxSamples: p.toSamples },
    // A constant LR after the base run's warm-up (counted in the base run's steps, so branches start past it).
    schedule: 'constant',
    target: undefined,
    evalEvery: 0,
    noiseEvery: o.measureNoise ? 1 : 0,
    noiseFromStep: undefined,
    sharpness: undefined,
    batchSchedule: undefined,
    checkpoint: { resumeFrom: o.resumeFrom, saveTo: o.saveTo },
  };
}

/** Progress of a branch experiment, and how to stop it. */
export interface BranchHooks {
  onRunStart?(info: { run: Run; plan: BranchRunPlan; index: number; total: number }): void;
  /** Samples of work done over all runs (each run counts the samples it trains), and the total. */
  onProgress?(info: { run: Run; doneSamples: number; totalSamples: number; loss: number }): void;
  onRunEnd?(info: { run: Run; outcome: RunOutcome }): void;
  /** Told when a stale lock was taken over (one line). */
  onNotice?(text: string): void;
  signal?: AbortSignal;
  /** Runs the runs; tests may pass a stand-in. Default executeRun. */
  execute?: ExecuteRun;
}

/** What a branch experiment gives back. */
export interface BranchResult {
  experiment: Experiment;
  runs: Run[];
  status: 'done' | 'interrupted';
  /** Undefined when interrupted before every run finished. */
  summary?: BranchSummary;
}

/** Options of runBranch: a new experiment (`settings`), or `resumeId`'s unfinished runs. */
export interface BranchOptions {
  dbPath: string;
  settings?: BranchSettings;
  resumeId?: number;
  /** How often the experiment's lock is refreshed while it runs, in ms (default LOCK_REFRESH_MS). */
  lockRefreshMs?: number;
}

/**
 * Starts a new branch experiment, or resumes `resumeId` (whose stored settings must equal `settings` when
 * given). One process runs an experiment at a time: it holds the experiment's lock (experiment-lock.ts;
 * ExperimentLockedError, exit 2, while another live process runs it). Each run is a new attempt
 * (executeRun), so a resumed run never mixes its steps with those of an attempt that was interrupted.
 */
export async function runBranch(opts: BranchOptions, hooks: BranchHooks = {}): Promise<BranchResult> {
  // The checkpoint folder is kept absolute, so a resume from another working directory finds it.
  const given = opts.settings && { ...opts.settings, checkpointDir: resolve(opts.settings.checkpointDir) };
  if (opts.resumeId === undefined && given) checkBranchSettings(given);
  const store = openStore(opts.dbPath);
  try {
    return await runExperimentLocked(
      store,
      {
        resumeId: opts.resumeId,
        refreshMs: opts.lockRefreshMs,
        onNotice: hooks.onNotice,
        create: () => newExperiment(store, given!).id,
        check: (id) => checkResumable(store, id, { kind: 'branch', command: 'branch', settings: given }),
        prepare: (id) => store.markRunningAsInterrupted(id),
      },
      (lock) => runHeld(store, lock, opts.dbPath, hooks),
    );
  } finally {
    store.close();
  }
}

/** Runs the experiment's unfinished runs under its lock, then writes its summary and status. */
async function runHeld(store: Store, lock: HeldLock, dbPath: string, hooks: BranchHooks): Promise<BranchResult> {
  const experiment = store.getExperiment(lock.experimentId);
  const settings = experiment.settings as unknown as BranchSettings;
  store.setExperimentStatus(experiment.id, 'running');
  const signal = AbortSignal.any([lock.lost, ...(hooks.signal ? [hooks.signal] : [])]);
  try {
    const status = await runPending(store, experiment, settings, dbPath, { ...hooks, signal });
    // The new owner writes the experiment's status and summary from now on.
    if (lock.lost.aborted) throw lostLockError(experiment.id);
    const summary = status === 'done' ? summarize(store, experiment.id, settings) : undefined;
    if (summary) store.setExperimentSummary(experiment.id, summary);
    store.setExperimentStatus(experiment.id, status);
    return { experiment: store.getExperiment(experiment.id), runs: store.runsOf(experiment.id), status, summary };
  } catch (err) {
    if (!lock.lost.aborted) store.setExperimentStatus(experiment.id, 'failed');
    throw err;
  }
}

function lostLockError(id: number): BatchlabError {
  return new BatchlabError(
    'BATCHLAB_LOCKED',
    `branch experiment ${id} stopped: another batchlab process took over its lock (this one had not refreshed it in time); it runs the rest of the experiment`,
  );
}

/** Creates the experiment, all its runs and its lock in one transaction: all of it or nothing. */
function newExperiment(store: Store, settings: BranchSettings): Experiment {
  return store.transaction(() => {
    const experiment = store.createExperiment({ kind: 'branch', settings, env: environment() });
    for (const p of branchRunPlans(settings)) {
      const spec = branchRunSpec(settings, experiment.id, p);
      const accumSteps = spec.kind === 'tfjs' ? spec.config.accumSteps : (spec.values.accum ?? 1);
      store.upsertRun({
        experimentId: experiment.id,
        key: p.key,
        batchSize: p.batchSize,
        microBatchSize: p.batchSize / accumSteps,
        accumSteps,
        seed: p.seed,
        lr: p.lr,
        settings: spec.kind === 'tfjs' ? spec.config : { ...spec.values },
      });
    }
    store.acquireExperimentLock(experiment.id);
    return experiment;
  });
}

/** Runs every unfinished run in plan order; stops when aborted. A failed base segment ends the experiment. */
async function runPending(
  store: Store,
  experiment: Experiment,
  settings: BranchSettings,
  dbPath: string,
  hooks: BranchHooks,
): Promise<'done' | 'interrupted'> {
  const plans = new Map(branchRunPlans(settings).map((p) => [p.key, p]));
  const work = (p: BranchRunPlan) => p.toSamples - p.fromSamples;
  const totalSamples = [...plans.values()].reduce((n, p) => n + work(p), 0);
  const runs = store.runsOf(experiment.id);
  let doneSamples = runs
    .filter((r) => r.status !== 'pending' && r.status !== 'running' && r.status !== 'interrupted')
    .reduce((n, r) => n + work(plans.get(r.key)!), 0);
  const pending = store.unfinishedRuns(experiment.id);
  for (const [i, run] of pending.entries()) {
    if (hooks.signal?.aborted) return 'interrupted';
    const plan = plans.get(run.key)!;
    requireCheckpointIn(store, experiment.id, settings, plan);
    hooks.onRunStart?.({ run, plan, index: runs.length - pending.length + i, total: runs.length });
    const outcome = await (hooks.execute ?? executeRun)(branchRunSpec(settings, experiment.id, plan), {
      record: { dbPath, runId: run.id },
      hooks: {
        signal: hooks.signal,
        onStep: (s) =>
          hooks.onProgress?.({
            run,
            doneSamples: doneSamples + Math.max(0, s.samples - plan.fromSamples),
            totalSamples,
            loss: s.loss,
          }),
      },
    });
    doneSamples += work(plan);
    hooks.onRunEnd?.({ run: store.getRun(run.id), outcome });
    if (outcome.status === 'interrupted') return 'interrupted';
    if (plan.kind === 'segment' && outcome.status !== 'done')
      throw new BatchlabError(
        outcome.status === 'diverged' ? 'BATCHLAB_DIVERGED' : 'BATCHLAB_CHILD_FAILED',
        `the base run (${plan.key} samples at batch ${plan.batchSize}) ${outcome.status}: ${outcome.reason.split('\n')[0]}; ${outcome.status === 'diverged' ? 'lower --lr' : 'fix the run and start again'}`,
      );
  }
  return hooks.signal?.aborted ? 'interrupted' : 'done';
}

/** A run that resumes needs its checkpoint file: a finished segment whose file is gone cannot be redone. */
function requireCheckpointIn(store: Store, experimentId: number, s: BranchSettings, p: BranchRunPlan): void {
  const from = checkpointIn(s, p);
  if (from === undefined) {
    mkdirSync(dirname(checkpointFile(s, experimentId, p.checkpoint)), { recursive: true });
    return;
  }
  const file = checkpointFile(s, experimentId, from);
  if (!existsSync(file))
    throw new UsageError(
      `the base run's checkpoint ${file} of experiment ${experimentId} is missing (removed?); its runs cannot resume without it; start a new branch experiment`,
    );
}

/** The experiment's runs as the numbers core/branch-summary.ts summarizes. */
function summarize(store: Store, experimentId: number, s: BranchSettings): BranchSummary {
  const runs = store.runsOf(experimentId);
  const plans = new Map(branchRunPlans(s).map((p) => [p.key, p]));
  const summaryOf = (r: Run) => r.summary as unknown as RunSummary;
  const done = runs.filter((r) => r.status === 'done' && r.summary);
  const trained = (r: Run) => summaryOf(r).samples - plans.get(r.key)!.fromSamples;
  const segments = done.filter((r) => plans.get(r.key)!.kind === 'segment');
  const checkpoints = s.checkpoints.map((c): CheckpointMeasurement => {
    const windows = runs.filter((r) => plans.get(r.key)!.kind === 'window' && plans.get(r.key)!.checkpoint === c);
    const segment = segments.find((r) => plans.get(r.key)!.checkpoint === c);
    return {
      samples: c,
      baseLoss: segment ? summaryOf(segment).final.test.loss : Number.NaN,
      runs: windows
        .filter((r) => r.status === 'done' || r.status === 'diverged')
        .map((r) => ({
          batchSize: r.batchSize,
          seed: r.seed,
          loss: r.status === 'done' ? summaryOf(r).final.test.loss : undefined,
        })),
      noiseSteps: windows
        .filter((r) => r.status === 'done' && r.batchSize === s.baseBatch)
        .flatMap((r) => store.stepsOf(r.id)),
    };
  });
  return summarizeBranches({
    baseBatch: s.baseBatch,
    baseLr: s.baseLr,
    lrRule: s.lrRule,
    tolerance: s.tolerance,
    maxMicroBatch: s.maxMicroBatch,
    maxBatch: s.trainCount,
    checkpoints,
    compute: {
      trainedSamples: done.reduce((n, r) => n + trained(r), 0),
      trainMs: done.reduce((n, r) => n + summaryOf(r).trainMs, 0),
      fullRunSamples: s.totalSamples,
      baseSamples: segments.reduce((n, r) => n + trained(r), 0),
      baseTrainMs: segments.reduce((n, r) => n + summaryOf(r).trainMs, 0),
    },
    seed: s.seeds[0]!,
  });
}

/** A batch-size schedule from a branch measurement, and where it came from. */
export interface ScheduleRecommendation {
  experimentId: number;
  /** True when the measurement was run for this recommendation (no stored one fitted). */
  measured: boolean;
  settings: BranchSettings;
  schedule: BranchSchedule;
}

/**
 * The batch-size warm-up of a branch measurement (core/batch-schedule.scheduleFromCriticalCurve on its
 * curve): of experiment `fromId`; else of the latest finished branch experiment of the same dataset and
 * model as `settings.base`; else it runs the measurement with `settings` first (`measure`: runBranch, or
 * the command line's runBranch with a progress line). `maxMicroBatch` re-splits
 * the schedule's batches for another memory limit (find-max's answer).
 */
export async function recommendSchedule(
  o: { dbPath: string; fromId?: number; settings: BranchSettings; maxMicroBatch?: number },
  measure: (opts: { dbPath: string; settings: BranchSettings }) => Promise<BranchResult> = (opts) => runBranch(opts),
): Promise<ScheduleRecommendation> {
  const stored = storedBranch(o.dbPath, o.fromId, o.settings.base);
  const source = stored ?? (await measure({ dbPath: o.dbPath, settings: o.settings }));
  const experiment = 'experiment' in source ? source.experiment : source;
  const settings = experiment.settings as unknown as BranchSettings;
  const summary = experiment.summary as unknown as BranchSummary | null;
  if (!summary?.points)
    throw new BatchlabError(
      'BATCHLAB_INTERRUPTED',
      `branch experiment ${experiment.id} has not finished; finish it with: batchlab branch --resume ${experiment.id}`,
    );
  const recommended = scheduleFromCriticalCurve(criticalPointsFromBranches(summary.points.map((p) => p.critical)), {
    rule: settings.lrRule,
    baseLr: settings.baseLr,
    baseBatch: settings.baseBatch,
    maxMicroBatch: o.maxMicroBatch ?? settings.maxMicroBatch,
    maxBatch: settings.trainCount,
  });
  return {
    experimentId: experiment.id,
    measured: stored === undefined,
    settings,
    schedule: { text: formatBatchSchedule(recommended.schedule), changes: recommended.changes },
  };
}

/** Branch experiment `fromId` (which must be one), or the latest finished one on the same dataset and model. */
function storedBranch(dbPath: string, fromId: number | undefined, base: TrainConfig): Experiment | undefined {
  const store = openStore(dbPath);
  try {
    if (fromId !== undefined) {
      const e = store.getExperiment(fromId);
      if (e.kind !== 'branch')
        throw new UsageError(`experiment ${fromId} is a ${e.kind}, not a branch experiment; see batchlab list`);
      return e;
    }
    const same = (e: Experiment) => {
      const b = (e.settings as unknown as BranchSettings).base;
      return (
        e.status === 'done' && b?.dataset === base.dataset && JSON.stringify(b.model) === JSON.stringify(base.model)
      );
    };
    return store.listExperiments({ kind: 'branch' }).find(same);
  } finally {
    store.close();
  }
}
