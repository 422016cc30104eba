/**
 * `batchlab sweep` (and `batchlab demo`): many batch sizes side by side, each in a worker process apart from
 * batchlab (warm, N at once, or Slurm jobs), stored in SQLite.
 */
import { LR_RULES, type LrRule } from '../../core/lr.js';
import { UsageError } from '../../core/errors.js';
import { parseSeeds, replicateSeeds } from '../../core/parse.js';
import { REFERENCE_SWEEP_BATCHES } from '../../core/recommend-plan.js';
import { planSweep } from '../../lab/sweep/plan.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import {
  runSweep,
  type SweepHooks,
  type SweepLaunch,
  type SweepResult,
  type SweepOptions as SweepRequest,
  type SweepSettings,
} from '../../lab/sweep/sweep.js';
import { writeStoredReport } from '../../report/index.js';
import { type CommandInput, defineCommand } from '../command.js';
import { duration, num } from '../format.js';
import type { Io } from '../io.js';
import { LAUNCH_OPTIONS, launcherFrom } from '../launch-options.js';
import { type OptionTable, type Parsed, settingFlags } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { findingLines, sweepTables } from '../render-sweep.js';
import {
  STORE_REPORT_OPTIONS,
  CMD_ONLY,
  DATA_OPTIONS,
  MODEL_OPTIONS,
  OPTIMIZER_OPTIONS,
  RUN_OPTIONS,
  SCHEDULE_OPTIONS,
  TRAINER_ONLY,
  trainConfigFrom,
} from '../run-options.js';

export const DEFAULT_BATCH_SIZES = REFERENCE_SWEEP_BATCHES.join(',');

export const SWEEP_OPTIONS = {
  ...DATA_OPTIONS,
  ...MODEL_OPTIONS,
  ...OPTIMIZER_OPTIONS,
  ...SCHEDULE_OPTIONS,
  ...RUN_OPTIONS,
  'batch-sizes': { type: 'string', value: 'B,B,...', default: DEFAULT_BATCH_SIZES, help: 'batch sizes to compare' },
  budget: {
    type: 'string',
    value: 'SPEC',
    help: 'per run: epochs=N, steps=N, samples=N or target=acc:X|loss:X|train-loss:X (default: samples = one epoch, so every run sees the same data; train-loss trains every batch size to the same training loss)',
  },
  'max-epochs': {
    type: 'int',
    value: 'N',
    default: 10,
    onlyIf: {
      when: (o) => typeof o.budget === 'string' && o.budget.trim().startsWith('target='),
      why: 'only applies with --budget target=...; leave it out',
    },
    help: 'with a target budget: give up after N epochs (runs that never reach it are listed as such)',
  },
  'lr-rule': {
    type: 'string',
    value: 'RULE',
    default: 'sqrt',
    choices: LR_RULES,
    help: 'LR per batch size: fixed, linear (Goyal et al. 2017) or sqrt, from --base-lr at --base-batch',
  },
  'base-lr': { type: 'number', value: 'LR', default: 0.05, help: 'learning rate at the reference batch, > 0' },
  'base-batch': {
    type: 'int',
    value: 'B',
    default: 64,
    onlyIf: {
      when: (o) => o['lr-rule'] !== 'fixed',
      why: 'scales the LR by a rule, but --lr-rule fixed gives every batch --base-lr; leave it out',
    },
    help: 'the reference batch of --base-lr',
  },
  accum: { type: 'int', value: 'K', default: 1, help: 'accumulation steps for every run' },
  seeds: {
    type: 'string',
    value: 'S,S,...',
    default: '1',
    help: 'seeds; each seed runs every batch size from its own initial weights and sample order',
  },
  seed: { type: 'string', value: 'S', aliasOf: 'seeds', help: 'one seed: the same as --seeds S' },
  replicates: {
    type: 'int',
    value: 'N',
    help: 'run N seeds (1..N), the easy form of --seeds: each per-batch number becomes a mean with a 95% interval across seeds',
  },
  'noise-every': {
    type: 'count',
    value: 'N',
    default: 10,
    onlyIf: TRAINER_ONLY,
    help: 'measure the gradient noise scale every N steps (0: off)',
  },
  'sharpness-iterations': {
    type: 'count',
    value: 'N',
    default: 100,
    onlyIf: TRAINER_ONLY,
    help: 'most Hessian-vector products (Lanczos) for the top Hessian eigenvalue at the end; stops early when settled (0: off)',
  },
  cmd: {
    type: 'string',
    value: 'TEMPLATE',
    help: 'sweep your own training command instead, e.g. "python3 train.py --batch-size {batch} --accum {accum} --lr {lr} --max-steps {max_steps}" (docs/protocol.md)',
  },
  timeout: { type: 'int', value: 'SECONDS', onlyIf: CMD_ONLY, help: 'with --cmd: stop a run after this long' },
  'train-size': {
    type: 'int',
    value: 'N',
    onlyIf: CMD_ONLY,
    help: 'with --cmd: training-set size, for epochs=N budgets',
  },
  ...STORE_REPORT_OPTIONS,
  resume: {
    type: 'int',
    value: 'ID',
    control: true,
    help: 'run only the unfinished runs of sweep ID (other setting flags must match the stored ones)',
  },
  'retry-failed': {
    type: 'boolean',
    control: true,
    onlyIf: {
      when: (o) => o.resume !== undefined,
      why: 'reruns the failed runs of an earlier sweep; pass it with --resume ID',
    },
    help: 'with --resume: also rerun the runs that failed on their own (failed, oom, diverged, over-budget, timeout)',
  },
  ...LAUNCH_OPTIONS,
} as const satisfies OptionTable;

