/** `batchlab recommend`: a cheap probe (memory, noise scale, throughput), then a batch size, LR and warm-up with reasons. */
import { UsageError } from '../../core/errors.js';
import { OBJECTIVES, type Objective, type RecommendOptimizer } from '../../core/recommend.js';
import { formatBytes, parseBytes } from '../../core/units.js';
import { loadDataset } from '../../data/registry.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import {
  recommendJson,
  runRecommend,
  type RecommendOptions,
  type RecommendResult,
} from '../../lab/recommend/recommend.js';
import { validateRecommend, VALIDATION_GOALS, type ValidationReport } from '../../lab/recommend/validate.js';
import { duration, num } from '../format.js';
import type { Io } from '../io.js';
import { formatHelp, parseOptions, type OptionTable, type Parsed } from '../options.js';
import { parseTarget } from '../../core/parse.js';
import { recommendScheduleCommand } from './recommend-schedule.js';
import { datasetOptionsFrom, MODEL_OPTIONS, modelSpecFrom, optimizerFrom } from './train.js';

export const RECOMMEND_OPTIONS = {
  ...MODEL_OPTIONS,
  'memory-budget': {
    type: 'string',
    value: 'BYTES',
    help: 'memory budget, e.g. 4GiB, 512MiB (default: none; memory does not bind)',
  },
  objective: {
    type: 'string',
    value: 'NAME',
    default: 'time',
    choices: OBJECTIVES,
    help: 'time: least wall time to a target; compute: fewest samples; generalization: smaller batches within +25% time; memory: largest batch that fits',
  },
  'base-lr': {
    type: 'number',
    value: 'LR',
    default: 0.05,
    help: 'the learning rate you tuned at --base-batch (scaled linearly for sgd/momentum, by the square root for adam)',
  },
  'base-batch': {
    type: 'int',
    value: 'B',
    default: 64,
    code: 'BATCHLAB_BAD_BATCH_SIZE',
    help: 'the batch --base-lr belongs to; the noise probe trains at it',
  },
  'probe-share': {
    type: 'number',
    value: 'F',
    default: 0.05,
    help: 'most compute the probe may take, as a share of the default sweep (16..1024, one epoch each)',
  },
  validate: { type: 'boolean', help: 'then run the full sweep to --target and compare (slow)' },
  target: {
    type: 'string',
    value: 'acc:X|loss:X',
    default: 'acc:0.97',
    help: 'with --validate: the target of the sweep',
  },
  'max-epochs': { type: 'int', value: 'N', default: 5, help: 'with --validate: give up on a run after N epochs' },
  'batch-schedule': {
    type: 'boolean',
    help: 'instead: a batch-size schedule (warm-up) from the critical batch measured over training by `batchlab branch`, with a reason per change; measures it first when the store has none for this dataset and model',
  },
  from: {
    type: 'int',
    value: 'ID',
    help: 'with --batch-schedule: the branch experiment to use (default: the latest fitting one)',
  },
  'max-micro-batch': {
    type: 'int',
    value: 'N',
    help: 'with --batch-schedule: the largest micro-batch that fits (e.g. find-max): larger batches are split',
  },
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', help: 'SQLite store' },
} as const satisfies OptionTable;

export const RECOMMEND_HELP = formatHelp({
  command: 'recommend',
  usage: 'batchlab recommend [options]',
  description:
    'Measures, in short runs costing at most 5% of a sweep: memory at B = 1..8 (-> the largest batch under\n' +
    '--memory-budget), the gradient noise scale B_simple early in training with a 95% CI (-> the critical\n' +
    'batch), and step time at a few batch sizes (-> where throughput saturates). Then recommends a batch,\n' +
    'micro-batch x accumulation steps, LR and warm-up for the objective, one reason per effect.',
  table: RECOMMEND_OPTIONS,
  examples: [
    'batchlab recommend --dataset mnist --model mlp --memory-budget 4GiB',
    'batchlab recommend --dataset mnist --model mlp --objective compute --optimizer adam --base-lr 0.001 --base-batch 32 --json',
    'batchlab recommend --dataset mnist --model mlp --validate --target acc:0.97',
    'batchlab recommend --batch-schedule --dataset mnist --model mlp --base-batch 32 --base-lr 0.05 --max-micro-batch 256',
  ],
});

