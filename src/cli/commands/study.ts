/** `batchlab study`: steps to a target with the LR searched per batch size, the fitted B_crit, stored in SQLite. */
import { UsageError } from '../../core/errors.js';
import { LR_RULES, type LrRule } from '../../core/lr.js';
import { parseBatchList, parseTarget } from '../../core/parse.js';
import { checkLearningRate } from '../../core/run-checks.js';
import { DEFAULT_STUDY_EVAL_SAMPLES, STUDY_DEFAULTS, studyStepsAt, type StudySummary } from '../../core/study-plan.js';
import { loadDataset } from '../../data/registry.js';
import { runStudy, type StudyResult, type StudySettings } from '../../lab/study/study.js';
import { writeStoredReport } from '../../report/index.js';
import { type CommandInput, defineCommand } from '../command.js';
import { duration, num, table } from '../format.js';
import type { Io } from '../io.js';
import { type OptionTable, type Parsed, settingFlags } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import {
  STORE_REPORT_OPTIONS,
  DATA_OPTIONS,
  MODEL_OPTIONS,
  OPTIMIZER_OPTIONS,
  RUN_OPTIONS,
  SCHEDULE_OPTIONS,
  SEED_OPTION,
  trainConfigFrom,
} from '../run-options.js';
import { DEFAULT_BATCH_SIZES } from './sweep.js';

export const STUDY_OPTIONS = {
  ...DATA_OPTIONS,
  ...MODEL_OPTIONS,
  ...OPTIMIZER_OPTIONS,
  ...SCHEDULE_OPTIONS,
  ...SEED_OPTION,
  ...RUN_OPTIONS,
  target: {
    type: 'string',
    value: 'acc:X|loss:X',
    help: 'the target every trial runs to: held-out accuracy >= X or loss <= X (required for a new study)',
  },
  'batch-sizes': { type: 'string', value: 'B,B,...', default: DEFAULT_BATCH_SIZES, help: 'batch sizes (3 or more)' },
  'lr-grid': {
    type: 'int',
    value: 'N',
    default: STUDY_DEFAULTS.gridPoints,
    help: 'LRs in the first grid at each batch size, a factor 2 apart around the scaled LR (widened when the best is at an edge)',
  },
  'lr-widen': {
    type: 'count',
    value: 'N',
    default: STUDY_DEFAULTS.widenLimit,
    help: 'most grid steps added beyond the first grid on each side',
  },
  seeds: {
    type: 'int',
    value: 'K',
    default: 1,
    help: 'seeds --seed .. --seed+K-1: the first searches the LR, the others rerun the best LR (unbiased points)',
  },
  'lr-rule': {
    type: 'string',
    value: 'RULE',
    default: STUDY_DEFAULTS.lrRule,
    choices: LR_RULES,
    help: 'the grid centre at each B: fixed, linear or sqrt from --base-lr at --base-batch',
  },
  'base-lr': { type: 'number', value: 'LR', default: 0.05, help: 'learning rate at the reference batch' },
  'base-batch': {
    type: 'int',
    value: 'B',
    default: STUDY_DEFAULTS.baseBatch,
    help: 'the reference batch of --base-lr',
  },
  'max-epochs': {
    type: 'int',
    value: 'N',
    default: STUDY_DEFAULTS.maxEpochs,
    help: 'a trial that has not reached the target after N epochs gives up',
  },
  'evals-per-epoch': {
    type: 'int',
    value: 'N',
    default: STUDY_DEFAULTS.evalsPerEpoch,
    help: 'held-out evaluations per epoch (the resolution of steps to target)',
  },
  'eval-samples': {
    type: 'int',
    value: 'N',
    default: DEFAULT_STUDY_EVAL_SAMPLES,
    help: 'held-out samples each evaluation uses (the same ones every time)',
  },
  ...STORE_REPORT_OPTIONS,
  resume: {
    type: 'int',
    value: 'ID',
    control: true,
    help: 'continue study ID where it stopped (its stored trials are replayed; other setting flags must match)',
  },
} as const satisfies OptionTable;

type StudyParsed = Parsed<typeof STUDY_OPTIONS>;

