/**
 * Runs one trainer and records it: its steps and evaluations as they come (SQLite in WAL mode, so a
 * dashboard reads them live and a killed parent loses no finished run), then its status, reason and
 * summary. The same code records a TF.js run (inside its worker process) and a command (in this one).
 */
import type { TrainResult } from '../../core/run.js';
import { type RunFacts, summarizeRun } from '../../core/summarize-run.js';
import type { RunSummary } from '../../core/summary.js';
import { classifyError } from '../../engine/oom.js';
import type { RunPlan, Trainer } from '../../engine/trainer.js';
import type { CheckpointWriter } from '../../engine/tfjs/trainer.js';
import { openStore, StepWriter, type Store, writeOutputFile } from '../../store/index.js';
import { INTERRUPTED_REASON, type RunHooks, type RunOutcome, type RunRecord } from './outcome.js';

/**
 * Writes a TF.js run's checkpoint file the way batchlab writes every file (store/output.ts): atomically,
 * never onto the store in use (`storePath`).
 */
export function checkpointWriter(storePath?: string): CheckpointWriter {
  return (path, bytes) => {
    writeOutputFile({ path, data: bytes, storePath });
  };
}

/** What the summary needs that the trainer's plan does not say: the seed, the peak LR, the target. */
export type RunIdentity = Pick<RunFacts, 'seed' | 'lr' | 'target'>;

/** The summary of a run that trained: what its steps say, with the facts of its plan and identity. */
export function summarize(result: TrainResult, plan: RunPlan, identity: RunIdentity): RunSummary {
  return summarizeRun(result, {
    ...identity,
    batchSize: plan.batchSize,
    microBatchSize: plan.microBatchSize,
    accumSteps: plan.accumSteps,
    backend: plan.backend,
    vmHwmBytes: result.vmHwmBytes,
  });
}

/** Runs `trainer` to its end and records it under `record` (when given); never throws for a failed run. */
export async function runAndRecord(
  trainer: Trainer,
  o: { identity: RunIdentity; record?: RunRecord; hooks?: RunHooks },
): Promise<RunOutcome> {
  const startMs = performance.now();
  const hooks = o.hooks ?? {};
  const store = o.record ? openStore(o.record.dbPath) : undefined;
  const runId = o.record?.runId ?? 0;
  try {
    store?.startRun(runId);
    try {
      const plan = await trainer.prepare();
      hooks.onStart?.(plan);
      const result = await trainRecorded(trainer, store, runId, hooks);
      const summary = summarize(result, plan, o.identity);
      const interrupted = result.status === 'interrupted';
      store?.finishRun(runId, {
        status: interrupted ? 'interrupted' : 'done',
        reason: interrupted ? INTERRUPTED_REASON : undefined,
        summary,
      });
      const wallMs = performance.now() - startMs;
      return interrupted
        ? { status: 'interrupted', summary, code: 'BATCHLAB_INTERRUPTED', reason: INTERRUPTED_REASON, wallMs }
        : {
            status: 'done',
            summary,
            reason: '',
            wallMs,
            stepMs: result.steps.map((s) => s.stepMs),
            ...(result.statedMemory ? { statedMemory: result.statedMemory } : {}),
          };
    } catch (err) {
      const failure = classifyError(err);
      store?.finishRun(runId, { status: failure.status, reason: failure.reason });
      return { ...failure, wallMs: performance.now() - startMs };
    }
  } finally {
    store?.close();
  }
}

/** The trainer's run, with its steps and evaluations going to the store as they come. */
async function trainRecorded(
  trainer: Trainer,
  store: Store | undefined,
  runId: number,
  hooks: RunHooks,
): Promise<TrainResult> {
  const writer = store ? new StepWriter(store, runId) : undefined;
  try {
    return await trainer.run({
      signal: hooks.signal,
      onProgress: (p) => hooks.onStep?.(p),
      onStep: (s) => writer?.add(s),
      onEval: (e) => {
        writer?.flush();
        store?.appendEvals(runId, [e]);
      },
    });
  } finally {
    writer?.close();
  }
}
