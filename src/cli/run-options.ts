/**
 * The options that describe a TF.js run, in groups a command picks from (data, model, optimizer, LR
 * schedule, run), and the one conversion of those flags into the library's TrainConfig. Each option says
 * when it applies: a flag that would be ignored (a TF.js setting next to --cmd, --momentum with adam,
 * --lr-gamma without the step schedule) is refused by name instead.
 */
import { LAST_BATCH_POLICIES, type LastBatchPolicy } from '../core/batching.js';
import { LR_SCHEDULES, type LrScheduleKind } from '../core/lr.js';
import { assertOptimizerName, type OptimizerConfig } from '../core/run.js';
import { parsePositiveInt } from '../core/units.js';
import type { LoadOptions } from '../data/types.js';
import { type TrainConfig, trainConfig } from '../engine/tfjs/trainer.js';
import { MODEL_NAMES, type ModelName, type ModelSpec } from '../models/index.js';
import { UnknownNameError } from '../core/errors.js';
import type { Applies, OptionTable } from './options.js';

/** Options that describe the model and its data mean nothing to a user's own command. */
export const NOT_WITH_CMD: Applies = {
  when: (o) => o.cmd === undefined,
  why: 'describes a TF.js model, but --cmd runs your own command; pass one or the other',
};

/** Options of batchlab's own training loop, which a user's command never sees. */
export const TRAINER_ONLY: Applies = {
  when: (o) => o.cmd === undefined,
  why: "applies to batchlab's own trainer, but --cmd runs your own command (it gets {batch}, {micro_batch}, {accum}, {lr}, {max_steps} and {seed}); leave it out",
};

/** Options that only a user's command reads. */
export const CMD_ONLY: Applies = {
  when: (o) => o.cmd !== undefined,
  why: 'only applies with --cmd (your own training command); leave it out',
};

/** Where an experiment is stored and its HTML report written: for the commands that store one and draw it (sweep, study). */
export const STORE_REPORT_OPTIONS = {
  db: { type: 'string', value: 'PATH', default: 'batchlab.db', control: true, help: 'SQLite store' },
  report: {
    type: 'string',
    value: 'PATH',
    control: true,
    onlyIf: { when: (o) => o['no-report'] !== true, why: 'contradicts --no-report; pass one of them' },
    help: 'where to write the HTML report (default batchlab-report-<id>.html)',
  },
  'no-report': { type: 'boolean', control: true, help: 'do not write an HTML report' },
} as const satisfies OptionTable;

export const DATA_OPTIONS = {
  dataset: {
    type: 'string',
    value: 'NAME',
    default: 'mnist',
    onlyIf: NOT_WITH_CMD,
    help: 'dataset (see `batchlab datasets`)',
  },
  file: {
    type: 'string',
    value: 'PATH',
    onlyIf: NOT_WITH_CMD,
    help: 'data file for the csv, idx and cifar10 datasets',
  },
  'labels-file': { type: 'string', value: 'PATH', onlyIf: NOT_WITH_CMD, help: 'idx: the labels file' },
  'label-column': {
    type: 'string',
    value: 'COL',
    onlyIf: NOT_WITH_CMD,
    help: 'csv: label/target column, index or header name (default: last)',
  },
  limit: {
    type: 'int',
    value: 'N',
    onlyIf: NOT_WITH_CMD,
    help: 'use only the first N training samples (a quick subset)',
  },
} as const satisfies OptionTable;

export const MODEL_OPTIONS = {
  model: {
    type: 'string',
    value: 'NAME',
    default: 'mlp',
    onlyIf: NOT_WITH_CMD,
    help: `model: ${MODEL_NAMES.join(', ')}`,
  },
  hidden: {
    type: 'string',
    value: 'W,W',
    default: '256',
    onlyIf: [
      NOT_WITH_CMD,
      { when: (o) => o.model === 'mlp', why: 'sets the hidden widths of --model mlp; leave it out for other models' },
    ],
    help: 'mlp hidden layer widths (at most 100 layers of at most 65,536 units)',
  },
  'model-file': {
    type: 'string',
    value: 'PATH',
    implies: { model: 'file' },
    onlyIf: NOT_WITH_CMD,
    help: 'a TF.js layers model.json (implies --model file)',
  },
} as const satisfies OptionTable;

export const OPTIMIZER_OPTIONS = {
  optimizer: {
    type: 'string',
    value: 'NAME',
    default: 'momentum',
    onlyIf: TRAINER_ONLY,
    help: 'sgd, momentum (SGD with momentum) or adam',
  },
  momentum: {
    type: 'number',
    value: 'MU',
    onlyIf: [
      TRAINER_ONLY,
      { when: (o) => o.optimizer !== 'adam', why: 'applies to sgd and momentum, not adam; leave it out' },
    ],
    help: 'momentum in [0, 1); with sgd a value > 0 means SGD with momentum (default 0.9 for momentum)',
  },
} as const satisfies OptionTable;

