/**
 * Child-process entry for one run. The parent (child.ts) forks this file and sends one job over IPC.
 *
 * Isolation is the point: an out-of-memory, a NaN or a crash ends this process, not the sweep or search
 * that started it. The worker writes its steps and its result to the store itself (SQLite in WAL mode), so
 * a finished run is on disk even if the parent is killed with -9; if the parent goes away mid-run, the
 * worker stops and marks the run interrupted, so a resume runs it again.
 */
import { readFileSync } from 'node:fs';
import { type BatchlabError, DivergedError, isKnownError } from '../core/errors.js';
import type { StepRecord } from '../core/types.js';
import { matchOom } from '../engine/oom.js';
import { openStore, StepWriter, type Store } from '../store/index.js';
import { summarizeRun } from './summarize-run.js';
import { prepareRun, runTraining } from './train.js';
import type { ParentMessage, WorkerJob, WorkerMessage } from './worker-protocol.js';

/** Progress messages to the parent at most this often. */
const PROGRESS_EVERY_MS = 200;

function send(msg: WorkerMessage): void {
  if (process.connected) process.send!(msg);
}

/** The process's resident high-water mark (VmHWM in /proc/self/status), in bytes; undefined off Linux. */
export function readVmHwmBytes(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Allocation failures of V8, typed arrays, wasm and the native addon (the one OOM table: engine/oom.ts). */
export function isAllocationFailure(err: unknown): boolean {
  return matchOom(err instanceof Error ? err.message : String(err)) !== undefined;
}

async function runJob(job: WorkerJob): Promise<number> {
  const controller = new AbortController();
  process.on('SIGINT', () => controller.abort());
  process.on('SIGTERM', () => controller.abort());
  process.on('disconnect', () => controller.abort());
  const store = job.store ? openStore(job.store.dbPath) : undefined;
  const runId = job.store?.runId;
  try {
    if (store && runId !== undefined) store.startRun(runId);
    const ctx = await prepareRun(job.config);
    send({ type: 'start', backend: ctx.backend, plan: ctx.plan, totalSteps: ctx.totalSteps });
    const result = await trainWithStore(job, ctx, store, runId, controller.signal);
    const summary = summarizeRun(result, {
      batchSize: job.config.batchSize,
      microBatchSize: job.config.batchSize / job.config.accumSteps,
      accumSteps: job.config.accumSteps,
      seed: job.config.seed,
      lr: job.config.lr,
      backend: ctx.backend.name,
      target: job.config.target,
      vmHwmBytes: readVmHwmBytes(),
    });
    const status = result.status === 'interrupted' ? 'interrupted' : 'done';
    if (store && runId !== undefined)
      store.finishRun(runId, {
        status,
        reason: status === 'interrupted' ? 'stopped by Ctrl-C or a lost parent' : undefined,
        summary,
      });
    send({ type: 'done', status, summary });
    return status === 'interrupted' ? 130 : 0;
  } catch (err) {
    const failure = classifyError(err);
    if (store && runId !== undefined)
      store.finishRun(runId, {
        status: failure.status === 'error' ? 'failed' : failure.status,
        reason: failure.message,
      });
    send({ type: 'failed', ...failure });
    return failure.status === 'error' ? 1 : 3;
  } finally {
    store?.close();
  }
}

async function trainWithStore(
  job: WorkerJob,
  ctx: Awaited<ReturnType<typeof prepareRun>>,
  store: Store | undefined,
  runId: number | undefined,
  signal: AbortSignal,
) {
  const writer = store && runId !== undefined ? new StepWriter(store, runId) : undefined;
  let lastSentMs = 0;
  try {
    return await runTraining(job.config, ctx, {
      signal,
      onStep: (s: StepRecord) => {
        writer?.add(s);
        const now = performance.now();
        if (now - lastSentMs >= PROGRESS_EVERY_MS) {
          lastSentMs = now;
          send({
            type: 'step',
            step: s.step,
            samples: s.samples,
            loss: s.loss,
            stepMs: s.stepMs,
            batchSize: s.batchSize,
          });
        }
      },
      onEval: (e) => {
        writer?.flush();
        if (store && runId !== undefined) store.appendEvals(runId, [e]);
      },
    });
  } finally {
    writer?.close();
  }
}

function classifyError(err: unknown): { status: 'diverged' | 'oom' | 'error'; code: string; message: string } {
  if (err instanceof DivergedError) return { status: 'diverged', code: err.code, message: err.message };
  if (isAllocationFailure(err))
    return { status: 'oom', code: 'BATCHLAB_OOM', message: `out of memory: ${(err as Error).message}` };
  if (isKnownError(err)) return { status: 'error', code: (err as BatchlabError).code, message: err.message };
  return {
    status: 'error',
    code: 'BATCHLAB_CHILD_FAILED',
    message: err instanceof Error ? (err.stack ?? err.message) : String(err),
  };
}

process.once('message', (msg: ParentMessage) => {
  if (msg.type !== 'job') return;
  runJob(msg.job).then(
    (code) => {
      process.exitCode = code;
      process.disconnect?.();
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});
