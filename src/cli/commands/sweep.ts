/** `batchlab sweep`: many batch sizes side by side, each in its own process, stored in SQLite. */
import { resolve } from 'node:path';
import { BatchSizeError, UsageError } from '../../core/errors.js';
import { LR_RULES, type LrRule } from '../../core/lr.js';
import { parseBatchList, parseBudget, parseSeeds } from '../../core/parse.js';
import { REFERENCE_SWEEP_BATCHES } from '../../core/recommend-plan.js';
import { loadDataset } from '../../data/registry.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { runSweep, type SweepOptions, type SweepResult, type SweepSettings } from '../../lab/sweep/sweep.js';
import { writeReport } from '../../report/index.js';
import { openStore } from '../../store/index.js';
import { duration, num } from '../format.js';
import type { Io } from '../io.js';
import { formatHelp, parseOptions, type OptionTable, type Parsed } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { findingLines, sweepTable } from '../render-sweep.js';
import { datasetOptionsFrom, MODEL_OPTIONS, modelSpecFrom, optimizerFrom } from './train.js';

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
    help: 'most power iterations for the top Hessian eigenvalue at the end; stops early when converged (0: off)',
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
  'retry-failed': {
    type: 'boolean',
    help: 'with --resume: also rerun the runs that failed on their own (failed, oom, diverged, over-budget, timeout)',
  },
} as const satisfies OptionTable;

export const SWEEP_HELP = formatHelp({
  command: 'sweep',
  usage: 'batchlab sweep [options]',
  description:
    'Trains the same model at many batch sizes, from the same initial weights and sample order per seed,\n' +
    'each run in its own process. Measures memory, throughput, loss noise, the gradient noise scale,\n' +
    'held-out metrics, the generalization gap and sharpness; fits memory and step time against B and,\n' +
    'with a target, the steps/examples trade-off and the critical batch. Ends with a table and the lines\n' +
    '"What this sweep shows". Ctrl-C stops cleanly; --resume ID finishes an interrupted sweep (a run stopped\n' +
    'by Ctrl-C, a full disk or a killed batchlab runs again from its start), and --resume ID --retry-failed\n' +
    'also reruns the runs that failed on their own.',
  table: SWEEP_OPTIONS,
  examples: [
    'batchlab sweep --dataset mnist --model mlp --budget epochs=2',
    'batchlab sweep --dataset mnist --model mlp --budget target=acc:0.97 --lr-rule linear --base-lr 0.05 --warmup-steps 50',
    'batchlab sweep --resume 3',
    'batchlab sweep --resume 3 --retry-failed',
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
const RESUME_FLAGS = new Set(['--resume', '--retry-failed', '--db', '--json', '--report', '--no-report']);

export async function sweepCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, SWEEP_OPTIONS, 'sweep');
  if (help) {
    io.out(SWEEP_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}" for "batchlab sweep"; see batchlab sweep --help`);
  const explicitSettings = argv.some((a) => a.startsWith('--') && !RESUME_FLAGS.has(a.split('=')[0]!));
  const settings = options.resume === undefined || explicitSettings ? sweepSettingsFrom(options) : undefined;
  const result = await runSweepWithProgress(
    { dbPath: options.db, settings, resumeId: options.resume, retryFailed: options['retry-failed'] },
    io,
    !options.json,
  );
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
  if (result.status === 'interrupted') return STOP_EXIT_CODE[result.stoppedBy ?? 'SIGINT'];
  return result.runs.every((r) => r.status === 'done') ? 0 : 1;
}

/** The signals that stop a sweep cleanly, and the exit status for each (128 + its number, as a shell reports it). */
const STOP_EXIT_CODE = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof STOP_EXIT_CODE;

/**
 * Runs the sweep with a progress line per run and a sweep-wide ETA; Ctrl-C (SIGINT) and SIGTERM (kill,
 * systemd, Docker, Slurm) stop it cleanly: the run in progress is marked interrupted; `stoppedBy` says which.
 */
export async function runSweepWithProgress(
  opts: SweepOptions,
  io: Io,
  verbose: boolean,
): Promise<SweepResult & { stoppedBy?: StopSignal }> {
  const controller = new AbortController();
  const stops = (Object.keys(STOP_EXIT_CODE) as StopSignal[]).map((sig) => [sig, () => controller.abort(sig)] as const);
  for (const [sig, stop] of stops) process.on(sig, stop);
  const startMs = performance.now();
  let progress: Progress | undefined;
  let runIndex = 0;
  let runTotal = 1;
  try {
    const result = await runSweep(opts, {
      signal: controller.signal,
      onNotice: (text) => io.err(text),
      onRunStart: ({ run, index, total, plan, backend, totalSteps }) => {
        runIndex = index;
        runTotal = total;
        if (verbose)
          io.err(
            `run ${index + 1}/${total}: B=${run.batchSize} (${plan}), lr ${num(run.lr, 3)}, seed ${run.seed}, ${num(totalSteps)} steps on ${backend}`,
          );
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
        if (verbose && run.status !== 'done')
          io.err(
            `run B=${run.batchSize} seed ${run.seed}: ${run.status}${run.reason ? ` (${run.reason.split('\n')[0]})` : ''}`,
          );
      },
    });
    return { ...result, stoppedBy: controller.signal.aborted ? (controller.signal.reason as StopSignal) : undefined };
  } finally {
    for (const [sig, stop] of stops) process.off(sig, stop);
    progress?.done();
  }
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
