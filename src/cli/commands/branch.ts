/**
 * `batchlab branch`: the critical batch measured directly at checkpoints of a run (Merrill et al. 2025),
 * next to B_simple at the same checkpoints, and the batch-size warm-up it recommends (lab/branch).
 */
import type { BranchSummary } from '../../core/branch-summary.js';
import { DEFAULT_BRANCH_TOLERANCE } from '../../core/critical-batch.js';
import { UsageError } from '../../core/errors.js';
import { defaultLrRule, LR_RULES, type LrRule } from '../../core/lr.js';
import { parseBatchList } from '../../core/parse.js';
import { loadDataset } from '../../data/registry.js';
import {
  type BranchResult,
  type BranchSettings,
  branchRunPlans,
  branchSettings,
  checkBranchSettings,
  DEFAULT_BRANCH_MULTIPLIERS,
  runBranch,
} from '../../lab/branch/branch.js';
import { defineCommand } from '../command.js';
import { duration, num, table } from '../format.js';
import type { Io } from '../io.js';
import { type OptionTable, type Parsed, settingFlags } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { CMD_ONLY, MODEL_RUN_OPTIONS, SCHEDULE_OPTIONS, trainConfigFrom } from '../run-options.js';

export const BRANCH_OPTIONS = {
  ...MODEL_RUN_OPTIONS,
  'warmup-steps': SCHEDULE_OPTIONS['warmup-steps'],
  'batch-size': {
    type: 'int',
    value: 'B',
    default: 32,
    code: 'BATCHLAB_BAD_BATCH_SIZE',
    help: "the base run's batch (small: the branches go up from it)",
  },
  lr: { type: 'number', value: 'LR', default: 0.05, help: 'learning rate at the base batch' },
  samples: {
    type: 'int',
    value: 'N',
    help: 'length of the full base run the checkpoints are placed in (default: one epoch)',
  },
  checkpoints: {
    type: 'string',
    value: 'N,N,...',
    help: 'samples seen at each checkpoint (default: 6 geometric ones, 1/64 .. 1/2 of the run, multiples of the base batch)',
  },
  window: {
    type: 'int',
    value: 'N',
    help: 'samples every run trains after its checkpoint (default: 1/16 of the run, whole steps of the largest branch)',
  },
  'branch-batches': {
    type: 'string',
    value: 'B,B,...',
    help: `batches of the branches (default: ${DEFAULT_BRANCH_MULTIPLIERS.join(', ')} x the base batch)`,
  },
  seeds: {
    type: 'int',
    value: 'K',
    default: 3,
    help: "seeds per window (the first is the base run's); paired by seed",
  },
  'lr-rule': {
    type: 'string',
    value: 'RULE',
    choices: LR_RULES,
    help: 'how a branch scales the LR (default: linear for sgd/momentum, sqrt for adam)',
  },
  tolerance: {
    type: 'number',
    value: 'X',
    default: DEFAULT_BRANCH_TOLERANCE,
    help: 'a branch counts as good as the base run while its held-out loss after the window is at most X (relative) above it',
  },
  'max-micro-batch': {
    type: 'int',
    value: 'N',
    help: 'largest micro-batch (e.g. from find-max): larger batches accumulate; also splits the recommended schedule',
  },
  'checkpoint-dir': {
    type: 'string',
    value: 'PATH',
    default: 'batchlab-checkpoints',
    help: "where the base run's checkpoints go (a folder per experiment)",
  },
  cmd: {
    type: 'string',
    value: 'TEMPLATE',
    help: 'branch your own training command; it must honour {checkpoint_in} and {checkpoint_out} (docs/protocol.md)',
  },
  timeout: { type: 'int', value: 'SECONDS', onlyIf: CMD_ONLY, help: 'with --cmd: stop a run after this long' },
  'train-size': {
    type: 'int',
    value: 'N',
    onlyIf: CMD_ONLY,
    help: 'with --cmd: training-set size (the largest batch; default --samples)',
  },
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', control: true, help: 'SQLite store' },
  resume: {
    type: 'int',
    value: 'ID',
    control: true,
    help: 'run only the unfinished runs of branch experiment ID (other setting flags must match the stored ones)',
  },
} as const satisfies OptionTable;

type BranchOptions = Parsed<typeof BRANCH_OPTIONS>;

