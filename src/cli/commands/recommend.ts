/** `batchlab recommend`: a cheap probe (memory, noise scale, throughput), then a batch size, LR and warm-up with reasons. */
import { parseTarget } from '../../core/parse.js';
import type { ScheduleRecommendation } from '../../lab/branch/branch.js';
import { OBJECTIVES, type Objective, type RecommendOptimizer } from '../../core/recommend.js';
import { formatBytes, parseBytes } from '../../core/units.js';
import { recommendJson, type RecommendOptions, type RecommendResult } from '../../lab/recommend/recommend.js';
import {
  type CheckedRecommendation,
  recommendAndValidate,
  VALIDATION_GOALS,
  type ValidationReport,
} from '../../lab/recommend/validate.js';
import { defineCommand } from '../command.js';
import { duration, num } from '../format.js';
import type { OptionTable, Parsed } from '../options.js';
import { MODEL_RUN_OPTIONS, trainConfigFrom } from '../run-options.js';
import { scheduleFor, scheduleJson, scheduleText } from './recommend-schedule.js';

/** --from and --max-micro-batch belong to the schedule. */
const WITH_SCHEDULE = {
  when: (o: Readonly<Record<string, unknown>>) => o['batch-schedule'] === true,
  why: 'only applies with --batch-schedule; add --batch-schedule or leave it out',
};

/** The probe's options mean nothing to a schedule, which comes from a branch measurement. */
const NOT_WITH_SCHEDULE = {
  when: (o: Readonly<Record<string, unknown>>) => o['batch-schedule'] !== true,
  why: 'applies to the batch-size probe, not to --batch-schedule (a branch measurement); leave it out',
};

/** --target and --max-epochs belong to the validation sweep. */
const WITH_VALIDATE = {
  when: (o: Readonly<Record<string, unknown>>) => o.validate === true,
  why: 'only applies with --validate; add --validate or leave it out',
};

export const RECOMMEND_OPTIONS = {
  ...MODEL_RUN_OPTIONS,
  'memory-budget': {
    type: 'string',
    value: 'BYTES',
    onlyIf: NOT_WITH_SCHEDULE,
    help: 'memory budget, e.g. 4GiB, 512MiB (default: none; memory does not bind)',
  },
  objective: {
    type: 'string',
    value: 'NAME',
    default: 'time',
    choices: OBJECTIVES,
    onlyIf: NOT_WITH_SCHEDULE,
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
    onlyIf: NOT_WITH_SCHEDULE,
    help: 'most compute the probe may take, as a share of the default sweep (16..1024, one epoch each), in (0, 1]',
  },
  validate: {
    type: 'boolean',
    onlyIf: NOT_WITH_SCHEDULE,
    help: 'then run the full sweep to --target and compare (slow)',
  },
  target: {
    type: 'string',
    value: 'acc:X|loss:X',
    default: 'acc:0.97',
    onlyIf: WITH_VALIDATE,
    help: 'with --validate: the target of the sweep',
  },
  'max-epochs': {
    type: 'int',
    value: 'N',
    default: 5,
    onlyIf: WITH_VALIDATE,
    help: 'with --validate: give up on a run after N epochs',
  },
  'batch-schedule': {
    type: 'boolean',
    help: 'instead: a batch-size schedule (warm-up) from the critical batch measured over training by `batchlab branch`, with a reason per change; measures it first when the store has none for this dataset and model',
  },
  from: {
    type: 'int',
    value: 'ID',
    onlyIf: WITH_SCHEDULE,
    help: 'with --batch-schedule: the branch experiment to use (default: the latest fitting one)',
  },
  'max-micro-batch': {
    type: 'int',
    value: 'N',
    onlyIf: WITH_SCHEDULE,
    help: 'with --batch-schedule: the largest micro-batch that fits (e.g. find-max): larger batches are split',
  },
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', control: true, help: 'SQLite store' },
} as const satisfies OptionTable;

type RecommendParsed = Parsed<typeof RECOMMEND_OPTIONS>;

/** The probe's shared run config and the recommend options from the command line. */
export function recommendOptionsFrom(o: RecommendParsed): RecommendOptions {
  const base = trainConfigFrom(o, {
    batchSize: o['base-batch'],
    budget: {},
    lr: o['base-lr'],
    evalEvery: 0,
    evalTrainLimit: 256,
  });
  return {
    base,
    optimizer: base.optimizer.name as RecommendOptimizer,
    objective: o.objective as Objective,
    baseLr: o['base-lr'],
    baseBatch: o['base-batch'],
    memoryBudgetBytes: o['memory-budget'] === undefined ? undefined : parseBytes(o['memory-budget']),
    share: o['probe-share'],
    dbPath: o.db,
  };
}

export const recommendCommand = defineCommand({
  name: 'recommend',
  summary: 'a batch size and learning rate with reasons, from a cheap probe',
  description:
    'Measures, in short runs costing at most 5% of a sweep: memory at B = 1..8 (-> the largest batch under\n' +
    '--memory-budget), the gradient noise scale B_simple early in training with a 95% CI (-> the critical\n' +
    'batch), and step time at a few batch sizes (-> where throughput saturates). Then recommends a batch,\n' +
    'micro-batch x accumulation steps, LR and warm-up for the objective, one reason per effect.',
  options: RECOMMEND_OPTIONS,
  examples: [
    'batchlab recommend --dataset mnist --model mlp --memory-budget 4GiB',
    'batchlab recommend --dataset mnist --model mlp --objective compute --optimizer adam --base-lr 0.001 --base-batch 32 --json',
    'batchlab recommend --dataset mnist --model mlp --validate --target acc:0.97',
    'batchlab recommend --batch-schedule --dataset mnist --model mlp --base-batch 32 --base-lr 0.05 --max-micro-batch 256',
  ],
  run: async ({ options, io, json, signal }): Promise<RecommendOutcome> => {
    const opts = recommendOptionsFrom(options);
    if (options['batch-schedule']) {
      const maxMicroBatch = options['max-micro-batch'];
      const schedule = await scheduleFor(
        { base: opts.base, dbPath: opts.dbPath, fromId: options.from, maxMicroBatch },
        io,
        { verbose: !json, signal },
      );
      return { schedule, maxMicroBatch };
    }
    const checked = await recommendAndValidate(
      opts,
      options.validate ? { target: parseTarget(options.target)!, maxEpochs: options['max-epochs'] } : undefined,
      {
        signal,
        onPhase: ({ text }) => !json && io.err(text),
        onRunStart: ({ run, index, total }) =>
          !json && io.err(`validate: sweep run ${index + 1}/${total}, B=${run.batchSize}`),
      },
    );
    return { checked };
  },
  text: (r) =>
    r.schedule
      ? scheduleText(r.schedule, r.maxMicroBatch)
      : [
          recommendText(r.checked.result),
          ...(r.checked.validation ? ['', validationText(r.checked.validation)] : []),
        ].join('\n'),
  json: (r) =>
    r.schedule
      ? scheduleJson(r.schedule)
      : r.checked.validation
        ? { ...recommendJson(r.checked.result), validation: r.checked.validation }
        : recommendJson(r.checked.result),
});

/** What recommend found: a batch size (checked by a sweep with --validate), or with --batch-schedule a schedule. */
type RecommendOutcome =
  | { checked: CheckedRecommendation; schedule?: undefined }
  | { schedule: ScheduleRecommendation; maxMicroBatch: number | undefined; checked?: undefined };

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
