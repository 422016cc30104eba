/** `batchlab train`: one run, with a progress bar and a summary. */
import { describePlan, LAST_BATCH_POLICIES } from '../../core/batching.js';
import { formatBatchSchedule, parseBatchSchedule } from '../../core/batch-schedule.js';
import { UsageError } from '../../core/errors.js';
import { defaultLrRule, LR_RULES, LR_SCHEDULES, type LrRule, type LrScheduleKind } from '../../core/lr.js';
import { parseTarget } from '../../core/parse.js';
import { parsePositiveInt } from '../../core/units.js';
import type { LoadOptions } from '../../data/types.js';
import { assertOptimizerName, type OptimizerConfig, type TrainBudget, type TrainResult } from '../../core/run.js';
import { prepareRun, type RunContext, type TrainConfig, TfjsTrainer } from '../../engine/tfjs/trainer.js';
import { checkpointWriter } from '../../lab/run/record.js';
import { MODEL_NAMES, type ModelName, type ModelSpec } from '../../models/index.js';
import { UnknownNameError } from '../../core/errors.js';
import { duration, mb, num, pct } from '../format.js';
import { formatHelp, parseOptions, type OptionTable, type Parsed } from '../options.js';
import { createProgress } from '../progress.js';
import type { Io } from '../io.js';

/** Options shared by every command that trains a TF.js model (train, sweep, find-max, recommend). */
export const MODEL_OPTIONS = {
  dataset: { type: 'string', value: 'NAME', default: 'mnist', help: 'dataset (see `batchlab datasets`)' },
  file: { type: 'string', value: 'PATH', help: 'data file for the csv, idx and cifar10 datasets' },
  'labels-file': { type: 'string', value: 'PATH', help: 'idx: the labels file' },
  'label-column': {
    type: 'string',
    value: 'COL',
    help: 'csv: label/target column, index or header name (default: last)',
  },
  limit: { type: 'int', value: 'N', help: 'use only the first N training samples (a quick subset)' },
  model: { type: 'string', value: 'NAME', default: 'mlp', help: `model: ${MODEL_NAMES.join(', ')}` },
  hidden: { type: 'string', value: 'W,W', default: '256', help: 'mlp hidden layer widths' },
  'model-file': { type: 'string', value: 'PATH', help: 'a TF.js layers model.json (with --model file)' },
  optimizer: { type: 'string', value: 'NAME', default: 'momentum', help: 'sgd, momentum (SGD with momentum) or adam' },
  momentum: {
    type: 'number',
    value: 'MU',
    help: 'momentum; with sgd a value > 0 means SGD with momentum (default 0.9 for momentum)',
  },
  schedule: {
    type: 'string',
    value: 'NAME',
    default: 'constant',
    choices: LR_SCHEDULES,
    help: 'LR schedule after warm-up',
  },
  'warmup-steps': { type: 'count', value: 'N', default: 0, help: 'steps of linear LR warm-up' },
  'lr-step-every': { type: 'int', value: 'N', help: 'step schedule: decay every N steps' },
  'lr-gamma': { type: 'number', value: 'G', default: 0.1, help: 'step schedule: decay factor' },
  'last-batch': {
    type: 'string',
    value: 'POLICY',
    default: 'keep',
    choices: LAST_BATCH_POLICIES,
    help: 'the partial last batch of an epoch',
  },
  seed: { type: 'count', value: 'N', default: 1, help: 'seeds the initial weights and the batch order' },
  backend: {
    type: 'string',
    value: 'NAME',
    help: 'force a TF.js backend: batchlab-native, tensorflow, wasm, cpu (default: best available)',
  },
  json: { type: 'boolean', help: 'print the result as JSON on stdout' },
} as const satisfies OptionTable;