/** The step schedule's own options apply only to it. */
const STEP_SCHEDULE_ONLY: Applies = {
  when: (o) => o.schedule === 'step',
  why: 'only applies with --schedule step; add --schedule step or leave it out',
};

export const SCHEDULE_OPTIONS = {
  schedule: {
    type: 'string',
    value: 'NAME',
    default: 'constant',
    choices: LR_SCHEDULES,
    onlyIf: TRAINER_ONLY,
    help: 'LR schedule after warm-up',
  },
  'warmup-steps': {
    type: 'count',
    value: 'N',
    default: 0,
    onlyIf: TRAINER_ONLY,
    help: 'steps of linear LR warm-up (fewer than the run has)',
  },
  'lr-step-every': {
    type: 'int',
    value: 'N',
    onlyIf: [TRAINER_ONLY, STEP_SCHEDULE_ONLY],
    help: 'step schedule: decay every N steps',
  },
  'lr-gamma': {
    type: 'number',
    value: 'G',
    onlyIf: [TRAINER_ONLY, STEP_SCHEDULE_ONLY],
    help: 'step schedule: decay factor in (0, 1] (default 0.1)',
  },
} as const satisfies OptionTable;

export const SEED_OPTION = {
  seed: { type: 'count', value: 'N', default: 1, help: 'seeds the initial weights and the batch order' },
} as const satisfies OptionTable;

export const RUN_OPTIONS = {
  'last-batch': {
    type: 'string',
    value: 'POLICY',
    default: 'keep',
    choices: LAST_BATCH_POLICIES,
    onlyIf: TRAINER_ONLY,
    help: 'the partial last batch of an epoch',
  },
  backend: {
    type: 'string',
    value: 'NAME',
    onlyIf: TRAINER_ONLY,
    help: 'force a TF.js backend: batchlab-native, tensorflow, wasm, cpu (default: best available)',
  },
} as const satisfies OptionTable;

/** Everything that describes a TF.js run but its LR schedule (what find-max, recommend and noise probe). */
export const MODEL_RUN_OPTIONS = {
  ...DATA_OPTIONS,
  ...MODEL_OPTIONS,
  ...OPTIMIZER_OPTIONS,
  ...SEED_OPTION,
  ...RUN_OPTIONS,
} as const satisfies OptionTable;

/** The flags of the groups above as the conversion reads them (a command may lack some groups). */
export interface RunFlags {
  dataset: string;
  file?: string;
  'labels-file'?: string;
  'label-column'?: string;
  limit?: number;
  model: string;
  hidden: string;
  'model-file'?: string;
  optimizer: string;
  momentum?: number;
  schedule?: string;
  'warmup-steps'?: number;
  'lr-step-every'?: number;
  'lr-gamma'?: number;
  seed?: number;
  'last-batch': string;
  backend?: string;
}

/**
 * The TrainConfig of the flags: trainConfig's defaults, the flags' values, then `fields` (batch, LR,
 * budget and evaluation, which each command sets its own way).
 */
export function trainConfigFrom(o: RunFlags, fields: Partial<TrainConfig> = {}): TrainConfig {
  return trainConfig({
    dataset: o.dataset,
    datasetOptions: datasetOptionsFrom(o),
    model: modelSpecFrom(o),
    optimizer: optimizerFrom(o),
    lastBatch: o['last-batch'] as LastBatchPolicy,
    seed: o.seed ?? 1,
    backend: o.backend,
    schedule: (o.schedule ?? 'constant') as LrScheduleKind,
    warmupSteps: o['warmup-steps'] ?? 0,
    lrStepEvery: o['lr-step-every'],
    lrGamma: o['lr-gamma'],
    ...fields,
  });
}

/** The model spec from --model, --hidden (an MLP's) and --model-file. */
function modelSpecFrom(o: RunFlags): ModelSpec {
  if (!(MODEL_NAMES as readonly string[]).includes(o.model))
    throw new UnknownNameError('BATCHLAB_UNKNOWN_MODEL', 'model', o.model, MODEL_NAMES);
  const name = o.model as ModelName;
  if (name === 'file') return { name, path: o['model-file'] };
  if (name !== 'mlp') return { name };
  const hidden = o.hidden.split(',').map((w) => parsePositiveInt(w, '--hidden width', { example: '256,128' }));
  return { name, hidden };
}

/** --optimizer and --momentum; sgd with a momentum > 0 is SGD with momentum. */
function optimizerFrom(o: RunFlags): OptimizerConfig {
  assertOptimizerName(o.optimizer);
  if (o.optimizer === 'sgd' && o.momentum !== undefined && o.momentum > 0)
    return { name: 'momentum', momentum: o.momentum };
  return { name: o.optimizer, momentum: o.momentum };
}

/** The dataset loader's options; --label-column is an index when it is an integer, else a header name. */
function datasetOptionsFrom(o: RunFlags): LoadOptions {
  const col = o['label-column'];
  return {
    limit: o.limit,
    file: o.file,
    labelsFile: o['labels-file'],
    labelColumn: col === undefined ? undefined : /^-?\d+$/.test(col) ? Number(col) : col,
  };
}