type SweepOptions = Parsed<typeof SWEEP_OPTIONS>;

/**
 * The seeds: --seeds S,S,... when given, else --replicates N (seeds 1..N, also a default of `demo`), else
 * --seeds' default. Giving both is refused.
 */
function seedsFrom(o: SweepOptions, given: ReadonlySet<string>): number[] {
  if (given.has('seeds') && given.has('replicates'))
    throw new UsageError('pass --seeds S,S,... or --replicates N, not both');
  if (!given.has('seeds') && o.replicates !== undefined) return replicateSeeds(o.replicates);
  return parseSeeds(o.seeds);
}

/** The run config every run shares, from the flags (batch size, LR, seed and budget are set per run). */
function baseFrom(o: SweepOptions): TrainConfig {
  const iterations = o['sharpness-iterations'];
  return trainConfigFrom(o, {
    batchSize: 1,
    accumSteps: o.accum,
    budget: {},
    lr: o['base-lr'],
    seed: 0,
    evalEvery: 0,
    evalTrainLimit: 10_000,
    noiseEvery: o['noise-every'],
    sharpness: iterations > 0 ? { batchSamples: 1024, iterations } : undefined,
  });
}

/** The sweep's settings from the flags (the lab reads the batch list and the budget against the data). */
function settingsFrom(o: SweepOptions, given: ReadonlySet<string>, base: TrainConfig): SweepSettings {
  return planSweep({
    base,
    batchSizes: o['batch-sizes'],
    budget: o.budget,
    maxEpochs: o['max-epochs'],
    seeds: seedsFrom(o, given),
    lrRule: o['lr-rule'] as LrRule,
    baseLr: o['base-lr'],
    baseBatch: o['base-batch'],
    command:
      o.cmd === undefined
        ? undefined
        : {
            template: o.cmd,
            timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
            trainSize: o['train-size'],
          },
  });
}

/** What the sweep command prints: the result, the store it is in, and the report it wrote. */
interface SweepRun {
  result: SweepResult;
  dbPath: string;
  reportPath?: string;
}

/** The sweep: settings from the flags unless only a resume was asked for; then the report. */
export async function runSweepCommand({ options, given, io, json, signal }: CommandInput<typeof SWEEP_OPTIONS>) {
  // On --resume, setting flags are compared with the stored settings; without any, the stored ones are used.
  const explicitSettings = options.resume === undefined || settingFlags(SWEEP_OPTIONS, given).length > 0;
  const launcher = launcherFrom(options, { dbPath: options.db });
  let result: SweepResult;
  try {
    const base = explicitSettings ? baseFrom(options) : undefined;
    // Warm workers load TF.js and the dataset while this process loads it too, to check the settings.
    if (base !== undefined && options.cmd === undefined) launcher.prepare?.(base);
    const settings = base === undefined ? undefined : settingsFrom(options, given, base);
    result = await runSweepWithProgress(
      {
        dbPath: options.db,
        settings,
        resumeId: options.resume,
        retryFailed: options['retry-failed'],
        launcher,
        timing: options.timing as SweepLaunch['timing'],
      },
      { io, verbose: !json, signal },
    );
  } finally {
    await launcher.close();
  }
  const reportPath = options['no-report']
    ? undefined
    : writeStoredReport(options.db, result.experiment.id, options.report);
  return { result, dbPath: options.db, reportPath } satisfies SweepRun;
}

