/**
 * The external-command trainer: a user's own training command (PyTorch, JAX, ...) run as one trial of
 * the protocol (docs/protocol.md). Its reported steps become step records, its eval fields evaluation
 * records, and its end either a TrainResult (finished or interrupted) or a TrainFailedError that says
 * how it failed (out of memory, over the budget, timed out, crashed), so it is summarized, recorded and
 * probed exactly like a TF.js run.
 */
import { parseOomMessage } from '../../core/oom-message.js';
import type { SplitMetrics, StatedMemory, TrainResult } from '../../core/run.js';
import type { EvalRecord, StepRecord } from '../../core/types.js';
import { TRIAL_FAILURE_STATUS, TrainFailedError } from '../oom.js';
import type { RunPlan, Trainer, TrainHooks } from '../trainer.js';
import type { ExternalStep } from './metrics.js';
import { type BudgetMeasure, type TrialResult, TrialRunner } from './runner.js';
import { expandCommand, type ResolvedValues, resolveValues, type TrialValues } from './template.js';

/** A user's training command: `{batch}`, `{lr}`, ... are filled per run. */
export interface CommandSpec {
  /** e.g. "/usr/bin/python3 examples/pytorch/train.py --batch-size {batch} --accum {accum} --max-steps {max_steps}". */
  template: string;
  /** Kill a run after this long. */
  timeoutMs?: number;
}

/** Options of ExternalTrainer. */
export interface ExternalTrainerOptions {
  command: CommandSpec;
  values: TrialValues;
  /** Kill the command when its memory passes this (outcome 'over-budget'); peakBytes is then on this measure. */
  memoryBudget?: { bytes: number; on: BudgetMeasure };
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The one GPU the run was given (CUDA_VISIBLE_DEVICES set in `env`): GPU memory is read on it only. */
  gpu?: string;
  /** Runs the trial and owns its processes; default: one of its own, disposed after the run. */
  runner?: TrialRunner;
}

/** Lines of stderr quoted in the reason of a crash. */
const STDERR_QUOTED_LINES = 15;

/** The peak a trial measured on `on`. */
export function measuredPeakBytes(r: TrialResult, on: BudgetMeasure): number | undefined {
  return on === 'rss' ? r.peakRssBytes : on === 'gpu' ? r.peakGpuBytes : r.reportedPeakBytes;
}

/** Step records from the command's reports; fields it did not report are NaN (or derived when exact). */
export function toStepRecords(steps: readonly ExternalStep[], values: ResolvedValues): StepRecord[] {
  let prevMs = 0;
  return steps.map((s) => {
    const batchSize = s.batchSize ?? values.batch;
    const stepMs = s.stepMs ?? s.receivedMs - prevMs;
    prevMs = s.receivedMs;
    return {
      step: s.step,
      samples: s.samples ?? s.step * batchSize,
      loss: s.loss ?? NaN,
      lr: s.lr ?? values.lr ?? NaN,
      stepMs,
      batchSize,
      microBatchSize: s.microBatchSize ?? values.microBatch,
      accumSteps: s.accumSteps ?? values.accum,
      gradSqNorm: s.gradSqNorm ?? NaN,
      microGradSqNorm: s.microGradSqNorm ?? NaN,
      peakBytes: s.peakBytes ?? 0,
    };
  });
}

/** Protocol eval fields (eval_/test_/val_ loss and accuracy) as held-out evaluation records. */
export function toEvalRecords(steps: readonly ExternalStep[], batchSize: number): EvalRecord[] {
  return steps
    .map((s) => ({ s, m: heldOut(s.evals) }))
    .filter(({ m }) => m.loss !== undefined || m.accuracy !== undefined)
    .map(({ s, m }) => ({
      step: s.step,
      samples: s.samples ?? s.step * batchSize,
      split: 'test' as const,
      loss: m.loss ?? NaN,
      accuracy: m.accuracy,
    }));
}

/** The held-out loss and accuracy among a step's eval fields, whichever prefix the script used. */
function heldOut(evals: Record<string, number>): Partial<SplitMetrics> {
  const pick = (suffix: string) =>
    ['eval_', 'test_', 'val_'].map((p) => evals[`${p}${suffix}`]).find((v) => v !== undefined);
  return { loss: pick('loss'), accuracy: pick('accuracy') ?? pick('acc') };
}

/** The last stderr lines, indented, for the reason of a crash. */
function stderrBlock(r: TrialResult): string {
  const tail = r.stderrTail.slice(-STDERR_QUOTED_LINES);
  return tail.length === 0 ? ' (no stderr output)' : `; stderr:\n  ${tail.join('\n  ')}`;
}

/**
 * How a trial that did not finish failed. A crash ('error') quotes its stderr tail and the command; a
 * timeout stays a timeout: a slow large batch is not a batch that does not fit. Only a run stopped at
 * the budget measured a peak that means something; a crashed or killed one did not get there. An
 * out-of-memory keeps the figures of its message, read from the whole stderr tail (the reason quotes
 * only the start of the line, and PyTorch states the cap near its end).
 */
function failureOf(r: TrialResult, budget: ExternalTrainerOptions['memoryBudget']): TrainFailedError {
  const status = TRIAL_FAILURE_STATUS[r.outcome];
  return new TrainFailedError({
    status,
    reason: r.outcome === 'error' ? `${r.reason}${stderrBlock(r)}\n  command: ${r.command}` : r.reason,
    peakBytes: status === 'over-budget' && budget ? measuredPeakBytes(r, budget.on) || undefined : undefined,
    vmHwmBytes: r.peakRssBytes || undefined,
    oom: status === 'oom' ? parseOomMessage(r.stderrTail.join('\n')) : undefined,
  });
}

