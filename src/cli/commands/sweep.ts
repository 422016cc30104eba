/** `batchlab sweep`: many batch sizes side by side, each in its own process, stored in SQLite. */
import { resolve } from 'node:path';
import { BatchSizeError, UsageError } from '../../core/errors.js';
import { LR_RULES, type LrRule } from '../../core/lr.js';
import { parseBatchList, parseBudget, parseSeeds } from '../../core/parse.js';
import { REFERENCE_SWEEP_BATCHES } from '../../core/recommend-plan.js';
import { loadDataset } from '../../data/registry.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { Launcher } from '../../lab/launch/launcher.js';
import {
  runSweep,
  type SweepHooks,
  type SweepLaunch,
  type SweepResult,
  type SweepSettings,
} from '../../lab/sweep/sweep.js';
import { writeReport } from '../../report/index.js';
import { openStore } from '../../store/index.js';
import { duration, num } from '../format.js';
import type { Io } from '../io.js';
import { formatHelp, parseOptions, type OptionTable, type Parsed } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { findingLines, sweepTable } from '../render-sweep.js';
import { datasetOptionsFrom, MODEL_OPTIONS, modelSpecFrom, optimizerFrom } from './train.js';
import { LAUNCH_FLAGS, LAUNCH_OPTIONS, launcherFrom } from '../launch-options.js';

export const DEFAULT_BATCH_SIZES = REFERENCE_SWEEP_BATCHES.join(',');

export const SWEEP_OPTIONS = {
  ...MODEL_OPTIONS,
  'batch-sizes': { type: 'string', value: 'B,B,...', default: DEFAULT_BATCH_SIZES, help: 'batch sizes to compare' },
  budget: {
    type: 'string',
    value: 'SPEC',
    help: 'per run: epochs=N, steps=N, samples=N or target=acc:X|loss:X (default: samples = one epoch, so every run sees the same data)',
  },
  'max-epochs': { type: 'int', value: 'N', default: 10, help: 'with a target budget: give up after N epochs' },
  'lr-rule': {
    type: 'string',
    value: 'RULE',
    default: 'sqrt',
    choices: LR_RULES,
    help: 'LR per batch size: fixed, linear (Goyal et al. 2017) or sqrt, from --base-lr at --base-batch',
  },
  'base-lr': { type: 'number', value: 'LR', default: 0.05, help: 'learning rate at the reference batch' },
  'base-batch': { type: 'int', value: 'B', default: 64, help: 'the reference batch of --base-lr' },
  accum: { type: 'int', value: 'K', default: 1, help: 'accumulation steps for every run' },
  seeds: {
    type: 'string',
    value: 'S,S,...',
    default: '1',
    help: 'seeds; each seed runs every batch size from the same initial weights',
  },
  'noise-every': {
    type: 'count',
    value: 'N',
    default: 10,
    help: 'measure the gradient noise scale every N steps (0: off)',
  },
  'sharpness-iterations': {
    type: 'count',
    value: 'N',
    default: 100,
    help: 'most Hessian-vector products (Lanczos) for the top Hessian eigenvalue at the end; stops early when settled (0: off)',
  },
  cmd: {
    type: 'string',
    value: 'TEMPLATE',
    help: 'sweep your own training command instead, e.g. "python3 train.py --batch-size {batch} --accum {accum} --lr {lr} --max-steps {max_steps}" (docs/protocol.md)',
  },
  timeout: { type: 'int', value: 'SECONDS', help: 'with --cmd: stop a run after this long' },
  'train-size': { type: 'int', value: 'N', help: 'with --cmd: training-set size, for epochs=N budgets' },
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', help: 'SQLite store' },
  report: { type: 'string', value: 'PATH', help: 'where to write the HTML report (default batchlab-report-<id>.html)' },
  'no-report': { type: 'boolean', help: 'do not write an HTML report' },
  resume: { type: 'int', value: 'ID', help: 'run only the unfinished runs of sweep ID' },
  ...LAUNCH_OPTIONS,
} as const satisfies OptionTable;

