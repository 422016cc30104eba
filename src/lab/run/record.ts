/**
 * Runs one trainer and records it: its steps and evaluations as they come (SQLite in WAL mode, so a
 * dashboard reads them live and a killed parent loses no finished run), then its status, reason and
 * summary. The same code records a TF.js run (inside its worker process) and a command (in this one).
 *
 * Every write carries the attempt that Store.startRun began (AttemptRecord), so the writes of an attempt
 * that a resume replaced are refused. How an attempt that did not finish is recorded: a run stopped by
 * its environment (a full disk, an I/O error, a signal, a lost parent) is 'interrupted' and a resume
 * runs it again; one that failed on its own (diverged, out of memory, its command's error) keeps that
 * status (classifyRunFailure in the store, then the OOM table of engine/oom.ts).
 */
import type { RunPhasesMs, TrainResult } from '../../core/run.js';
import { type RunFacts, summarizeRun } from '../../core/summarize-run.js';
import type { RunSummary } from '../../core/summary.js';
import { classifyError, type RunFailure } from '../../engine/oom.js';
import type { RunPlan, Trainer } from '../../engine/trainer.js';
import type { CheckpointWriter } from '../../engine/tfjs/trainer.js';
import {
  classifyRunFailure,
  openStore,
  StaleAttemptError,
  StepWriter,
  type Store,
  writeOutputFile,
} from '../../store/index.js';
import { type AttemptRecord, INTERRUPTED_REASON, type RunHooks, type RunOutcome } from './outcome.js';

/**
 * Writes a TF.js run's checkpoint file the way batchlab writes every file (store/output.ts): atomically,
 * never onto the store in use (`storePath`).
 */
export function checkpointWriter(storePath?: string): CheckpointWriter {
  return (path, bytes) => {
    writeOutputFile({ path, data: bytes, storePath });
  };
}

/** What the summary needs that the trainer's plan does not say: the seed, the peak LR, the target, how it was timed. */
export type RunIdentity = Pick<RunFacts, 'seed' | 'lr' | 'target' | 'timing'>;

/** An outcome before its wall time is known. */
type Ending = Omit<RunOutcome, 'wallMs'>;

/** The summary of a run that trained: what its steps say, with the facts of its plan and identity. */
export function summarize(result: TrainResult, plan: RunPlan, identity: RunIdentity): RunSummary {
  return summarizeRun(result, {
    ...identity,
    batchSize: plan.batchSize,
    microBatchSize: plan.microBatchSize,
    accumSteps: plan.accumSteps,
    backend: plan.backend,
    vmHwmBytes: result.vmHwmBytes,
    timing: identity.timing,
  });
}

/**
 * How an error that ended an attempt is recorded. Interrupted: a newer attempt took the run over, a
 * deliberate stop, or the environment (SQLITE_FULL, ENOSPC, EIO, ... anywhere in its cause chain); the
 * reason says which. Anything else is the run's own failure, sorted by the OOM table (classifyError).
 */
export function runFailure(err: unknown): RunFailure {
  if (err instanceof StaleAttemptError) return interrupted(err.message);
  const cls = classifyRunFailure(err);
  if (cls.kind === 'failed') return classifyError(err);
  const message = err instanceof Error ? err.message : String(err);
  if (cls.code === 'BATCHLAB_INTERRUPTED' || cls.code === 'ABORT_ERR')
    return interrupted(message || INTERRUPTED_REASON);
  return interrupted(`stopped by its environment (${cls.code}): ${message}`);
}

function interrupted(reason: string): RunFailure {
  return { status: 'interrupted', code: 'BATCHLAB_INTERRUPTED', reason };
}

/**
 * Runs `trainer` to its end and records it under `record` (when given); never throws for a failed run.
 * `phasesMs`: phases measured before the trainer started (a worker's process start), added to the summary's.
 */
export async function runAndRecord(
  trainer: Trainer,
  o: { identity: RunIdentity; record?: AttemptRecord; hooks?: RunHooks; phasesMs?: Partial<RunPhasesMs> },
): Promise<RunOutcome> {
  const startMs = performance.now();
  let store: Store | undefined;
  try {
    store = o.record ? openStore(o.record.dbPath) : undefined;
    const ending = await train(trainer, { ...o, store });
    return { ...recordEnd(store, o.record, ending), wallMs: performance.now() - startMs };
  } catch (err) {
    // The store could not be opened (nothing was trained), or the end could not be recorded at all.
    return { ...runFailure(err), wallMs: performance.now() - startMs };
  } finally {
    store?.close();
  }
}

