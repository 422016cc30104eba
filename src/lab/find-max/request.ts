/**
 * find-max from what a user asks for: a TF.js model on a dataset, or a training command, under a memory
 * budget. planFindMax loads the dataset (for the largest batch it allows) or checks the command's
 * template, picks what the budget is compared with, and builds the prober; runFindMax then runs the
 * search (find-max.ts). The command line's `batchlab find-max` is one call of runFindMax.
 */
import { UsageError } from '../../core/errors.js';
import { type FindMaxSettings, findMaxSettings } from '../../core/find-max.js';
import { num } from '../../core/format.js';
import { defaultLrRule, type LrRule } from '../../core/lr.js';
import { MAX_MARGIN } from '../../core/margin.js';
import { escapeControl } from '../../core/text.js';
import { loadDataset } from '../../data/registry.js';
import { expandCommand, resolveValues } from '../../engine/external/template.js';
import { checkTrainConfig, dataFacts, type TrainConfig } from '../../engine/tfjs/trainer.js';
import { MEASURE_ONLY_LR } from '../run/probe.js';
import { findMax, type FindMaxHooks, type FindMaxReport } from './find-max.js';
import { commandProber, type Prober, tfjsProber, warmCommandProber } from './probers.js';

/** Largest batch a command is probed at unless `maxBatch` says otherwise. */
export const DEFAULT_COMMAND_MAX_BATCH = 65_536;
/** What a budget may be compared with: TF.js models use the first two, commands the last three. */
export const BUDGET_MEASURES = ['tensor', 'rss', 'gpu', 'reported'] as const;
export type BudgetOn = (typeof BUDGET_MEASURES)[number];

/** What is probed: a TF.js model (its config; batch, budget and LR are set per probe) or a command. */
export type FindMaxSubject =
  | { kind: 'tfjs'; base: TrainConfig }
  | {
      kind: 'command';
      /** The template (docs/protocol.md); `{batch}` and `{max_steps}` are filled per probe. */
      cmd: string;
      /** Seconds before a probe is killed (a timeout stops the search: it does not mean "too big"). */
      timeoutS: number;
      /** Fills `{lr}` and `{seed}` when the template has them. */
      lr?: number;
      seed?: number;
      /** Warm probes: the command starts once and reads each probe's batch from stdin (docs/protocol.md). */
      warm?: boolean;
    };

/** A find-max as asked for; what is not given takes find-max's defaults (core/find-max findMaxSettings). */
export interface FindMaxRequest {
  dbPath: string;
  subject: FindMaxSubject;
  budgetBytes: number;
  /** Default: a TF.js model's tensor peak, a command's process-tree RSS. */
  budgetOn?: BudgetOn;
  marginFloor?: number;
  /** Largest batch to try; default the training-set size (TF.js), DEFAULT_COMMAND_MAX_BATCH (a command). */
  maxBatch?: number;
  probeSteps?: number;
  verifySteps?: number;
  maxTrials?: number;
  /** A batch the user wants: above the maximum, the report gives an accumulation plan and LR for it. */
  targetBatch?: number;
  /** LR scaling for the target batch; the rule defaults to the optimizer's (defaultLrRule). */
  lr?: { rule?: LrRule; baseLr?: number; baseBatch?: number };
}

/** What find-max runs: its settings, the prober, and the subject in one line. */
export interface FindMaxPlan {
  settings: FindMaxSettings;
  prober: Prober;
  title: string;
}

/** Hooks of runFindMax: find-max's, and the plan before the first probe. */
export interface RunFindMaxHooks extends FindMaxHooks {
  onPlan?(plan: FindMaxPlan): void;
}

/** Plans and runs find-max, stored as a 'find-max' experiment in request.dbPath (see findMax for the errors). */
export async function runFindMax(request: FindMaxRequest, hooks: RunFindMaxHooks = {}): Promise<FindMaxReport> {
  const plan = planFindMax(request);
  hooks.onPlan?.(plan);
  return findMax({ dbPath: request.dbPath, settings: plan.settings, prober: plan.prober }, hooks);
}

/** The settings and the prober of a request; throws a typed error (exit 2) for a bad value, before any probe. */
export function planFindMax(r: FindMaxRequest): FindMaxPlan {
  if (r.marginFloor !== undefined && !(r.marginFloor >= 0 && r.marginFloor <= MAX_MARGIN)) {
    throw new UsageError(
      `--margin must be in [0, ${MAX_MARGIN}] (a fraction of the budget held back), got ${r.marginFloor}; pass e.g. --margin 0.1`,
    );
  }
  return r.subject.kind === 'tfjs' ? tfjsPlan(r, r.subject) : commandPlan(r, r.subject);
}

