/**
 * executeRun: the one way an experiment runs a run. Sweeps, find-max and recommend probes, noise
 * measurements (and the studies to come) describe the run, and get back how it ended:
 * - a TF.js run trains in a child process of its own (child.ts, worker.ts), so a real out-of-memory, a
 *   NaN or a crash ends that process only; the worker records the run itself;
 * - a user's command runs here (it is a process of its own already) through the external trainer,
 *   recorded by the same code (record.ts).
 * Either way the outcome carries the real status: done, interrupted, oom, over-budget, timeout,
 * diverged or failed, with its reason, and the summary of a run that trained.
 */
import { ExternalTrainer, type ExternalTrainerOptions } from '../../engine/external/trainer.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { RunSummary, RunTiming } from '../../core/summary.js';
import { FAILURE_CODE } from '../../engine/oom.js';
import { openStore, type Run, UNFINISHED_RUN_STATUSES } from '../../store/index.js';
import { runInWorker } from './child.js';
import type { AttemptRecord, RunEndStatus, RunHooks, RunOutcome, RunRecord } from './outcome.js';
import type { WorkerPool } from './pool.js';
import { runAndRecord } from './record.js';

/** A TF.js model trained by batchlab's own loop; `execArgv` adds Node flags to its process. */
export interface TfjsRunSpec {
  kind: 'tfjs';
  config: TrainConfig;
  execArgv?: string[];
}

/** A user's training command (docs/protocol.md), with its values (batch, micro-batch, lr, max steps, seed). */
export interface CommandRunSpec extends ExternalTrainerOptions {
  kind: 'command';
}

/** What to run. */
export type RunSpec = TfjsRunSpec | CommandRunSpec;

/** Options of executeRun. */
export interface ExecuteOptions {
  /** Where to record the run (a run row created beforehand); absent for a probe that stores nothing. */
  record?: RunRecord;
  hooks?: RunHooks;
  /** Warm worker processes for a TF.js run (pool.ts); default: a fresh process of its own. */
  workers?: WorkerPool;
  /** How the run is timed when other runs share the machine (stored with its summary). */
  timing?: RunTiming;
}

/** The function that runs runs: executeRun, or a stand-in in tests. */
export type ExecuteRun = (spec: RunSpec, options?: ExecuteOptions) => Promise<RunOutcome>;

/**
 * Runs one run to its end; resolves with its outcome (a failed run is an outcome, not a rejection).
 * With a record, this process begins the run's new attempt (Store.startRun) and the run is recorded
 * under it; a store that cannot be written (a full disk) rejects, leaving the run to a resume.
 */
export async function executeRun(spec: RunSpec, options: ExecuteOptions = {}): Promise<RunOutcome> {
  const startMs = performance.now();
  const begun = options.record ? beginAttempt(options.record) : undefined;
  if (begun?.finished) return { ...storedOutcome(begun.finished), wallMs: 0 };
  const record = begun?.attempt;
  const outcome =
    spec.kind === 'tfjs'
      ? await runTfjs(spec, record, options)
      : await runAndRecord(new ExternalTrainer(spec), {
          identity: { seed: spec.values.seed ?? 0, lr: spec.values.lr ?? NaN, timing: options.timing },
          record,
          hooks: options.hooks,
        });
  return { ...outcome, wallMs: performance.now() - startMs };
}

/**
 * Begins a new attempt of the recorded run, in one write transaction. A run that is no longer
 * unfinished is returned as it is instead: an attempt stopped by a lost parent may still finish its run
 * after a resume has planned it (its end is then recorded, complete, and nothing runs twice).
 */
function beginAttempt(record: RunRecord): { attempt?: AttemptRecord; finished?: Run } {
  const store = openStore(record.dbPath);
  try {
    return store.transaction(() => {
      const run = store.getRun(record.runId);
      if (!(UNFINISHED_RUN_STATUSES as readonly string[]).includes(run.status)) return { finished: run };
      return { attempt: { ...record, attempt: store.startRun(record.runId).attempt } };
    });
  } finally {
    store.close();
  }
}

/** The outcome of a run that is already finished in the store. */
function storedOutcome(run: Run): Omit<RunOutcome, 'wallMs'> {
  const status = run.status as RunEndStatus;
  return {
    status,
    summary: (run.summary ?? undefined) as RunSummary | undefined,
    code: status === 'done' ? undefined : FAILURE_CODE[status],
    reason: run.reason ?? '',
  };
}

/**
 * A TF.js run in its worker (a warm one from `options.workers`, or a fresh process). A worker that died
 * without recording its end (SIGKILL, V8 heap, a crash) has it recorded here, under the same attempt.
 */
async function runTfjs(
  spec: TfjsRunSpec,
  record: AttemptRecord | undefined,
  options: ExecuteOptions,
): Promise<RunOutcome> {
  const job = { config: spec.config, record, timing: options.timing };
  const hooks = { ...options.hooks, execArgv: spec.execArgv };
  const outcome = await (options.workers ? options.workers.run(job, hooks) : runInWorker(job, hooks));
  if (record && outcome.status !== 'done') {
    const store = openStore(record.dbPath);
    try {
      const run = store.getRun(record.runId);
      if (run.status === 'running' && run.attempt === record.attempt)
        store.finishRun(run.id, { status: outcome.status, reason: outcome.reason, attempt: record.attempt });
    } finally {
      store.close();
    }
  }
  return outcome;
}
