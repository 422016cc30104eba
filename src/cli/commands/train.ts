/** `batchlab train`: one run, with a progress bar and a summary. */
import { describePlan } from '../../core/batching.js';
import { formatBatchSchedule, parseBatchSchedule } from '../../core/batch-schedule.js';
import { UsageError } from '../../core/errors.js';
import { defaultLrRule, LR_RULES, type LrRule } from '../../core/lr.js';
import { parseTarget } from '../../core/parse.js';
import type { TrainBudget } from '../../core/run.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { type TrainOutcome, type TrainStart, train } from '../../lab/run/train.js';
import { defineCommand } from '../command.js';
import { duration, mb, num, pct } from '../format.js';
import type { OptionTable, Parsed } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { MODEL_RUN_OPTIONS, SCHEDULE_OPTIONS, trainConfigFrom } from '../run-options.js';

/** --lr-rule and --max-micro-batch shape a schedule's batches. */
const WITH_SCHEDULE = {
  when: (o: Readonly<Record<string, unknown>>) => o['batch-schedule'] !== undefined,
  why: 'applies to --batch-schedule; pass a schedule or leave it out',
};

/** `--eval-every 0`: evaluate about this many times over the run. */
const EVALS_PER_RUN = 10;

export const TRAIN_OPTIONS = {
  ...MODEL_RUN_OPTIONS,
  ...SCHEDULE_OPTIONS,
  'batch-size': {
    type: 'int',
    value: 'B',
    default: 64,
    code: 'BATCHLAB_BAD_BATCH_SIZE',
    help: 'effective batch B: samples per update',
  },
  accum: { type: 'int', value: 'K', default: 1, help: 'accumulation steps k; micro-batch b = B / k' },
  epochs: { type: 'int', value: 'N', help: 'train N epochs (default 1 when no budget is given)' },
  steps: { type: 'int', value: 'N', help: 'stop after N updates' },
  samples: { type: 'int', value: 'N', help: 'stop after N training samples' },
  lr: { type: 'number', value: 'LR', default: 0.05, help: 'learning rate (peak, after warm-up), > 0' },
  'eval-every': {
    type: 'count',
    value: 'N',
    default: 0,
    help: `evaluate on held-out data every N steps (0: about ${EVALS_PER_RUN} times per run)`,
  },
  target: {
    type: 'string',
    value: 'acc:X|loss:X|train-loss:X',
    help: 'stop once held-out accuracy >= X (or held-out loss <= X, or the training loss on 2,048 fixed training samples <= X)',
  },
  'batch-schedule': {
    type: 'string',
    value: 'B@S,...',
    help: 'a batch-size schedule instead of one batch: "64@0,128@2000,256@6000" trains at 64 from the start, 128 once 2,000 samples are seen, 256 from 6,000; a "steps" suffix ("64@0,128@500steps") counts updates instead; the LR of each batch follows --lr-rule from --lr at the first batch',
  },
  'lr-rule': {
    type: 'string',
    value: 'RULE',
    choices: LR_RULES,
    onlyIf: WITH_SCHEDULE,
    help: 'with --batch-schedule: how the LR follows the batch (default: linear for sgd/momentum, sqrt for adam)',
  },
  'max-micro-batch': {
    type: 'int',
    value: 'N',
    onlyIf: WITH_SCHEDULE,
    help: 'with --batch-schedule: split each batch into micro-batches of at most N (gradient accumulation; the largest that fits, e.g. from find-max)',
  },
  'checkpoint-in': {
    type: 'string',
    value: 'PATH',
    help: 'resume from this checkpoint (weights, optimizer state, step, data position)',
  },
  'checkpoint-out': {
    type: 'string',
    value: 'PATH',
    help: 'save a checkpoint of the final state here (also when stopped with Ctrl-C); the budget counts from the start of the original run',
  },
} as const satisfies OptionTable;

type TrainOptions = Parsed<typeof TRAIN_OPTIONS>;

/**
 * `--batch-schedule` with its LR rule and micro-batch limit, or undefined. The schedule sets the batch,
 * so a --batch-size or --accum given with it is refused rather than silently overridden.
 */