/** Settings shared by both kinds of subject. */
function settingsOf(
  r: FindMaxRequest,
  budgetOn: BudgetOn,
  cap: number,
  tfjs?: { optimizer: string; trainCount: number },
): FindMaxSettings {
  const { subject, ...rest } = r;
  return findMaxSettings({
    budgetBytes: r.budgetBytes,
    budgetOn,
    cap,
    ...definedOnly({
      marginFloor: rest.marginFloor,
      probeSteps: rest.probeSteps,
      verifySteps: rest.verifySteps,
      maxTrials: rest.maxTrials,
      targetBatch: rest.targetBatch,
    }),
    lr: { rule: r.lr?.rule ?? defaultLrRule(tfjs?.optimizer), baseLr: r.lr?.baseLr, baseBatch: r.lr?.baseBatch },
    subject:
      subject.kind === 'tfjs'
        ? { mode: 'tfjs', config: probeBase(r, subject.base), trainCount: tfjs?.trainCount }
        : { mode: 'cmd', cmd: subject.cmd, timeoutS: subject.timeoutS, warm: subject.warm === true },
  });
}

/** The fields of `o` that are defined, so that defaults are not overwritten with undefined. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The probes' shared config: a constant measure-only LR, no warm-up, probeSteps updates. */
function probeBase(r: FindMaxRequest, base: TrainConfig): TrainConfig {
  return {
    ...base,
    batchSize: 1,
    accumSteps: 1,
    budget: { maxSteps: r.probeSteps ?? findMaxSettings({ budgetBytes: 1, cap: 1 }).probeSteps },
    lr: MEASURE_ONLY_LR,
    schedule: 'constant',
    warmupSteps: 0,
    lrStepEvery: undefined,
    lrGamma: undefined,
    evalEvery: 0,
    evalTrainLimit: 256,
  };
}

/** A TF.js model on a dataset: probes are worker processes, the budget on the tensor peak or VmHWM. */
function tfjsPlan(r: FindMaxRequest, subject: { base: TrainConfig }): FindMaxPlan {
  const budgetOn = r.budgetOn ?? 'tensor';
  if (budgetOn !== 'tensor' && budgetOn !== 'rss')
    throw new UsageError(`--budget-on ${budgetOn} is for --cmd; a TF.js model budgets on tensor (default) or rss`);
  const data = loadDataset(subject.base.dataset, subject.base.datasetOptions);
  checkTrainConfig(probeBase(r, subject.base), dataFacts(data));
  const trainCount = data.train.count;
  const cap = Math.min(trainCount, r.maxBatch ?? trainCount);
  const settings = settingsOf(r, budgetOn, cap, { optimizer: subject.base.optimizer.name, trainCount });
  const model = subject.base.model;
  const title = `${model.name}${model.name === 'mlp' ? ` (hidden ${model.hidden?.join(',')})` : ''} on ${subject.base.dataset} (${num(trainCount)} training samples, so B <= ${num(cap)})`;
  return { settings, prober: tfjsProber({ base: probeBase(r, subject.base), measure: budgetOn }), title };
}

/** A training command: probes are trials of the external runner; its template is checked before any. */
function commandPlan(r: FindMaxRequest, subject: Extract<FindMaxSubject, { kind: 'command' }>): FindMaxPlan {
  const cmd = subject.cmd.trim();
  if (cmd === '')
    throw new UsageError(
      '--cmd is empty; pass e.g. --cmd "python3 train.py --batch-size {batch} --max-steps {max_steps}"',
    );
  const budgetOn = r.budgetOn ?? 'rss';
  if (budgetOn === 'tensor')
    throw new UsageError('--budget-on tensor is for TF.js models; with --cmd budget on rss (default), gpu or reported');
  if (!(subject.timeoutS > 0))
    throw new UsageError(
      `--timeout must be a positive number of seconds, got ${subject.timeoutS}; pass e.g. --timeout 600`,
    );
  const settings = settingsOf(r, budgetOn, r.maxBatch ?? DEFAULT_COMMAND_MAX_BATCH, undefined);
  // An unknown placeholder or a missing value fails here, before any probe.
  expandCommand(cmd, resolveValues({ batch: 1, maxSteps: settings.probeSteps, lr: subject.lr, seed: subject.seed }));
  const probe = {
    cmd,
    budgetBytes: settings.budgetBytes,
    budgetOn,
    timeoutMs: subject.timeoutS * 1000,
    lr: subject.lr,
    seed: subject.seed,
  };
  const prober = subject.warm ? warmCommandProber(probe) : commandProber(probe);
  const what = subject.warm ? 'command (warm probes)' : 'command';
  return { settings, prober, title: `${what}: ${escapeControl(cmd)} (B <= ${num(settings.cap)})` };
}