/** The study's settings from the command line (loads the dataset once for its size and task). */
export function studySettingsFrom(o: StudyParsed): StudySettings {
  if (o.target === undefined)
    throw new UsageError('a study runs every trial to a target; pass --target acc:0.97 (or --target loss:0.1)');
  const target = parseTarget(o.target)!;
  const data = loadDataset(o.dataset, trainConfigFrom(o).datasetOptions);
  if (target.metric === 'accuracy' && data.task !== 'classification')
    throw new UsageError(`--target ${o.target} needs accuracy, but ${o.dataset} is ${data.task}; pass --target loss:X`);
  checkLearningRate(o['base-lr'], '--base-lr');
  return {
    base: trainConfigFrom(o, {
      batchSize: 1,
      budget: {},
      lastBatch: 'drop',
      lr: o['base-lr'],
      evalEvery: 0,
      evalTrainLimit: 2000,
    }),
    batchSizes: parseBatchList(o['batch-sizes'], data.train.count),
    seeds: Array.from({ length: o.seeds }, (_, i) => o.seed + i),
    lrRule: o['lr-rule'] as LrRule,
    baseLr: o['base-lr'],
    baseBatch: o['base-batch'],
    target,
    maxEpochs: o['max-epochs'],
    gridPoints: o['lr-grid'],
    gridRatio: STUDY_DEFAULTS.gridRatio,
    widenLimit: o['lr-widen'],
    trainCount: data.train.count,
    evalsPerEpoch: o['evals-per-epoch'],
    evalSamples: o['eval-samples'],
  };
}

/** What the study command prints: the result, the store it is in, and the report it wrote. */
interface StudyRun {
  result: StudyResult;
  dbPath: string;
  reportPath?: string;
}

/** The study: settings from the flags unless only a resume was asked for; then the report. */
async function runStudyCommand({ options, given, io, json, signal }: CommandInput<typeof STUDY_OPTIONS>) {
  // On --resume, setting flags are compared with the stored settings; without any, the stored ones are used.
  const settings =
    options.resume === undefined || settingFlags(STUDY_OPTIONS, given).length > 0
      ? studySettingsFrom(options)
      : undefined;
  const result = await runStudyWithProgress(
    { dbPath: options.db, settings, resumeId: options.resume },
    { io, verbose: !json, signal },
  );
  const reportPath = options['no-report']
    ? undefined
    : writeStoredReport(options.db, result.experiment.id, options.report);
  return { result, dbPath: options.db, reportPath } satisfies StudyRun;
}

export const studyCommand = defineCommand({
  name: 'study',
  summary: 'steps to a target with the LR tuned per batch size: the measured critical batch B_crit',
  usage: 'batchlab study --target acc:X|loss:X [options]',
  description:
    'Measures the critical batch size the way Shallue et al. 2018 and McCandlish et al. 2018 do: at every\n' +
    'batch size, steps to the target at the best LR of a search (a grid around the scaled LR, widened at an\n' +
    'edge; trials that have used more steps than the best so far are stopped early), then the fit\n' +
    'S(B) = S_min (1 + B_crit / B) with a bootstrap interval, its regions, and the best LR against B.\n' +
    'Every trial is a run in the store; Ctrl-C or SIGTERM stops cleanly and --resume ID continues.',
  options: STUDY_OPTIONS,
  examples: [
    'batchlab study --dataset mnist --model mlp --target acc:0.97',
    'batchlab study --dataset mnist --model mlp --target acc:0.97 --batch-sizes 32,128,512 --seeds 3',
    'batchlab study --resume 4',
  ],
  run: runStudyCommand,
  text: (r: StudyRun) => studyReport(r.result, r.dbPath) + (r.reportPath ? `\nreport: ${r.reportPath}` : ''),
  json: (r: StudyRun) => ({
    experiment: r.result.experiment,
    summary: r.result.summary,
    reportPath: r.reportPath ?? null,
  }),
  status: (r: StudyRun) => (r.result.status === 'interrupted' ? 'interrupted' : 'done'),
  resume: (r: StudyRun) => resumeCommand(r.result.experiment.id, r.dbPath),
});

/** The command line that resumes study `id` in `dbPath`. */
function resumeCommand(id: number, dbPath: string): string {
  return `batchlab study --resume ${id}${dbPath !== 'batchlab.db' ? ` --db ${dbPath}` : ''}`;
}

