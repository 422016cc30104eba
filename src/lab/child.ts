/**
 * Runs one training job in a child process (worker.ts) and tells how it ended. A real out-of-memory, a
 * crash or a kill ends the child only; the caller records the outcome and goes on.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BackendChoice } from '../engine/backends/select.js';
import { matchOom } from '../engine/oom.js';
import type { RunSummary } from './summary.js';
import type { WorkerJob, WorkerMessage } from './worker-protocol.js';

export interface WorkerHooks {
  onStart?(info: { backend: BackendChoice; plan: string; totalSteps: number }): void;
  onStep?(info: { step: number; samples: number; loss: number; stepMs: number; batchSize: number }): void;
  /** Aborting sends SIGINT: the worker finishes its step, records the run as interrupted and exits. */
  signal?: AbortSignal;
  /** Extra Node flags for the child, e.g. --max-old-space-size. */
  execArgv?: string[];
}

export type WorkerOutcome =
  | { kind: 'done'; status: 'done' | 'interrupted'; summary: RunSummary }
  | {
      kind: 'failed';
      status: 'diverged' | 'oom' | 'error' | 'interrupted';
      code: string;
      message: string;
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      stderrTail: string;
    };

/** Lines of the child's stderr kept for error reports. */
const STDERR_TAIL_LINES = 40;

/** The compiled worker next to this file, or the TypeScript source run through tsx (tests, dev). */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(js)) return { file: js, execArgv: [] };
  return { file: fileURLToPath(new URL('./worker.ts', import.meta.url)), execArgv: ['--import', 'tsx'] };
}

/** How a child that exited without reporting its own result ended. */
export function classifyCrash(opts: {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  interrupted: boolean;
}): {
  status: 'oom' | 'error' | 'interrupted';
  message: string;
} {
  if (opts.signal === 'SIGKILL')
    return { status: 'oom', message: 'killed by SIGKILL (most likely the kernel out-of-memory killer)' };
  // The same OOM table as external commands: V8 heap, ArrayBuffer, wasm, std::bad_alloc, ...
  const oom = matchOom(opts.stderrTail);
  if (oom) return { status: 'oom', message: `out of memory (${oom.source})` };
  if (opts.interrupted) return { status: 'interrupted', message: 'interrupted' };
  const last = opts.stderrTail.trim().split('\n').at(-1) ?? '';
  return {
    status: 'error',
    message: `worker exited with ${opts.signal ?? `code ${opts.exitCode}`}${last ? `: ${last}` : ''}`,
  };
}

export function runInWorker(job: WorkerJob, hooks: WorkerHooks = {}): Promise<WorkerOutcome> {
  const entry = workerEntry();
  const child = fork(entry.file, [], {
    execArgv: [...entry.execArgv, ...(hooks.execArgv ?? [])],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(...chunk.split('\n'));
    if (stderr.length > STDERR_TAIL_LINES * 2) stderr.splice(0, stderr.length - STDERR_TAIL_LINES);
  });
  let reported: WorkerOutcome | undefined;
  child.on('message', (msg: WorkerMessage) => {
    if (msg.type === 'start') hooks.onStart?.(msg);
    else if (msg.type === 'step') hooks.onStep?.(msg);
    else if (msg.type === 'done') reported = { kind: 'done', status: msg.status, summary: msg.summary };
    else if (msg.type === 'failed')
      reported = {
        kind: 'failed',
        status: msg.status,
        code: msg.code,
        message: msg.message,
        exitCode: null,
        signal: null,
        stderrTail: '',
      };
  });
  const onAbort = () => child.kill('SIGINT');
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  child.send({ type: 'job', job });
  return new Promise((resolve) => {
    child.on('exit', (exitCode, signal) => {
      hooks.signal?.removeEventListener('abort', onAbort);
      const stderrTail = stderr.slice(-STDERR_TAIL_LINES).join('\n').trim();
      if (reported) {
        resolve(reported.kind === 'failed' ? { ...reported, exitCode, signal, stderrTail } : reported);
        return;
      }
      const crash = classifyCrash({ exitCode, signal, stderrTail, interrupted: hooks.signal?.aborted ?? false });
      resolve({
        kind: 'failed',
        ...crash,
        code: crash.status === 'oom' ? 'BATCHLAB_OOM' : 'BATCHLAB_CHILD_FAILED',
        exitCode,
        signal,
        stderrTail,
      });
    });
  });
}