export const SWEEP_HELP = formatHelp({
  command: 'sweep',
  usage: 'batchlab sweep [options]',
  description:
    'Trains the same model at many batch sizes, from the same initial weights and sample order per seed,\n' +
    'each run in a worker process of its own (kept warm from run to run; --parallel N at once, or as\n' +
    'Slurm jobs with --launcher slurm, see docs/cluster.md). Measures memory, throughput, loss noise, the\n' +
    'gradient noise scale, held-out metrics, the generalization gap and sharpness; fits memory and step\n' +
    'time against B and, with a target, the steps/examples trade-off and the critical batch. Ends with a\n' +
    'table and the lines "What this sweep shows". Ctrl-C stops cleanly; --resume ID finishes an\n' +
    'interrupted sweep.',
  table: SWEEP_OPTIONS,
  examples: [
    'batchlab sweep --dataset mnist --model mlp --budget epochs=2',
    'batchlab sweep --dataset mnist --model mlp --budget target=acc:0.97 --lr-rule linear --base-lr 0.05 --warmup-steps 50',
    'batchlab sweep --resume 3',
    'batchlab sweep --dataset mnist --model mlp --parallel 2 --timing isolated',
    'batchlab sweep --launcher slurm --slurm "--partition=gpu --gres=gpu:1 --time=01:00:00" --cmd "..." --budget steps=5000',
  ],
});

/** The settings of a `--cmd` sweep: no dataset is loaded; the command reads its own data. */
function commandSweepSettings(o: Parsed<typeof SWEEP_OPTIONS>): SweepSettings {
  const trainCount = o['train-size'] ?? Number.MAX_SAFE_INTEGER;
  if (o.budget === undefined || (/^epochs=/.test(o.budget) && o['train-size'] === undefined)) {
    throw new UsageError(
      'with --cmd, pass --budget steps=N or samples=N (epochs=N also needs --train-size N): batchlab cannot see the size of your data',
    );
  }
  const budget = parseBudget(o.budget, { trainCount, maxEpochs: o['max-epochs'], task: 'classification' });
  if (budget.kind === 'target')
    throw new UsageError("target budgets need batchlab's own trainer; with --cmd use --budget steps=N or samples=N");
  const batchSizes = parseBatchList(o['batch-sizes'], trainCount);
  for (const b of batchSizes)
    if (b % o.accum !== 0)
      throw new BatchSizeError(
        `batch size ${b} is not divisible by --accum ${o.accum}; pick batch sizes that are multiples of it`,
      );
  const base = { ...baseConfig(o), dataset: 'external', datasetOptions: {}, sharpness: undefined };
  return {
    base,
    batchSizes,
    seeds: parseSeeds(o.seeds),
    lrRule: o['lr-rule'] as LrRule,
    baseLr: o['base-lr'],
    baseBatch: o['base-batch'],
    budget,
    trainCount,
    command: { template: o.cmd!, timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000 },
  };
}

/** The run config every run shares, from the command line. */
function baseConfig(o: Parsed<typeof SWEEP_OPTIONS>): TrainConfig {
  const iterations = o['sharpness-iterations'];
  return {
    dataset: o.dataset,
    datasetOptions: datasetOptionsFrom(o),
    model: modelSpecFrom(o),
    batchSize: 1,
    accumSteps: o.accum,
    budget: {},
    lastBatch: o['last-batch'] as 'keep' | 'drop',
    optimizer: optimizerFrom(o),
    lr: o['base-lr'],
    schedule: o.schedule as TrainConfig['schedule'],
    warmupSteps: o['warmup-steps'],
    lrStepEvery: o['lr-step-every'],
    lrGamma: o['lr-gamma'],
    seed: 0,
    backend: o.backend,
    evalEvery: 0,
    evalTrainLimit: 10_000,
    noiseEvery: o['noise-every'],
    sharpness: iterations > 0 ? { batchSamples: 1024, iterations } : undefined,
  };
}

/** The sweep's settings from the command line (loads the dataset once to check sizes and the task). */
export function sweepSettingsFrom(o: Parsed<typeof SWEEP_OPTIONS>): SweepSettings {
  if (o.cmd !== undefined) return commandSweepSettings(o);
  const data = loadDataset(o.dataset, datasetOptionsFrom(o));
  const batchSizes = parseBatchList(o['batch-sizes'], data.train.count);
  const budget = parseBudget(o.budget, { trainCount: data.train.count, maxEpochs: o['max-epochs'], task: data.task });
  const base = baseConfig(o);
  return {
    base,
    batchSizes,
    seeds: parseSeeds(o.seeds),
    lrRule: o['lr-rule'] as LrRule,
    baseLr: o['base-lr'],
    baseBatch: o['base-batch'],
    budget,
    trainCount: data.train.count,
  };
}