/**
 * A command that exited 0 without reporting a single step did not train as far as batchlab can tell (a
 * wrong script, output to the wrong place, a flag it ignored): a failed run that says so, never a 'done'
 * run with no steps.
 */
function noMetrics(r: TrialResult): TrainFailedError {
  const malformed =
    r.malformedLines === 0
      ? ''
      : ` (${r.malformedLines} malformed line${r.malformedLines === 1 ? '' : 's'} ignored, the first: ${r.malformedSamples[0]?.reason})`;
  return new TrainFailedError({
    status: 'failed',
    reason:
      `the command exited with status 0 but printed no batchlab metric lines${malformed}: no \`batchlab: {"step": N, ...}\` ` +
      'line on stdout and no line in the file named by BATCHLAB_METRICS; report one JSON line per update ' +
      `(docs/protocol.md, section 2)${stderrBlock(r)}\n  command: ${r.command}`,
    vmHwmBytes: r.peakRssBytes || undefined,
  });
}

/**
 * What the command stated of its memory in its metrics lines (docs/protocol.md, section 2): the last
 * memory_limit_bytes, the largest peak_reserved_bytes and the largest peak_mem_bytes; undefined when it
 * stated neither a limit nor a reserved peak.
 */
export function statedMemory(raw: readonly Record<string, unknown>[]): StatedMemory | undefined {
  const numbers = (key: string): number[] =>
    raw.map((r) => r[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
  const limits = numbers('memory_limit_bytes');
  const reserved = numbers('peak_reserved_bytes');
  if (limits.length === 0 && reserved.length === 0) return undefined;
  // A process that states its allocator's cap or reserved peak reports the allocator's own peak as peak_mem_bytes.
  const allocated = numbers('peak_mem_bytes');
  return {
    ...(limits.length > 0 ? { limitBytes: limits.at(-1) } : {}),
    ...(reserved.length > 0 ? { peakReservedBytes: Math.max(...reserved) } : {}),
    ...(allocated.length > 0 ? { peakAllocatedBytes: Math.max(...allocated) } : {}),
  };
}

/** A finished (or interrupted) trial as a TrainResult; peakBytes on the budget's measure when there is one. */
function asTrainResult(
  trial: TrialResult,
  steps: StepRecord[],
  evals: EvalRecord[],
  budget: ExternalTrainerOptions['memoryBudget'],
): TrainResult {
  const last = trial.evals;
  const test = heldOut(last);
  const stated = statedMemory(trial.rawMetrics);
  const peakBytes = budget
    ? measuredPeakBytes(trial, budget.on)
    : (trial.reportedPeakBytes ?? trial.peakGpuBytes ?? trial.peakRssBytes);
  return {
    status: trial.outcome === 'interrupted' ? 'interrupted' : 'done',
    steps,
    evals,
    final: {
      train: { loss: last.train_loss ?? NaN, accuracy: last.train_accuracy },
      test: { loss: test.loss ?? NaN, accuracy: test.accuracy },
    },
    trainMs: steps.reduce((t, s) => t + s.stepMs, 0),
    wallMs: trial.wallMs,
    samples: steps.at(-1)?.samples ?? 0,
    peakBytes: peakBytes ?? trial.peakRssBytes,
    vmHwmBytes: trial.peakRssBytes || undefined,
    distanceFromInit: NaN,
    ...(stated === undefined ? {} : { statedMemory: stated }),
  };
}

/** One run of a user's command. */
export class ExternalTrainer implements Trainer {
  private readonly options: ExternalTrainerOptions;

  constructor(options: ExternalTrainerOptions) {
    this.options = options;
  }

  /** Checks the values (B = b x k) and the template: a bad plan or an unknown placeholder fails here, before the command runs. */
  async prepare(): Promise<RunPlan> {
    const v = resolveValues(this.options.values);
    expandCommand(this.options.command.template, v);
    return {
      backend: 'external command',
      batchSize: v.batch,
      microBatchSize: v.microBatch,
      accumSteps: v.accum,
      plan: `${v.batch} = ${v.microBatch} x ${v.accum}`,
      totalSteps: v.maxSteps ?? 0,
    };
  }

  async run(hooks: TrainHooks = {}): Promise<TrainResult> {
    await this.prepare();
    const o = this.options;
    const values = resolveValues(o.values);
    const runner = o.runner ?? new TrialRunner();
    try {
      const trial = await runner.runTrial({
        cmd: o.command.template,
        values: values,
        timeoutMs: o.command.timeoutMs,
        memoryBudgetBytes: o.memoryBudget?.bytes,
        budgetOn: o.memoryBudget?.on,
        signal: hooks.signal,
        cwd: o.cwd,
        env: o.env,
        gpu: o.gpu,
        onMetric: (s) =>
          hooks.onProgress?.({
            step: s.step,
            samples: s.samples ?? s.step * values.batch,
            loss: s.loss ?? NaN,
            stepMs: s.stepMs ?? NaN,
            batchSize: s.batchSize ?? values.batch,
          }),
      });
      // A step may gain fields from a later line, so the records are final only now.
      const steps = toStepRecords(trial.steps, values);
      const evals = toEvalRecords(trial.steps, values.batch);
      for (const s of steps) hooks.onStep?.(s);
      for (const e of evals) hooks.onEval?.(e);
      if (trial.outcome !== 'ok' && trial.outcome !== 'interrupted') throw failureOf(trial, o.memoryBudget);
      if (trial.outcome === 'ok' && steps.length === 0) throw noMetrics(trial);
      return asTrainResult(trial, steps, evals, o.memoryBudget);
    } finally {
      if (o.runner === undefined) await runner.dispose();
    }
  }
}
