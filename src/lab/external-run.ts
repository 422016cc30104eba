/**
 * One sweep run of a user's own training command (PyTorch, JAX, ...): run it through the external
 * protocol (docs/protocol.md), store its reported steps, and summarize it like a TF.js run.
 */
import type { EvalRecord, StepRecord } from '../core/types.js';
import type { TrainResult } from '../engine/trainer.js';
import { TrialRunner, type ExternalStep, type TrialResult } from '../engine/external/index.js';
import type { Run, Store } from '../store/index.js';
import { summarizeRun } from './summarize-run.js';
import type { RunSummary } from './summary.js';

/** The command side of a sweep: `{batch}`, `{lr}`, ... are filled per run. */
export interface CommandSpec {
  /** e.g. "/usr/bin/python3 examples/pytorch/train.py --batch-size {batch} --accum {accum} --max-steps {max_steps}". */
  template: string;
  /** Kill a run after this long. */
  timeoutMs?: number;
}

export interface ExternalRunInput {
  store: Store;
  run: Run;
  spec: CommandSpec;
  maxSteps: number;
  signal?: AbortSignal;
  onStep?(info: { step: number; samples: number; loss: number; stepMs: number }): void;
}

/** Step records from the command's reports; fields it did not report are NaN (or derived when exact). */
export function toStepRecords(
  steps: readonly ExternalStep[],
  run: Pick<Run, 'batchSize' | 'microBatchSize' | 'accumSteps' | 'lr'>,
): StepRecord[] {
  let prevMs = 0;
  return steps.map((s) => {
    const batchSize = s.batchSize ?? run.batchSize;
    const stepMs = s.stepMs ?? s.receivedMs - prevMs;
    prevMs = s.receivedMs;
    return {
      step: s.step,
      samples: s.samples ?? s.step * batchSize,
      loss: s.loss ?? NaN,
      lr: s.lr ?? run.lr,
      stepMs,
      batchSize,
      microBatchSize: s.microBatchSize ?? run.microBatchSize,
      accumSteps: s.accumSteps ?? run.accumSteps,
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
function heldOut(evals: Record<string, number>): { loss?: number; accuracy?: number } {
  const pick = (suffix: string) =>
    ['eval_', 'test_', 'val_'].map((p) => evals[`${p}${suffix}`]).find((v) => v !== undefined);
  return { loss: pick('loss'), accuracy: pick('accuracy') ?? pick('acc') };
}

/** A TrainResult-shaped view of a trial, so the summary code is shared with TF.js runs. */
function asTrainResult(trial: TrialResult, steps: StepRecord[], evals: EvalRecord[]): TrainResult {
  const last = trial.evals;
  const test = heldOut(last);
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
    peakBytes: trial.reportedPeakBytes ?? trial.peakGpuBytes ?? trial.peakRssBytes,
    distanceFromInit: NaN,
  };
}

/** Runs the command for one run, stores its steps and evals, and finishes the run with its summary. */
export async function runExternal(
  input: ExternalRunInput,
): Promise<{ status: Run['status']; reason?: string; summary?: RunSummary }> {
  const { store, run } = input;
  const runner = new TrialRunner();
  try {
    store.startRun(run.id);
    const trial = await runner.runTrial({
      cmd: input.spec.template,
      values: {
        batch: run.batchSize,
        microBatch: run.microBatchSize,
        accum: run.accumSteps,
        lr: run.lr,
        maxSteps: input.maxSteps,
        seed: run.seed,
      },
      timeoutMs: input.spec.timeoutMs,
      signal: input.signal,
      onMetric: (s) =>
        input.onStep?.({
          step: s.step,
          samples: s.samples ?? s.step * run.batchSize,
          loss: s.loss ?? NaN,
          stepMs: s.stepMs ?? NaN,
        }),
    });
    const steps = toStepRecords(trial.steps, run);
    const evals = toEvalRecords(trial.steps, run.batchSize);
    store.appendSteps(run.id, steps);
    store.appendEvals(run.id, evals);
    const outcome = finishStatus(trial);
    const summary =
      outcome.status === 'done' || outcome.status === 'interrupted'
        ? summarizeRun(asTrainResult(trial, steps, evals), {
            batchSize: run.batchSize,
            microBatchSize: run.microBatchSize,
            accumSteps: run.accumSteps,
            seed: run.seed,
            lr: run.lr,
            backend: 'external command',
            vmHwmBytes: trial.peakRssBytes,
          })
        : undefined;
    store.finishRun(run.id, { ...outcome, summary });
    return { ...outcome, summary };
  } finally {
    await runner.dispose();
  }
}

function finishStatus(trial: TrialResult): {
  status: 'done' | 'interrupted' | 'oom' | 'over-budget' | 'timeout' | 'failed';
  reason?: string;
} {
  switch (trial.outcome) {
    case 'ok':
      return { status: 'done' };
    case 'error':
      return { status: 'failed', reason: `${trial.reason}\n${trial.stderrTail.slice(-10).join('\n')}` };
    default:
      return { status: trial.outcome, reason: trial.reason };
  }
}