/** Flags that only say where and what to resume; any other flag on a resume is compared with the stored settings. */
const RESUME_FLAGS = new Set(['--resume', '--db', '--json', '--report', '--no-report', ...LAUNCH_FLAGS]);

export async function sweepCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, SWEEP_OPTIONS, 'sweep');
  if (help) {
    io.out(SWEEP_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}" for "batchlab sweep"; see batchlab sweep --help`);
  const explicitSettings = argv.some((a) => a.startsWith('--') && !RESUME_FLAGS.has(a.split('=')[0]!));
  const launcher = launcherFrom(options, { dbPath: options.db, command: options.cmd !== undefined });
  let result: SweepResult;
  try {
    // Warm workers load TF.js and the dataset while this process loads it too, to check the settings.
    if (options.cmd === undefined && (options.resume === undefined || explicitSettings))
      launcher.prepare?.({
        dataset: options.dataset,
        datasetOptions: datasetOptionsFrom(options),
        backend: options.backend,
        model: modelSpecFrom(options),
      });
    const settings = options.resume === undefined || explicitSettings ? sweepSettingsFrom(options) : undefined;
    result = await runSweepWithProgress(
      {
        dbPath: options.db,
        settings,
        resumeId: options.resume,
        launcher,
        timing: options.timing as SweepLaunch['timing'],
      },
      io,
      !options.json,
    );
  } finally {
    await launcher.close();
  }
  const reportPath = options['no-report']
    ? undefined
    : writeSweepReport(options.db, result.experiment.id, options.report);
  if (options.json)
    io.out(
      JSON.stringify(
        { experiment: result.experiment, runs: result.runs, summary: result.summary, reportPath: reportPath ?? null },
        null,
        2,
      ),
    );
  else io.out(sweepReport(result, options.db) + (reportPath ? `\nreport: ${reportPath}` : ''));
  return result.status === 'interrupted' ? 130 : result.runs.every((r) => r.status === 'done') ? 0 : 1;
}

/** Runs the sweep with a progress line per run (one line for all when runs go at once) and a sweep-wide ETA; Ctrl-C or SIGTERM stops cleanly. */
export async function runSweepWithProgress(
  opts: { dbPath: string; settings?: SweepSettings; resumeId?: number; launcher?: Launcher } & SweepLaunch,
  io: Io,
  verbose: boolean,
): Promise<SweepResult> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const hooks = (opts.launcher?.slots ?? 1) > 1 ? sweepLineHooks(io, verbose) : runLineHooks(io, verbose);
  try {
    return await runSweep(opts, { ...hooks, signal: controller.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
  let finished = 0;
  let total = 1;
  let progress: Progress | undefined;
  const draw = () => {
    const partial = [...going.values()].reduce((a, r) => a + r.step / Math.max(1, r.totalSteps), 0);
    const fields = { running: [...going.values()].map((r) => `B=${r.batchSize}`).join(' ') || '-' };
    progress?.update(Math.round(((finished + partial) / total) * SWEEP_BAR_UNITS), fields);
  };
  return {
    onRunStart: (info) => {
      total = info.total;
      finished = Math.max(finished, info.index - going.size);
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
      finished++;
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

/** Writes the experiment's HTML report; returns its absolute path. */
function writeSweepReport(dbPath: string, id: number, path: string | undefined): string {
  const out = resolve(path ?? `batchlab-report-${id}.html`);
  const store = openStore(dbPath, { readonly: true });
  try {
    writeReport(store, id, out);
  } finally {
    store.close();
  }
  return out;
}

/** Table, findings, and where the data is. */
export function sweepReport(result: SweepResult, dbPath: string): string {
  const id = result.experiment.id;
  return [
    '',
    sweepTable(result.runs),
    '',
    findingLines(result.summary),
    '',
    `sweep ${id} ${result.status === 'done' ? 'finished' : 'was interrupted'} in ${duration(result.summary.wallMs)}; stored in ${dbPath}`,
    result.status === 'interrupted'
      ? `resume it with: batchlab sweep --resume ${id}${dbPath !== 'batchlab.db' ? ` --db ${dbPath}` : ''}`
      : `see it with: batchlab show ${id}, batchlab export ${id} --format csv`,
  ].join('\n');
}