export const TRAIN_OPTIONS = {
  ...MODEL_OPTIONS,
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
  lr: { type: 'number', value: 'LR', default: 0.05, help: 'learning rate (peak, after warm-up)' },
  'eval-every': {
    type: 'count',
    value: 'N',
    default: 0,
    help: 'evaluate on held-out data every N steps (0: about 10 times per run)',
  },
  target: { type: 'string', value: 'acc:X|loss:X', help: 'stop once held-out accuracy >= X (or loss <= X)' },
  'batch-schedule': {
    type: 'string',
    value: 'B@S,...',
    help: 'a batch-size schedule instead of one batch: "64@0,128@2000,256@6000" trains at 64 from the start, 128 once 2,000 samples are seen, 256 from 6,000; a "steps" suffix ("64@0,128@500steps") counts updates instead; the LR of each batch follows --lr-rule from --lr at the first batch',
  },
  'lr-rule': {
    type: 'string',
    value: 'RULE',
    choices: LR_RULES,
    help: 'with --batch-schedule: how the LR follows the batch (default: linear for sgd/momentum, sqrt for adam)',
  },
  'max-micro-batch': {
    type: 'int',
    value: 'N',
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

export const TRAIN_HELP = formatHelp({
  command: 'train',
  usage: 'batchlab train [options]',
  description:
    'Trains one model with one batch size, measuring every step (loss, step time, gradient norms, peak memory),\nand prints train and held-out metrics. The effective batch is printed as B = micro-batch x accumulation steps.\n\n' +
    'Batch-size schedule (--batch-schedule): comma-separated BATCH@START phases, e.g. "64@0,128@2000,256@6000".\n' +
    'START counts samples seen (or updates, with a "steps" suffix: "64@0,128@500steps"); the first phase starts at 0,\n' +
    'starts increase, batches are positive integers. A phase begins at the first step whose samples before it reach\n' +
    'its start. Each batch trains at the LR --lr-rule gives it from --lr at the first batch, split into micro-batches\n' +
    'of at most --max-micro-batch. `batchlab recommend --schedule` derives one from a branch measurement.\n\n' +
    'Checkpoints: --checkpoint-out saves the full state at the end (weights, optimizer state, step, samples, the\n' +
    'position in the data order) as safetensors; --checkpoint-in resumes it, bit-identical to a run that never stopped.',
  table: TRAIN_OPTIONS,
  examples: [
    'batchlab train --dataset mnist --model mlp --batch-size 64 --epochs 1',
    'batchlab train --dataset mnist --model mlp --batch-schedule "32@0,64@4000,128@16000" --lr 0.05 --samples 60000',
    'batchlab train --dataset mnist --steps 500 --checkpoint-out a.safetensors && batchlab train --dataset mnist --steps 900 --checkpoint-in a.safetensors',
    'batchlab train --dataset mnist --model mlp --batch-size 256 --accum 4 --lr 0.4 --warmup-steps 50',
    'batchlab train --dataset iris --model linear --batch-size 16 --epochs 50 --optimizer adam --lr 0.05',
  ],
});

type ModelOptions = Parsed<typeof MODEL_OPTIONS>;

/** The model spec from --model, --hidden and --model-file. */
export function modelSpecFrom(o: ModelOptions): ModelSpec {
  if (!(MODEL_NAMES as readonly string[]).includes(o.model)) {
    throw new UnknownNameError('BATCHLAB_UNKNOWN_MODEL', 'model', o.model, MODEL_NAMES);
  }
  const hidden = o.hidden.split(',').map((w) => parsePositiveInt(w, '--hidden width', { example: '256,128' }));
  return { name: o.model as ModelName, hidden, path: o['model-file'] };
}

export function optimizerFrom(o: ModelOptions): OptimizerConfig {
  assertOptimizerName(o.optimizer);
  if (o.optimizer === 'sgd' && o.momentum !== undefined && o.momentum > 0)
    return { name: 'momentum', momentum: o.momentum };
  return { name: o.optimizer, momentum: o.momentum };
}

export function datasetOptionsFrom(o: ModelOptions): LoadOptions {
  const col = o['label-column'];
  return {
    limit: o.limit,
    file: o.file,
    labelsFile: o['labels-file'],
    labelColumn: col === undefined ? undefined : /^-?\d+$/.test(col) ? Number(col) : col,
  };
}

/**
 * `--batch-schedule` with its LR rule and micro-batch limit, or undefined. The schedule sets the batch,
 * so a --batch-size or --accum other than the defaults is refused rather than silently overridden.
 */
function batchScheduleFrom(o: Parsed<typeof TRAIN_OPTIONS>): TrainConfig['batchSchedule'] {
  const text = o['batch-schedule'];
  if (text === undefined) {
    for (const flag of ['lr-rule', 'max-micro-batch'] as const)
      if (o[flag] !== undefined)
        throw new UsageError(`--${flag} applies to --batch-schedule; pass a schedule or drop it`);
    return undefined;
  }
  if (o.accum !== 1 || o['batch-size'] !== TRAIN_OPTIONS['batch-size'].default)
    throw new UsageError(
      '--batch-schedule sets the batch of every step; drop --batch-size and --accum (use --max-micro-batch to accumulate)',
    );
  const schedule = parseBatchSchedule(text);
  const rule = (o['lr-rule'] as LrRule | undefined) ?? defaultLrRule(o.optimizer);
  return { schedule, lrRule: rule, baseBatch: schedule.phases[0]!.batch, maxMicroBatch: o['max-micro-batch'] };
}

function trainConfigFrom(o: Parsed<typeof TRAIN_OPTIONS>): TrainConfig {
  const budget: TrainBudget = { epochs: o.epochs, maxSteps: o.steps, maxSamples: o.samples };
  if (budget.epochs === undefined && budget.maxSteps === undefined && budget.maxSamples === undefined)
    budget.epochs = 1;
  const batchSchedule = batchScheduleFrom(o);
  const first = batchSchedule?.schedule.phases[0]?.batch;
  const checkpoint =
    o['checkpoint-in'] === undefined && o['checkpoint-out'] === undefined
      ? undefined
      : { resumeFrom: o['checkpoint-in'], saveTo: o['checkpoint-out'] };
  return {
    dataset: o.dataset,
    datasetOptions: datasetOptionsFrom(o),
    model: modelSpecFrom(o),
    batchSize: first ?? o['batch-size'],
    accumSteps: o.accum,
    budget,
    lastBatch: o['last-batch'] as 'keep' | 'drop',
    optimizer: optimizerFrom(o),
    lr: o.lr,
    schedule: o.schedule as LrScheduleKind,
    warmupSteps: o['warmup-steps'],
    lrStepEvery: o['lr-step-every'],
    lrGamma: o['lr-gamma'],
    seed: o.seed,
    backend: o.backend,
    evalEvery: o['eval-every'],
    evalTrainLimit: 10_000,
    evalTestLimit: 2_000,
    target: parseTarget(o.target),
    batchSchedule,
    checkpoint,
  };
}

export async function trainCommand(argv: readonly string[], io: Io): Promise<number> {
  const { options, positionals, help } = parseOptions(argv, TRAIN_OPTIONS, 'train');
  if (help) {
    io.out(TRAIN_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}" for "batchlab train"; see batchlab train --help`);
  const config = trainConfigFrom(options);
  const ctx = await prepareRun(config);
  if (config.evalEvery === 0) config.evalEvery = Math.max(1, Math.round(ctx.totalSteps / 10));
  const trainer = new TfjsTrainer(config, ctx, checkpointWriter());
  if (!options.json) io.out(header(config, ctx));
  const progress = createProgress({ stream: io.errStream, total: ctx.totalSteps, label: 'train' });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await trainer.run({
      signal: controller.signal,
      onProgress: (s) =>
        progress.update(s.step, { loss: s.loss.toFixed(4), 'samples/s': num(s.batchSize / (s.stepMs / 1000)) }),
    });
    progress.done();
    io.out(options.json ? JSON.stringify(resultJson(config, ctx, result), null, 2) : summary(config, ctx, result));
    return result.status === 'interrupted' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    progress.done();
  }
}

function header(config: TrainConfig, ctx: RunContext): string {
  const d = ctx.data;
  return [
    `dataset   ${d.name}: ${num(d.train.count)} train / ${num(d.test.count)} held-out, input [${d.inputShape.join(', ')}]`,
    `model     ${config.model.name}${config.model.name === 'mlp' ? ` hidden ${config.model.hidden?.join(',')}` : ''}`,
    `backend   ${ctx.backend} (${ctx.backendChoice.reason})`,
    `batch     effective batch = micro-batch x accumulation steps: ${ctx.plan}`,
    `optimizer ${config.optimizer.name}, lr ${config.lr}, schedule ${config.schedule}${config.warmupSteps ? ` after ${config.warmupSteps} warm-up steps` : ''}, seed ${config.seed}`,
    ...phaseLines(config, ctx),
    `budget    up to ${num(ctx.totalSteps)} steps${config.checkpoint?.resumeFrom ? ` (counted from the start of the run the checkpoint ${config.checkpoint.resumeFrom} belongs to)` : ''}`,
  ].join('\n');
}

/** A schedule run's phases: from which step and samples, the batch and its split, the LR. */
function phaseLines(config: TrainConfig, ctx: RunContext): string[] {
  const s = config.batchSchedule;
  if (!s || !ctx.phases) return [];
  return [
    `schedule  ${formatBatchSchedule(s.schedule)}, LR by the ${s.lrRule} rule from ${config.lr} at batch ${s.baseBatch}:`,
    ...ctx.phases.map(
      (p) =>
        `          from step ${num(p.firstStep)} (${num(p.samplesBefore)} samples): ${describePlan(p.plan)}, lr ${num(p.lr)}`,
    ),
  ];
}

function summary(config: TrainConfig, ctx: RunContext, r: TrainResult): string {
  const { train, test } = r.final;
  const rate = r.samples / (r.trainMs / 1000);
  const lines = [
    `\n${r.status === 'interrupted' ? 'interrupted' : 'done'}: ${num(r.steps.length)} steps, ${num(r.samples)} samples in ${duration(r.wallMs)} (training ${duration(r.trainMs)})`,
    `train     loss ${train.loss.toFixed(4)}${train.accuracy !== undefined ? `  accuracy ${pct(train.accuracy)}` : ''}`,
    `held-out  loss ${test.loss.toFixed(4)}${test.accuracy !== undefined ? `  accuracy ${pct(test.accuracy)}` : ''}`,
    `speed     ${num(rate)} samples/s on ${ctx.backend}`,
    `memory    peak tensor memory ${mb(r.peakBytes)} MB per step (weights, optimizer state, activations, gradients)`,
    `batch     ${ctx.plan} (effective = micro-batch x accumulation steps)`,
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

function resultJson(config: TrainConfig, ctx: RunContext, r: TrainResult) {
  return {
    status: r.status,
    dataset: ctx.data.name,
    model: config.model,
    backend: ctx.backendChoice,
    batchSize: config.batchSize,
    plan: ctx.plan,
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