/** A comma-separated list of positive integers, or undefined. */
function intList(text: string | undefined, flag: string): number[] | undefined {
  if (text === undefined) return undefined;
  return parseBatchList(text, Number.MAX_SAFE_INTEGER).map((n) => {
    if (!Number.isInteger(n)) throw new UsageError(`--${flag} takes whole numbers, got "${text}"`);
    return n;
  });
}

/** The experiment's settings from the command line (loads the dataset once for its size). */
export function branchSettingsFrom(o: BranchOptions): BranchSettings {
  // The base run's config; batch, LR, budget and checkpoints are set per run.
  const base = trainConfigFrom(o, {
    ...(o.cmd !== undefined && { dataset: 'external', datasetOptions: {} }),
    batchSize: o['batch-size'],
    budget: {},
    lr: o.lr,
    evalEvery: 0,
    evalTrainLimit: 2_000,
  });
  if (o.cmd !== undefined && o.samples === undefined)
    throw new UsageError('with --cmd, pass --samples N (the length of the full run): batchlab cannot see your data');
  const trainCount =
    o.cmd !== undefined ? (o['train-size'] ?? o.samples!) : loadDataset(base.dataset, base.datasetOptions).train.count;
  const settings = branchSettings({
    base,
    trainCount,
    ...(o.samples !== undefined && { totalSamples: o.samples }),
    ...(o.window !== undefined && { windowSamples: o.window }),
    ...(o['branch-batches'] !== undefined && { branchBatches: intList(o['branch-batches'], 'branch-batches') }),
    ...(o['max-micro-batch'] !== undefined && { maxMicroBatch: o['max-micro-batch'] }),
    lrRule: (o['lr-rule'] as LrRule | undefined) ?? defaultLrRule(o.cmd === undefined ? o.optimizer : undefined),
    seeds: Array.from({ length: o.seeds }, (_, i) => o.seed + i),
    tolerance: o.tolerance,
    checkpointDir: o['checkpoint-dir'],
    ...(o.cmd !== undefined && {
      command: { template: o.cmd, timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000 },
    }),
  });
  const checkpoints = intList(o.checkpoints, 'checkpoints');
  return checkpoints ? { ...settings, checkpoints } : settings;
}

export const branchCommand = defineCommand({
  name: 'branch',
  summary: 'the critical batch over training, measured by branching at checkpoints, next to B_simple',
  description:
    'Measures the critical batch directly at checkpoints of a run (Merrill et al. 2025, "Critical Batch Size\n' +
    'Revisited"): trains a base run at a small batch, and from each checkpoint branches runs at 2x, 4x, ... the\n' +
    'batch (LR scaled by --lr-rule), each for the same --window of samples, over --seeds seeds (paired with the\n' +
    "base run's continuation of the same seed). The critical batch there is the largest branch whose held-out\n" +
    'loss after the window stays within --tolerance of the base run\'s (a paired t interval; "cannot tell" when\n' +
    'the noise decides). Prints the curve next to B_simple measured over the same windows, whether the noise\n' +
    'scale tracks it, the batch-size warm-up it recommends (reason per change), and what the measurement cost\n' +
    'against one full base run. Ctrl-C or SIGTERM stops cleanly; --resume ID finishes it. `batchlab report ID` draws it.',
  options: BRANCH_OPTIONS,
  examples: [
    'batchlab branch --dataset mnist --model mlp --batch-size 32 --lr 0.05',
    'batchlab branch --dataset mnist --batch-size 32 --checkpoints 1000,4000,16000 --window 4096 --seeds 2',
    'batchlab branch --cmd "/usr/bin/python3 examples/pytorch/train.py --batch-size {batch} --accum {accum} --lr {lr} --max-steps {max_steps} --seed {seed} --checkpoint-in {checkpoint_in} --checkpoint-out {checkpoint_out}" --samples 60000 --lr 0.1',
  ],
  run: async ({ options: o, given, io, json, signal }) => {
    if (o.tolerance < 0) throw new UsageError(`--tolerance must be >= 0, got ${o.tolerance}; pass e.g. 0.01`);
    // On --resume, setting flags are compared with the stored settings; without any, the stored ones are used.
    const settings =
      o.resume === undefined || settingFlags(BRANCH_OPTIONS, given).length > 0 ? branchSettingsFrom(o) : undefined;
    if (settings) checkBranchSettings(settings); // before the plan is printed
    const result = await runBranchWithProgress({ dbPath: o.db, settings, resumeId: o.resume }, io, {
      verbose: !json,
      signal,
    });
    return { result, dbPath: o.db };
  },
  text: ({ result, dbPath }) => branchReport(result, dbPath),
  json: ({ result }) => ({ experiment: result.experiment, summary: result.summary ?? null }),
  status: ({ result }) => (result.status === 'interrupted' ? 'interrupted' : 'done'),
  resume: ({ result, dbPath }) =>
    `batchlab branch --resume ${result.experiment.id}${dbPath !== 'batchlab.db' ? ` --db ${dbPath}` : ''}`,
});

