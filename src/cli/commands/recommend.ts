/** `batchlab recommend`: a cheap probe (memory, noise scale, throughput), then a batch size, LR and warm-up with reasons. */
import { parseTarget } from '../../core/parse.js';
import type { ScheduleRecommendation } from '../../lab/branch/branch.js';
import { OBJECTIVES, type Objective, type RecommendOptimizer } from '../../core/recommend.js';
import { formatBytes, parseBytes } from '../../core/units.js';
import { recommendJson, type RecommendOptions, type RecommendResult } from '../../lab/recommend/recommend.js';
import type { NoiseToTarget } from '../../lab/recommend/noise-to-target.js';
import {
  type CheckedRecommendation,
  recommendAndValidate,
  type StudyValidation,
  VALIDATION_GOALS,
} from '../../lab/recommend/validate.js';
import { DEFAULT_STUDY_MAX_EPOCHS } from '../../core/study-plan.js';
import { defineCommand } from '../command.js';
import { duration, num, table } from '../format.js';
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

/** --validate compares with a study to the target. */
const WITH_TARGET = {
  when: (o: Readonly<Record<string, unknown>>) => o.target !== undefined,
  why: 'only applies with --target (the target the study runs to); add --target acc:0.97 or leave it out',
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
  target: {
    type: 'string',
    value: 'acc:X|loss:X',
    onlyIf: NOT_WITH_SCHEDULE,
    help: 'predict the critical batch where this target is reached: a run to it measures B_simple along training (at most 25% of the study it replaces)',
  },
  validate: {
    type: 'boolean',
    onlyIf: [NOT_WITH_SCHEDULE, WITH_TARGET],
    help: 'then run the study it replaces (batchlab study, LR searched per batch size) to --target and compare (slow)',
  },
  'max-epochs': {
    type: 'int',
    value: 'N',
    default: DEFAULT_STUDY_MAX_EPOCHS,
    onlyIf: [NOT_WITH_SCHEDULE, WITH_TARGET],
    help: 'with --target: the run to it (and the trials of --validate) give up after N epochs',
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
    target: parseTarget(o.target),
    maxEpochs: o['max-epochs'],
    dbPath: o.db,
  };
}