type RecommendParsed = Parsed<typeof RECOMMEND_OPTIONS>;

/** The probe's shared run config and the recommend options from the command line. */
export function recommendOptionsFrom(o: RecommendParsed): RecommendOptions {
  const optimizer = optimizerFrom(o);
  const share = o['probe-share'];
  if (!(share > 0 && share <= 1))
    throw new UsageError(`--probe-share must be in (0, 1], got ${share}; use e.g. 0.05 for 5%`);
  if (!(o['base-lr'] > 0)) throw new UsageError(`--base-lr must be positive, got ${o['base-lr']}; use e.g. 0.05`);
  const base: TrainConfig = {
    dataset: o.dataset,
    datasetOptions: datasetOptionsFrom(o),
    model: modelSpecFrom(o),
    batchSize: o['base-batch'],
    accumSteps: 1,
    budget: {},
    lastBatch: o['last-batch'] as 'keep' | 'drop',
    optimizer,
    lr: o['base-lr'],
    schedule: 'constant',
    warmupSteps: o['warmup-steps'],
    seed: o.seed,
    backend: o.backend,
    evalEvery: 0,
    evalTrainLimit: 256,
  };
  return {
    base,
    optimizer: optimizer.name as RecommendOptimizer,
    objective: o.objective as Objective,
    baseLr: o['base-lr'],
    baseBatch: o['base-batch'],
    memoryBudgetBytes: o['memory-budget'] === undefined ? undefined : parseBytes(o['memory-budget']),
    share,
    dbPath: o.db,
  };
}