/** Runs the experiment with one progress line over all its samples (with an ETA); Ctrl-C stops cleanly. */
export async function runBranchWithProgress(
  opts: { dbPath: string; settings?: BranchSettings; resumeId?: number },
  io: Io,
  { verbose, signal }: { verbose: boolean; signal: AbortSignal },
): Promise<BranchResult> {
  let progress: Progress | undefined;
  try {
    if (verbose && opts.settings) io.err(planText(opts.settings));
    return await runBranch(opts, {
      signal,
      onNotice: (text) => io.err(text),
      onProgress: ({ run, doneSamples, totalSamples, loss }) => {
        if (!verbose) return;
        progress ??= createProgress({ stream: io.errStream, total: totalSamples, label: 'branch (samples)' });
        progress.update(doneSamples, { run: run.key, loss: loss.toFixed(4) });
      },
      onRunEnd: ({ run }) => {
        if (!verbose || run.status === 'done') return;
        progress?.done(); // ends the progress line, which the next update redraws below
        io.err(`run ${run.key}: ${run.status}${run.reason ? ` (${run.reason.split('\n')[0]})` : ''}`);
      },
    });
  } finally {
    progress?.done();
  }
}

/** What is about to run: the base run, the checkpoints, the windows, the branches, the runs. */
function planText(s: BranchSettings): string {
  const runs = branchRunPlans(s).length;
  return [
    `base run at B = ${s.baseBatch}, LR ${num(s.baseLr)}, over ${num(s.totalSamples)} samples; checkpoints at ${s.checkpoints.map((c) => num(c)).join(', ')} samples`,
    `windows of ${num(s.windowSamples)} samples at B = ${[s.baseBatch, ...s.branchBatches].join(', ')} (LR by the ${s.lrRule} rule), ${s.seeds.length} seed${s.seeds.length === 1 ? '' : 's'} each: ${runs} runs`,
  ].join('\n');
}

/** The curve as a table, the findings, the schedule with its reasons, and where the data is. */
export function branchReport(result: BranchResult, dbPath: string): string {
  const id = result.experiment.id;
  const db = dbPath !== 'batchlab.db' ? ` --db ${dbPath}` : '';
  // Interrupted: the command's exit says how to resume.
  if (!result.summary) return `\nbranch experiment ${id} was interrupted before its last run`;
  return [
    '',
    branchTable(result.summary),
    '',
    ...branchLines(result.summary),
    '',
    `stored as experiment ${id} in ${dbPath}; draw it with: batchlab report ${id}${db}`,
  ].join('\n');
}

/** One row per checkpoint: samples, base loss, the critical batch (or its range) and B_simple. */
export function branchTable(s: BranchSummary): string {
  const range = (low: number, high: number) => (Number.isFinite(high) ? `${low}..${high}` : `>= ${low}`);
  return table(
    ['samples', 'base loss', 'critical batch', 'range', 'B_simple', 'B_simple CI'],
    s.points.map((p) => [
      p.samples,
      num(p.baseLoss, 4),
      p.critical.status === 'measured' ? String(p.critical.criticalBatch) : p.critical.status,
      range(p.critical.low, p.critical.high),
      p.noise.bSimple === undefined ? '-' : num(p.noise.bSimple),
      p.noise.bSimple === undefined
        ? p.noise.status
        : `${num(p.noise.low)}..${p.noise.high === undefined ? 'unbounded' : num(p.noise.high)}`,
    ]),
  );
}

/** The finding lines: each checkpoint, the proxy, the schedule with a reason per change, the compute. */
export function branchLines(s: BranchSummary): string[] {
  return [
    ...s.points.map((p) => p.critical.text),
    s.proxy.text,
    `recommended batch-size schedule: --batch-schedule "${s.schedule.text}"`,
    ...s.schedule.changes.map((c) => `  ${c.reason}`),
    s.compute.text,
    `(${duration(s.compute.trainMs)} of training in all)`,
  ];
}