export const recommendCommand = defineCommand({
  name: 'recommend',
  summary: 'a batch size and learning rate with reasons, from a cheap probe',
  description:
    'Measures, in short runs: memory at B = 1..8 (-> the largest batch under --memory-budget), the gradient\n' +
    'noise scale B_simple with a 95% CI (-> the critical batch), and step time at a few batch sizes (-> where\n' +
    'throughput saturates). Without --target, B_simple early in training (at most 5% of a sweep; it\n' +
    'underestimates the critical batch). With --target, one run to the target measures B_simple along training\n' +
    'and reads it at the training loss where the target is reached (measured there, or extrapolated, and says\n' +
    'which): the critical batch a study would measure, for at most 25% of its compute. Then recommends a batch,\n' +
    'micro-batch x accumulation steps, LR and warm-up for the objective, one reason per effect.',
  options: RECOMMEND_OPTIONS,
  examples: [
    'batchlab recommend --dataset mnist --model mlp --memory-budget 4GiB',
    'batchlab recommend --dataset mnist --model mlp --objective compute --optimizer adam --base-lr 0.001 --base-batch 32 --json',
    'batchlab recommend --dataset mnist --model mlp --target acc:0.97',
    'batchlab recommend --dataset mnist --model mlp --target acc:0.97 --validate',
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
      options.validate ? { maxEpochs: options['max-epochs'] } : undefined,
      {
        signal,
        onPhase: ({ text }) => !json && io.err(text),
        onTrialStart: ({ batchSize, plan, trialNumber, expectedTotal }) =>
          !json &&
          io.err(`validate: study trial ${trialNumber} of ~${expectedTotal}, B=${batchSize}, lr ${num(plan.lr)}`),
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
  const noiseLines = r.noiseToTarget
    ? noiseToTargetLines(r.noiseToTarget)
    : [
        `measured: B_simple at B = ${r.noise.batchSize}: ${windows.join('; ')}`,
        `re-measure B_simple later in training: ${json.noise.remeasure}`,
      ];
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
    `measured: memory ${formatBytes(r.memory.fit.interceptBytes)} + ${formatBytes(r.memory.fit.bytesPerSample)} x B`,
    ...noiseLines,
    c.study
      ? `probe cost: ${num(c.samples)} samples, ${duration(c.seconds * 1000)}, ${c.runs} runs = ${(c.study.share * 100).toFixed(1)}% of the study it replaces (at least ${num(c.study.studySamples)} samples: one run to the target at each of B = ${c.study.batchSizes.join(', ')}, predicted from this run; a study runs several); limit ${(c.study.maxShare * 100).toFixed(0)}%`
      : `probe cost: ${num(c.samples)} samples, ${duration(c.seconds * 1000)}, ${c.runs} runs = ${(c.shareOfSweep * 100).toFixed(1)}% of the default sweep (${num(c.sweepSamples)} samples: 16..1024, one epoch each); limit ${(c.maxShare * 100).toFixed(0)}%`,
    `stored as experiment ${r.experimentId} in ${r.options.dbPath}`,
  ].join('\n');
}

/** B_simple along the run to the target against its training loss, and the reading at the target's loss. */
export function noiseToTargetLines(t: NoiseToTarget): string[] {
  const rows = t.segments.map((g) => [
    `${g.fromStep}-${g.toStep}`,
    num(g.loss, 4),
    g.bSimple === undefined ? `- (${g.status})` : num(g.bSimple),
    g.bSimple === undefined
      ? ''
      : `${num(g.low)}..${g.high !== undefined && Number.isFinite(g.high) ? num(g.high) : 'unbounded'}`,
  ]);
  const reached = t.reached
    ? `the target was reached at step ${num(t.reached.step)} (${num(t.reached.samples)} samples) at training loss ${num(t.targetLoss, 4)}`
    : 'the target was not reached';
  return [
    `B_simple along training at B = ${t.batchSize}, LR ${num(t.lr)}; ${reached}:`,
    ...table(['steps', 'train loss', 'B_simple', `${Math.round((t.segments[0]?.confidence ?? 0.95) * 100)}% CI`], rows)
      .split('\n')
      .map((l) => `  ${l}`),
    ...(t.nearSegments.length > 0
      ? [
          `read from ${t.nearSegments.length} segments of steps ${t.nearSegments[0]!.fromStep}-${t.nearSegments.at(-1)!.toStep}: B_simple ${t.nearSegments.map((g) => `${num(g.bSimple)} at loss ${num(g.loss, 3)}`).join(', ')}`,
        ]
      : []),
    t.atTarget ? `predicted critical batch: ${t.atTarget.text}` : `no prediction at the target: ${t.note ?? ''}`,
  ];
}

/** The validation in plain words, with the goals. */
export function validationText(v: StudyValidation): string {
  const mark = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'met' : 'missed');
  const rec = v.recommended;
  const b = v.studyBCrit;
  const p = v.predictedBCrit;
  const range = (i: { low: number; high: number }) =>
    `${num(i.low)}..${Number.isFinite(i.high) ? num(i.high) : 'unbounded'}`;
  const studySteps = v.studySteps
    ? `${num(v.studySteps.steps)} (${v.studySteps.basis === 'measured' ? `its best LR ${num(v.studySteps.bestLr)}` : 'its fitted S(B)'})`
    : '-';
  return [
    `validation against study ${v.studyExperimentId} to ${v.target.metric} ${v.target.value}:`,
    `  compute: recommend ${num(v.recommendSamples)} samples = ${(v.share * 100).toFixed(1)}% of the study's ${num(v.studySamples)} (goal <= ${VALIDATION_GOALS.maxStudyShare * 100}%): ${mark(v.goalsMet.share)}`,
    `  B_crit: predicted ${p ? `${num(p.estimate)} (${range(p)}, ${p.basis})` : '-'} vs the study's ${b ? `${num(b.estimate)} (${range(b)}, ${b.status})` : '-'}: ratio ${num(v.bCritRatio)} (goal <= ${VALIDATION_GOALS.maxBCritRatio}x): ${mark(v.goalsMet.bCrit)}`,
    `  training loss at the target: recommend's run ${num(v.recommendTargetLoss, 4)}, the study's ${num(v.studyTargetLoss, 4)}`,
    `  steps: recommended B=${rec.batchSize} (x${rec.accumSteps}), LR ${num(rec.lr)}, ${rec.warmupSteps} warm-up: ${rec.reached ? num(rec.steps) : `not reached${rec.message ? ` (${rec.message})` : ''}`} vs the study's ${studySteps}: ratio ${num(v.stepsRatio)} (goal <= ${VALIDATION_GOALS.maxStepsRatio}): ${mark(v.goalsMet.steps)}`,
  ].join('\n');
}
