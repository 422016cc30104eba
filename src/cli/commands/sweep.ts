/** `batchlab sweep` (and `batchlab demo`): many batch sizes side by side, each in its own process, stored in SQLite. */
import { resolve } from 'node:path';
import { LR_RULES, type LrRule } from '../../core/lr.js';
import { UsageError } from '../../core/errors.js';
import { parseSeeds, replicateSeeds } from '../../core/parse.js';
import { REFERENCE_SWEEP_BATCHES } from '../../core/recommend-plan.js';
import { planSweep } from '../../lab/sweep/plan.js';
import {
  runSweep,
  type SweepResult,
  type SweepOptions as SweepRequest,
  type SweepSettings,
} from '../../lab/sweep/sweep.js';
import { writeReport } from '../../report/index.js';
import { openStore } from '../../store/index.js';
import { type CommandInput, defineCommand } from '../command.js';
import { duration, num } from '../format.js';
import type { Io } from '../io.js';
import { type OptionTable, type Parsed, settingFlags } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { findingLines, sweepTables } from '../render-sweep.js';
import {
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
    help: 'most power iterations for the top Hessian eigenvalue at the end; stops early when converged (0: off)',
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
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', control: true, help: 'SQLite store' },
  report: {
    type: 'string',
    value: 'PATH',
    control: true,
    onlyIf: { when: (o) => o['no-report'] !== true, why: 'contradicts --no-report; pass one of them' },
    help: 'where to write the HTML report (default batchlab-report-<id>.html)',
  },
  'no-report': { type: 'boolean', control: true, help: 'do not write an HTML report' },
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

/** The sweep's settings from the flags (the lab reads the batch list and the budget against the data). */
function settingsFrom(o: SweepOptions, given: ReadonlySet<string>): SweepSettings {
  const iterations = o['sharpness-iterations'];
  const base = trainConfigFrom(o, {
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
  const settings =
    options.resume === undefined || settingFlags(SWEEP_OPTIONS, given).length > 0
      ? settingsFrom(options, given)
      : undefined;
  const result = await runSweepWithProgress(
    { dbPath: options.db, settings, resumeId: options.resume, retryFailed: options['retry-failed'] },
    { io, verbose: !json, signal },
  );
  const reportPath = options['no-report']
    ? undefined
    : writeSweepReport(options.db, result.experiment.id, options.report);
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
    'each run in its own process. Measures memory, throughput, loss noise, the gradient noise scale,\n' +
    'held-out metrics, the generalization gap and sharpness; fits memory and step time against B and,\n' +
    'with a target, the steps/examples trade-off and the critical batch. Ends with a table and the lines\n' +
    '"What this sweep shows". Ctrl-C or SIGTERM stops cleanly; --resume ID finishes an interrupted sweep (a\n' +
    'run stopped by a signal, a full disk or a killed batchlab runs again from its start), and --resume ID\n' +
    '--retry-failed also reruns the runs that failed on their own.',
  examples: [
    'batchlab sweep --dataset mnist --model mlp --budget epochs=2',
    'batchlab sweep --dataset mnist --model mlp --budget target=acc:0.97 --lr-rule linear --base-lr 0.05 --warmup-steps 50',
    'batchlab sweep --cmd "python3 train.py --batch-size {batch} --lr {lr} --max-steps {max_steps}" --budget steps=200',
    'batchlab sweep --resume 3',
    'batchlab sweep --resume 3 --retry-failed',
  ],
  ...sweepSpec(),
});

/** The command line that resumes sweep `id` in `dbPath`. */
function resumeCommand(id: number, dbPath: string): string {
  return `batchlab sweep --resume ${id}${dbPath !== 'batchlab.db' ? ` --db ${dbPath}` : ''}`;
}

/** Runs the sweep with a progress line per run and a sweep-wide ETA; the signal stops it cleanly. */
export async function runSweepWithProgress(
  opts: SweepRequest,
  out: { io: Io; verbose: boolean; signal: AbortSignal },
): Promise<SweepResult> {
  const { io, verbose } = out;
  const startMs = performance.now();
  let progress: Progress | undefined;
  let runIndex = 0;
  let runTotal = 1;
  try {
    return await runSweep(opts, {
      signal: out.signal,
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
  } finally {
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