/** The definition of `batchlab sweep`; `batchlab demo` is the same with other defaults. */
export function sweepSpec(defaults: Partial<Record<keyof typeof SWEEP_OPTIONS, string | number>> = {}) {
  return {
    options: withDefaults(SWEEP_OPTIONS, defaults),
    run: runSweepCommand,
    text: (r: SweepRun) => sweepReport(r.result, r.dbPath) + (r.reportPath ? `\nreport: ${r.reportPath}` : ''),
    json: (r: SweepRun) => ({
      experiment: r.result.experiment,
      runs: r.result.runs,
      summary: r.result.summary,
      reportPath: r.reportPath ?? null,
    }),
    status: (r: SweepRun) =>
      r.result.status === 'interrupted'
        ? ('interrupted' as const)
        : r.result.runs.every((run) => run.status === 'done')
          ? ('done' as const)
          : ('failed' as const),
    resume: (r: SweepRun) => resumeCommand(r.result.experiment.id, r.dbPath),
  };
}

/** A copy of `table` with other defaults (the option types stay those of the table). */
function withDefaults<T extends OptionTable>(table: T, defaults: Partial<Record<keyof T, string | number>>): T {
  const out: OptionTable = { ...table };
  for (const [flag, value] of Object.entries(defaults)) out[flag] = { ...out[flag]!, default: value };
  return out as T;
}

export const sweepCommand = defineCommand({
  name: 'sweep',
  summary: 'train at many batch sizes side by side and show what batch size does',
  description:
    'Trains the same model at many batch sizes, from the same initial weights and sample order per seed,\n' +
    'each run in a worker process of its own (kept warm from run to run; --parallel N at once, or as\n' +
    'Slurm jobs with --launcher slurm, see docs/cluster.md). Measures memory, throughput, loss noise, the\n' +
    'gradient noise scale, held-out metrics, the generalization gap and sharpness; fits memory and step\n' +
    'time against B and, with a target, the steps/examples trade-off and the critical batch. Ends with a\n' +
    'table and the lines "What this sweep shows". Ctrl-C or SIGTERM stops cleanly; --resume ID finishes\n' +
    'an interrupted sweep (a run stopped by a signal, a full disk or a killed batchlab runs again from its\n' +
    'start), and --resume ID --retry-failed also reruns the runs that failed on their own.',
  examples: [
    'batchlab sweep --dataset mnist --model mlp --budget epochs=2',
    'batchlab sweep --dataset mnist --model mlp --budget target=acc:0.97 --lr-rule linear --base-lr 0.05 --warmup-steps 50',
    'batchlab sweep --cmd "python3 train.py --batch-size {batch} --lr {lr} --max-steps {max_steps}" --budget steps=200',
    'batchlab sweep --resume 3',
    'batchlab sweep --resume 3 --retry-failed',
    'batchlab sweep --dataset mnist --model mlp --parallel 2 --timing isolated',
    'batchlab sweep --launcher slurm --slurm "--partition=gpu --gres=gpu:1 --time=01:00:00" --cmd "..." --budget steps=5000',
  ],
  ...sweepSpec(),
});

/** The command line that resumes sweep `id` in `dbPath`. */
function resumeCommand(id: number, dbPath: string): string {
  return `batchlab sweep --resume ${id}${dbPath !== 'batchlab.db' ? ` --db ${dbPath}` : ''}`;
}

/**
 * Runs the sweep with a progress line per run (one line for all when runs go at once) and a sweep-wide
 * ETA; the signal stops it cleanly.
 */
export async function runSweepWithProgress(
  opts: SweepRequest,
  out: { io: Io; verbose: boolean; signal: AbortSignal },
): Promise<SweepResult> {
  const { io, verbose } = out;
  const hooks = (opts.launcher?.slots ?? 1) > 1 ? sweepLineHooks(io, verbose) : runLineHooks(io, verbose);
  try {
    return await runSweep(opts, { ...hooks, signal: out.signal, onNotice: (text) => io.err(text) });
  } finally {
    hooks.close();
  }
}

type ProgressHooks = Omit<SweepHooks, 'signal'> & { close(): void };