function batchScheduleFrom(o: TrainOptions, given: ReadonlySet<string>): TrainConfig['batchSchedule'] {
  const text = o['batch-schedule'];
  if (text === undefined) return undefined;
  if (given.has('accum') || given.has('batch-size'))
    throw new UsageError(
      '--batch-schedule sets the batch of every step; drop --batch-size and --accum (use --max-micro-batch to accumulate)',
    );
  const schedule = parseBatchSchedule(text);
  const rule = (o['lr-rule'] as LrRule | undefined) ?? defaultLrRule(o.optimizer);
  return { schedule, lrRule: rule, baseBatch: schedule.phases[0]!.batch, maxMicroBatch: o['max-micro-batch'] };
}

/** The run's config from the flags; with no budget flag, one epoch. */
function configFrom(o: TrainOptions, given: ReadonlySet<string>): TrainConfig {
  const budget: TrainBudget = { epochs: o.epochs, maxSteps: o.steps, maxSamples: o.samples };
  if (budget.epochs === undefined && budget.maxSteps === undefined && budget.maxSamples === undefined)
    budget.epochs = 1;
  const batchSchedule = batchScheduleFrom(o, given);
  const checkpoint =
    o['checkpoint-in'] === undefined && o['checkpoint-out'] === undefined
      ? undefined
      : { resumeFrom: o['checkpoint-in'], saveTo: o['checkpoint-out'] };
  return trainConfigFrom(o, {
    batchSize: batchSchedule?.baseBatch ?? o['batch-size'],
    accumSteps: o.accum,
    batchSchedule,
    checkpoint,
    budget,
    lr: o.lr,
    evalEvery: o['eval-every'],
    evalTrainLimit: 10_000,
    evalTestLimit: 2_000,
    target: parseTarget(o.target),
  });
}

/** What train prints: the config it ran, what it learned before the first step, and the run. */
interface TrainRun {
  config: TrainConfig;
  start: TrainStart;
  outcome: TrainOutcome;
}

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train one model at one batch size, measuring every step',
  description:
    'Trains one model with one batch size, measuring every step (loss, step time, gradient norms, peak memory),\nand prints train and held-out metrics. The effective batch is printed as B = micro-batch x accumulation steps.\n\n' +
    'Batch-size schedule (--batch-schedule): comma-separated BATCH@START phases, e.g. "64@0,128@2000,256@6000".\n' +
    'START counts samples seen (or updates, with a "steps" suffix: "64@0,128@500steps"); the first phase starts at 0,\n' +
    'starts increase, batches are positive integers. A phase begins at the first step whose samples before it reach\n' +
    'its start. Each batch trains at the LR --lr-rule gives it from --lr at the first batch, split into micro-batches\n' +
    'of at most --max-micro-batch. `batchlab recommend --batch-schedule` derives one from a branch measurement.\n\n' +
    'Checkpoints: --checkpoint-out saves the full state at the end (weights, optimizer state, step, samples, the\n' +
    'position in the data order) as safetensors; --checkpoint-in resumes it, bit-identical to a run that never stopped.',
  options: TRAIN_OPTIONS,
  examples: [
    'batchlab train --dataset mnist --model mlp --batch-size 64 --epochs 1',
    'batchlab train --dataset mnist --model mlp --batch-schedule "32@0,64@4000,128@16000" --lr 0.05 --samples 60000',
    'batchlab train --dataset mnist --steps 500 --checkpoint-out a.safetensors && batchlab train --dataset mnist --steps 900 --checkpoint-in a.safetensors',
    'batchlab train --dataset mnist --model mlp --batch-size 256 --accum 4 --lr 0.4 --warmup-steps 50',
    'batchlab train --dataset iris --model linear --batch-size 16 --epochs 50 --optimizer adam --lr 0.05',
  ],
  run: async ({ options, given, json, io, signal }): Promise<TrainRun> => {
    const config = configFrom(options, given);
    let start: TrainStart | undefined;
    let progress: Progress | undefined;
    try {
      const outcome = await train(
        config,
        {
          signal,
          onStart: (s) => {
            start = s;
            if (!json) io.out(header(config, s));
            progress = createProgress({ stream: io.errStream, total: s.totalSteps, label: 'train' });
          },
          onProgress: (s) =>
            progress?.update(s.step, { loss: s.loss.toFixed(4), 'samples/s': num(s.batchSize / (s.stepMs / 1000)) }),
        },
        { evalsPerRun: EVALS_PER_RUN },
      );
      return { config, start: start!, outcome };
    } finally {
      progress?.done();
    }
  },
  text: (r) => summary(r),
  json: (r) => resultJson(r),
  status: (r) => (r.outcome.result.status === 'interrupted' ? 'interrupted' : 'done'),
});