/** Runs the study with a line per trial, a progress bar per trial and an ETA over the whole study; Ctrl-C stops cleanly. */
export async function runStudyWithProgress(
  opts: { dbPath: string; settings?: StudySettings; resumeId?: number },
  out: { io: Io; verbose: boolean; signal: AbortSignal },
): Promise<StudyResult> {
  const { io, verbose } = out;
  const eta = studyEta();
  let progress: Progress | undefined;
  try {
    return await runStudy(opts, {
      signal: out.signal,
      onTrialStart: ({ batchSize, plan, trialNumber, expectedTotal }) => {
        eta.trial(trialNumber, expectedTotal);
        if (verbose)
          io.err(
            `trial ${trialNumber} of ~${expectedTotal}: B=${batchSize}, lr ${num(plan.lr, 3)}, seed ${plan.seed}, up to ${num(plan.stepLimit)} steps (${plan.reason})`,
          );
        progress = verbose
          ? createProgress({ stream: io.errStream, total: plan.stepLimit, label: `B=${batchSize}` })
          : undefined;
      },
      onStep: ({ step, loss, stepLimit }) =>
        progress?.update(step, { loss: loss.toFixed(4), study: eta.text(step / Math.max(1, stepLimit)) }),
      onTrialEnd: ({ trial, run }) => {
        progress?.done();
        if (verbose) io.err(`  -> ${trial ? `${trial.outcome} at step ${num(trial.steps)}` : run.status}`);
      },
      onBatchDone: ({ batch }) => {
        if (verbose) io.err(`B=${batch.batchSize}: ${batch.failure ?? batch.result?.text ?? ''}`);
      },
    });
  } finally {
    progress?.done();
  }
}

/**
 * The study's ETA: the share of its (expected) trials done, this session's time per share. Trials differ
 * in length (later ones are cut at the best's steps), so it is an estimate, printed with "~".
 */
function studyEta(): { trial(n: number, total: number): void; text(withinTrial: number): string } {
  const startMs = performance.now();
  let first: number | undefined;
  let n = 1;
  let total = 1;
  return {
    trial(trialNumber, expected) {
      first ??= trialNumber - 1;
      n = trialNumber;
      total = expected;
    },
    text(withinTrial) {
      const frac = Math.min(1, (n - 1 + withinTrial) / total);
      const doneHere = frac - (first ?? 0) / total;
      const left = doneHere > 0 ? ((performance.now() - startMs) * (1 - frac)) / doneHere : Number.NaN;
      return `${Math.round(frac * 100)}% of ~${total} trials${Number.isFinite(left) ? `, ~${duration(left)} left` : ''}`;
    },
  };
}

/** One row per batch size: the grid centre, the best LR, steps and examples to the target, the trials. */
export function studyTable(summary: StudySummary): string {
  const rows = summary.batches.map((b) => {
    const steps = studyStepsAt(summary, b.batchSize);
    const r = b.result;
    return [
      b.batchSize,
      num(b.centerLr, 3),
      r?.bestLr === undefined ? '-' : num(r.bestLr, 3),
      steps === undefined ? '-' : num(steps),
      steps === undefined ? '-' : num(steps * b.batchSize),
      b.trials.length,
      b.trials.filter((t) => t.outcome === 'cut').length,
      b.failure ?? r?.text ?? 'not finished',
    ];
  });
  return table(['B', 'centre LR', 'best LR', 'steps', 'examples', 'trials', 'cut', 'search'], rows);
}

/** The findings as lines under a heading. */
export function studyFindingLines(summary: StudySummary): string {
  return ['What this study shows:', ...summary.findings.map((f) => `  [${f.effect}] ${f.text}`)].join('\n');
}

/** Table, findings, and where the data is. */
export function studyReport(result: StudyResult, dbPath: string): string {
  const id = result.experiment.id;
  const t = result.summary.target;
  return [
    '',
    `steps to ${t.metric} ${t.value} at the best LR of each batch size:`,
    studyTable(result.summary),
    '',
    studyFindingLines(result.summary),
    '',
    `study ${id} ${result.status === 'done' ? 'finished' : 'was interrupted'} after ${duration(result.summary.wallMs)} of wall time; stored in ${dbPath}`,
    result.status === 'interrupted'
      ? `resume it with: ${resumeCommand(id, dbPath)}`
      : `see it with: batchlab show ${id}, batchlab report ${id}`,
  ].join('\n');
}