export async function recommendCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, RECOMMEND_OPTIONS, 'recommend');
  if (help) {
    io.out(RECOMMEND_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(
      `unexpected argument "${positionals[0]}" for "batchlab recommend"; see batchlab recommend --help`,
    );
  const opts = recommendOptionsFrom(options);
  if (options['batch-schedule'])
    return recommendScheduleCommand(
      {
        base: opts.base,
        dbPath: opts.dbPath,
        fromId: options.from,
        maxMicroBatch: options['max-micro-batch'],
        json: !!options.json,
      },
      io,
    );
  const target = options.validate ? validTarget(options) : undefined;
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await runRecommend(opts, {
      signal: controller.signal,
      onPhase: ({ text }) => !options.json && io.err(text),
    });
    const report = target
      ? await validateRecommend(
          result,
          { target, maxEpochs: options['max-epochs'] },
          {
            signal: controller.signal,
            onRunStart: ({ run, index, total }) =>
              !options.json && io.err(`validate: sweep run ${index + 1}/${total}, B=${run.batchSize}`),
          },
        )
      : undefined;
    if (options.json)
      io.out(
        JSON.stringify(report ? { ...recommendJson(result), validation: report } : recommendJson(result), null, 2),
      );
    else io.out([recommendText(result), ...(report ? ['', validationText(report)] : [])].join('\n'));
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** --target checked against the task (accuracy needs classification). */
function validTarget(o: RecommendParsed) {
  const target = parseTarget(o.target)!;
  const task = loadDataset(o.dataset, datasetOptionsFrom(o)).task;
  if (target.metric === 'accuracy' && task !== 'classification')
    throw new UsageError(`--target ${o.target} needs accuracy, but ${o.dataset} is ${task}; pass --target loss:X`);
  return target;
}

/** The plain-words answer: the measurements, one line per effect, the conclusion, the probe's cost. */
export function recommendText(r: RecommendResult): string {
  const rec = r.recommendation;
  const json = recommendJson(r) as { noise: { remeasure: string } };
  const windows = r.noise.windows.map(
    (w) =>
      `steps ${w.fromStep}-${w.toStep}: ${w.bSimple === undefined ? `not measurable (${w.status})` : `${num(w.bSimple)} (95% CI ${num(w.ciLow)}-${w.ciHigh === undefined ? 'unbounded' : num(w.ciHigh)})`}`,
  );
  const c = r.probeCost;
  return [
    `recommendation for ${r.options.base.dataset} / ${r.options.base.model.name}, objective ${rec.objective} (confidence ${rec.confidence})`,
    '',
    `  batch       ${num(rec.batch)}${rec.accumSteps > 1 ? ` = micro-batch ${rec.microBatchSize} x ${rec.accumSteps} accumulation steps` : ' (no accumulation)'}`,
    `  lr          ${num(rec.lr)} (${rec.lrRule} rule from ${r.options.baseLr} at batch ${r.options.baseBatch})${rec.warmupSteps > 0 ? `, ${num(rec.warmupSteps)} warm-up steps` : ''}`,
    '',
    ...rec.reasons.map((x) => `  ${x.effect.padEnd(15)} ${x.text}`),
    `  ${rec.conclusion}`,
    ...rec.warnings.map((w) => `  warning: ${w}`),
    '',
    `measured: memory ${formatBytes(r.memory.fit.interceptBytes)} + ${formatBytes(r.memory.fit.bytesPerSample)} x B; B_simple at B = ${r.noise.batchSize}: ${windows.join('; ')}`,
    `re-measure B_simple later in training: ${json.noise.remeasure}`,
    `probe cost: ${num(c.samples)} samples, ${duration(c.seconds * 1000)}, ${c.runs} runs = ${(c.shareOfSweep * 100).toFixed(1)}% of the default sweep (${num(c.sweepSamples)} samples: 16..1024, one epoch each); limit ${(c.maxShare * 100).toFixed(0)}%`,
    `stored as experiment ${r.experimentId} in ${r.options.dbPath}`,
  ].join('\n');
}

/** The validation in plain words, with the goals. */
export function validationText(v: ValidationReport): string {
  const mark = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'met' : 'missed');
  const rows = v.points.map(
    (p) =>
      `  B=${String(p.batchSize).padStart(5)}  lr ${num(p.lr).padEnd(7)} ${p.reached ? `${num(p.stepsToTarget)} steps, ${duration(p.wallMsToTarget!)}` : `not reached (${p.status})`}`,
  );
  const rec = v.recommended;
  return [
    `validation against sweep ${v.sweepExperimentId} to ${v.target.metric} ${v.target.value}:`,
    ...rows,
    `  recommended B=${rec.batchSize} (x${rec.accumSteps}), lr ${num(rec.lr)}, ${rec.warmupSteps} warm-up: ${rec.reached ? `${num(rec.stepsToTarget)} steps, ${duration(rec.wallMsToTarget!)}` : `not reached${rec.message ? ` (${rec.message})` : ''}`}`,
    `probe cost ${(v.probeShareOfSweep * 100).toFixed(2)}% of this sweep's ${num(v.sweepSamples)} samples (goal <= ${VALIDATION_GOALS.maxProbeShare * 100}%): ${mark(v.goalsMet.probeShare)}`,
    `B_simple ${num(v.bSimple)} vs measured B_crit ${num(v.bCrit)}: ratio ${num(v.bCritRatio)} (goal <= ${VALIDATION_GOALS.maxBCritRatio}x): ${mark(v.goalsMet.bCrit)}`,
    ...(v.sweepAtRecommended?.reached
      ? [
          `  (the sweep's own run at B=${rec.batchSize}, without warm-up: ${duration(v.sweepAtRecommended.wallMsToTarget!)}, ${num(v.sweepAtRecommended.wallMsToTarget! / v.best!.wallMsToTarget!)}x the best)`,
        ]
      : []),
    `time to target ${rec.reached ? duration(rec.wallMsToTarget!) : '-'} vs best ${v.best ? `${duration(v.best.wallMsToTarget!)} at B=${v.best.batchSize}` : '-'}: ratio ${num(v.timeRatio)} (goal <= ${VALIDATION_GOALS.maxTimeRatio}): ${mark(v.goalsMet.time)}`,
  ].join('\n');
}
