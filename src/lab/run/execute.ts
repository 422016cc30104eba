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
import { openStore } from '../../store/index.js';
import type { RunTiming } from '../../core/summary.js';
import { runInWorker } from './child.js';
import type { WorkerPool } from './pool.js';
import type { RunHooks, RunOutcome, RunRecord } from './outcome.js';
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

/** Runs one run to its end; resolves with its outcome (a failed run is an outcome, not a rejection). */
export async function executeRun(spec: RunSpec, options: ExecuteOptions = {}): Promise<RunOutcome> {
  const startMs = performance.now();
  const outcome =
    spec.kind === 'tfjs'
      ? await runTfjs(spec, options)
      : await runAndRecord(new ExternalTrainer(spec), {
          identity: { seed: spec.values.seed ?? 0, lr: spec.values.lr ?? NaN, timing: options.timing },
          record: options.record,
          hooks: options.hooks,
        });
  return { ...outcome, wallMs: performance.now() - startMs };
}

/** A TF.js run in its worker; a worker that died without recording its run (SIGKILL, V8 heap, crash) is recorded here. */
async function runTfjs(spec: TfjsRunSpec, options: ExecuteOptions): Promise<RunOutcome> {
  const job = { config: spec.config, record: options.record, timing: options.timing };
  const hooks = { ...options.hooks, execArgv: spec.execArgv };
  const outcome = await (options.workers ? options.workers.run(job, hooks) : runInWorker(job, hooks));
  if (options.record && outcome.status !== 'done') {
    const store = openStore(options.record.dbPath);
    try {
      const run = store.getRun(options.record.runId);
      if (run.status === 'running' || run.status === 'pending')
        store.finishRun(run.id, { status: outcome.status, reason: outcome.reason });
    } finally {
      store.close();
    }
  }
  return outcome;
}