function header(config: TrainConfig, s: TrainStart): string {
  const d = s.dataset;
  return [
    `dataset   ${d.name}: ${num(d.trainCount)} train / ${num(d.testCount)} held-out, input [${d.inputShape.join(', ')}]`,
    `model     ${config.model.name}${config.model.name === 'mlp' ? ` hidden ${config.model.hidden?.join(',')}` : ''}`,
    `backend   ${s.backend} (${s.backendChoice.reason})`,
    `batch     effective batch = micro-batch x accumulation steps: ${s.plan}`,
    `optimizer ${config.optimizer.name}, lr ${config.lr}, schedule ${config.schedule}${config.warmupSteps ? ` after ${config.warmupSteps} warm-up steps` : ''}, seed ${config.seed}`,
    ...phaseLines(config, s),
    `budget    up to ${num(s.totalSteps)} steps${config.checkpoint?.resumeFrom ? ` (counted from the start of the run the checkpoint ${config.checkpoint.resumeFrom} belongs to)` : ''}`,
  ].join('\n');
}

/** A schedule run's phases: from which step and samples, the batch and its split, the LR. */
function phaseLines(config: TrainConfig, s: TrainStart): string[] {
  const schedule = config.batchSchedule;
  if (!schedule || !s.phases) return [];
  return [
    `schedule  ${formatBatchSchedule(schedule.schedule)}, LR by the ${schedule.lrRule} rule from ${config.lr} at batch ${schedule.baseBatch}:`,
    ...s.phases.map(
      (p) =>
        `          from step ${num(p.firstStep)} (${num(p.samplesBefore)} samples): ${describePlan(p.plan)}, lr ${num(p.lr)}`,
    ),
  ];
}

function summary({ config, start, outcome }: TrainRun): string {
  const r = outcome.result;
  const { train: fit, test } = r.final;
  const rate = r.samples / (r.trainMs / 1000);
  const lines = [
    `\n${r.status === 'interrupted' ? 'interrupted' : 'done'}: ${num(r.steps.length)} steps, ${num(r.samples)} samples in ${duration(r.wallMs)} (training ${duration(r.trainMs)})`,
    `train     loss ${fit.loss.toFixed(4)}${fit.accuracy !== undefined ? `  accuracy ${pct(fit.accuracy)}` : ''}`,
    `held-out  loss ${test.loss.toFixed(4)}${test.accuracy !== undefined ? `  accuracy ${pct(test.accuracy)}` : ''}`,
    `speed     ${num(rate)} samples/s on ${start.backend}`,
    `memory    peak tensor memory ${mb(r.peakBytes)} MB per step (weights, optimizer state, activations, gradients)`,
    `batch     ${start.plan} (effective = micro-batch x accumulation steps)`,
  ];
  if (config.checkpoint?.saveTo)
    lines.push(`checkpoint saved to ${config.checkpoint.saveTo} at step ${num(r.steps.at(-1)?.step ?? 0)}`);
  if (r.reachedTarget)
    lines.push(
      `target    reached at step ${r.reachedTarget.step} (${num(r.reachedTarget.samples)} samples, ${duration(r.reachedTarget.wallMs)})`,
    );
  else if (config.target) lines.push(`target    not reached`);
  return lines.join('\n');
}

function resultJson({ config, start, outcome }: TrainRun) {
  const r = outcome.result;
  return {
    status: r.status,
    dataset: start.dataset.name,
    model: config.model,
    backend: start.backendChoice,
    batchSize: config.batchSize,
    plan: start.plan,
    batchSchedule: config.batchSchedule ? formatBatchSchedule(config.batchSchedule.schedule) : null,
    lr: config.lr,
    optimizer: config.optimizer,
    seed: config.seed,
    steps: r.steps.length,
    samples: r.samples,
    wallMs: r.wallMs,
    trainMs: r.trainMs,
    samplesPerSec: r.samples / (r.trainMs / 1000),
    peakBytes: r.peakBytes,
    final: r.final,
    distanceFromInit: r.distanceFromInit,
    reachedTarget: r.reachedTarget ?? null,
    evals: r.evals,
  };
}