/** The result with phases measured outside the trainer added to its own (a trainer that measures none gets none). */
function withPhases(result: TrainResult, extra: Partial<RunPhasesMs> | undefined): TrainResult {
  if (!result.phasesMs || !extra) return result;
  const phasesMs: RunPhasesMs = { ...result.phasesMs };
  for (const [k, ms] of Object.entries(extra) as [keyof RunPhasesMs, number][]) phasesMs[k] = (phasesMs[k] ?? 0) + ms;
  return { ...result, phasesMs };
}

/** Trains, recording steps and evaluations as they come; how it ended (never throws). */
async function train(
  trainer: Trainer,
  o: {
    identity: RunIdentity;
    record?: AttemptRecord;
    hooks?: RunHooks;
    store?: Store;
    phasesMs?: Partial<RunPhasesMs>;
  },
): Promise<Ending> {
  const hooks = o.hooks ?? {};
  try {
    const plan = await trainer.prepare();
    hooks.onStart?.(plan);
    const result = withPhases(await trainRecorded(trainer, o.store, o.record, hooks), o.phasesMs);
    const summary = summarize(result, plan, o.identity);
    return result.status === 'interrupted'
      ? { status: 'interrupted', summary, code: 'BATCHLAB_INTERRUPTED', reason: INTERRUPTED_REASON }
      : {
          status: 'done',
          summary,
          reason: '',
          stepMs: result.steps.map((s) => s.stepMs),
          ...(result.statedMemory ? { statedMemory: result.statedMemory } : {}),
        };
  } catch (err) {
    return runFailure(err);
  }
}

/**
 * Records how the attempt ended. When that write fails for an environmental reason (a full disk, a newer
 * attempt that took the run over), the run is not recorded as ended: it is 'interrupted' and a resume
 * runs it again. Any other refusal (a summary the schema rejects: a bug) is recorded as the run's failure.
 */
function recordEnd(store: Store | undefined, record: AttemptRecord | undefined, ending: Ending): Ending {
  if (store === undefined || record === undefined) return ending;
  const finish = (e: Ending) =>
    store.finishRun(record.runId, {
      status: e.status,
      reason: e.status === 'done' ? undefined : e.reason,
      summary: e.summary,
      attempt: record.attempt,
    });
  try {
    finish(ending);
    return ending;
  } catch (err) {
    const failure = runFailure(err);
    if (failure.status === 'interrupted')
      return {
        ...failure,
        reason: `the run ended (${ending.status}) but that could not be recorded: ${failure.reason}`,
      };
    finish(failure);
    return failure;
  }
}

/** The trainer's run, with its steps and evaluations going to the store as they come (the time spent writing is its `record` phase). */
async function trainRecorded(
  trainer: Trainer,
  store: Store | undefined,
  record: AttemptRecord | undefined,
  hooks: RunHooks,
): Promise<TrainResult> {
  const runId = record?.runId ?? 0;
  const attempt = record?.attempt;
  const writer = store ? new StepWriter(store, runId, { attempt }) : undefined;
  let trained = false;
  let recordMs = 0;
  const timed = (write: () => void) => {
    const t0 = performance.now();
    write();
    recordMs += performance.now() - t0;
  };
  try {
    const result = await trainer.run({
      signal: hooks.signal,
      onProgress: (p) => hooks.onStep?.(p),
      onStep: (s) => writer && timed(() => writer.add(s)),
      onEval: (e) =>
        timed(() => {
          writer?.flush();
          store?.appendEvals(runId, [e], { attempt });
        }),
    });
    // The last steps of a run that trained must be written (a failure here is the run's end).
    if (writer) timed(() => writer.close());
    trained = true;
    const phasesMs = result.phasesMs && {
      ...result.phasesMs,
      record: recordMs,
      other: Math.max(0, (result.phasesMs.other ?? 0) - recordMs),
    };
    return { ...result, phasesMs };
  } finally {
    // After a failed run (or a failed last write), its own error is the one to report.
    if (!trained) closeQuietly(writer);
  }
}

function closeQuietly(writer: StepWriter | undefined): void {
  try {
    writer?.close();
  } catch {
    // the run already failed; that error is the one recorded
  }
}