/** One progress bar per run, one run at a time. */
function runLineHooks(io: Io, verbose: boolean): ProgressHooks {
  const startMs = performance.now();
  let progress: Progress | undefined;
  let runIndex = 0;
  let runTotal = 1;
  return {
    onRunStart: ({ run, index, total, plan, backend, totalSteps }) => {
      runIndex = index;
      runTotal = total;
      if (verbose) io.err(runStartLine({ run, index, total, plan, backend, totalSteps }));
      progress = createProgress({ stream: io.errStream, total: totalSteps, label: `B=${run.batchSize}` });
    },
    onStep: ({ step, loss, stepMs, run, totalSteps }) => {
      const frac = (runIndex + step / Math.max(1, totalSteps)) / runTotal;
      const elapsed = performance.now() - startMs;
      progress?.update(step, {
        loss: loss.toFixed(4),
        'samples/s': num((run.batchSize * 1000) / stepMs),
        sweep: `${Math.round(frac * 100)}% done, ${duration((elapsed * (1 - frac)) / Math.max(frac, 1e-9))} left`,
      });
    },
    onRunEnd: ({ run }) => {
      progress?.done();
      if (verbose && run.status !== 'done') io.err(runEndLine(run));
    },
    close: () => progress?.done(),
  };
}

/** Permille steps of the sweep-wide bar when runs go at once. */
const SWEEP_BAR_UNITS = 1000;

/** Runs at once: a line when each starts and ends, and one bar for the whole sweep with the runs going. */
function sweepLineHooks(io: Io, verbose: boolean): ProgressHooks {
  const going = new Map<number, { batchSize: number; step: number; totalSteps: number }>();
  // Runs done before this sweep (a resume) are the lowest index seen: with runs at once, plans arrive in
  // any order, so the first start seen need not be the first run.
  let doneBefore = Number.POSITIVE_INFINITY;
  let ended = 0;
  let total = 1;
  let progress: Progress | undefined;
  const draw = () => {
    const partial = [...going.values()].reduce((a, r) => a + r.step / Math.max(1, r.totalSteps), 0);
    const fields = { running: [...going.values()].map((r) => `B=${r.batchSize}`).join(' ') || '-' };
    const finished = (Number.isFinite(doneBefore) ? doneBefore : 0) + ended;
    progress?.update(Math.round((Math.min(total, finished + partial) / total) * SWEEP_BAR_UNITS), fields);
  };
  return {
    onRunStart: (info) => {
      total = info.total;
      doneBefore = Math.min(doneBefore, info.index);
      progress ??= createProgress({ stream: io.errStream, total: SWEEP_BAR_UNITS, label: 'sweep' });
      if (verbose) io.err(runStartLine(info));
      going.set(info.run.id, { batchSize: info.run.batchSize, step: 0, totalSteps: info.totalSteps });
    },
    onStep: ({ run, step }) => {
      const r = going.get(run.id);
      if (r) r.step = step;
      draw();
    },
    onRunEnd: ({ run }) => {
      going.delete(run.id);
      ended++;
      if (verbose) io.err(run.status === 'done' ? `run B=${run.batchSize} seed ${run.seed}: done` : runEndLine(run));
      draw();
    },
    close: () => progress?.done(),
  };
}

function runStartLine(info: Parameters<NonNullable<SweepHooks['onRunStart']>>[0]): string {
  const { run, index, total, plan, backend, totalSteps } = info;
  return `run ${index + 1}/${total}: B=${run.batchSize} (${plan}), lr ${num(run.lr, 3)}, seed ${run.seed}, ${num(totalSteps)} steps on ${backend}`;
}

function runEndLine(run: { batchSize: number; seed: number; status: string; reason: string | null }): string {
  return `run B=${run.batchSize} seed ${run.seed}: ${run.status}${run.reason ? ` (${run.reason.split('\n')[0]})` : ''}`;
}

/** Table, findings, and where the data is. */
export function sweepReport(result: SweepResult, dbPath: string): string {
  const id = result.experiment.id;
  return [
    '',
    sweepTables(result.runs, result.summary, id),
    '',
    findingLines(result.summary),
    '',
    `sweep ${id} ${result.status === 'done' ? 'finished' : 'was interrupted'} in ${duration(result.summary.wallMs)}; stored in ${dbPath}`,
    result.status === 'interrupted'
      ? `resume it with: ${resumeCommand(id, dbPath)}`
      : `see it with: batchlab show ${id}, batchlab export ${id} --format csv`,
  ].join('\n');
}
