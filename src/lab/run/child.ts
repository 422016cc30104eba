/**
 * Runs one TF.js run in a child process (worker.ts) and tells how it ended. A real out-of-memory, a
 * crash or a kill ends the child only; the caller gets the outcome and goes on.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { classifyTrial, FAILURE_CODE, matchOom, type RunFailure, TRIAL_FAILURE_STATUS } from '../../engine/oom.js';
import type { RunHooks, RunOutcome } from './outcome.js';
import type { WorkerJob, WorkerMessage } from './protocol.js';

/** Hooks of one worker: the run's, and extra Node flags for the child (e.g. --max-old-space-size). */
export interface WorkerHooks extends RunHooks {
  execArgv?: string[];
}

/** Lines of the child's stderr kept for error reports. */
const STDERR_TAIL_LINES = 40;

/** The compiled worker next to this file, or the TypeScript source run through tsx (tests, dev). */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(js)) return { file: js, execArgv: [] };
  return { file: fileURLToPath(new URL('./worker.ts', import.meta.url)), execArgv: ['--import', 'tsx'] };
}

/**
 * How a child that exited without reporting its own result ended, by the one classifier of process
 * ends (engine/oom.ts): our own interrupt first, then an OOM message on stderr (V8 heap, ArrayBuffer,
 * wasm, std::bad_alloc, ...), then a SIGKILL we did not send (the kernel's OOM killer); anything else,
 * even exit status 0, is a failed run, quoted with its stderr.
 */
export function classifyCrash(opts: {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  interrupted: boolean;
}): RunFailure {
  const line = opts.stderrTail.split('\n').find((l) => matchOom(l) !== undefined);
  const pattern = line === undefined ? undefined : matchOom(line);
  const { outcome, reason } = classifyTrial({
    exitCode: opts.exitCode,
    signal: opts.signal,
    interrupted: opts.interrupted,
    oom: pattern && line !== undefined ? { pattern, line } : undefined,
  });
  const status = TRIAL_FAILURE_STATUS[outcome];
  if (status !== 'failed') return { status, code: FAILURE_CODE[status], reason };
  const how = opts.signal ?? `code ${opts.exitCode}`;
  const tail = opts.stderrTail.trim();
  return {
    status,
    code: FAILURE_CODE[status],
    reason: `the worker exited with ${how} without a result${tail ? `: ${tail.split('\n').at(-1)}\n${tail}` : ''}`,
  };
}

/** Runs `job` in a worker process; resolves with how it ended (never rejects for a failed run). */
export function runInWorker(job: WorkerJob, hooks: WorkerHooks = {}): Promise<RunOutcome> {
  const startMs = performance.now();
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
  let reported: RunOutcome | undefined;
  child.on('message', (msg: WorkerMessage) => {
    if (msg.type === 'start') hooks.onStart?.(msg.plan);
    else if (msg.type === 'step') hooks.onStep?.(msg.progress);
    else if (msg.type === 'end') reported = msg.outcome;
  });
  const onAbort = () => child.kill('SIGINT');
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  child.send({ type: 'job', job });
  return new Promise((resolve) => {
    child.on('exit', (exitCode, signal) => {
      hooks.signal?.removeEventListener('abort', onAbort);
      const wallMs = performance.now() - startMs;
      if (reported) return resolve({ ...reported, wallMs });
      const stderrTail = stderr.slice(-STDERR_TAIL_LINES).join('\n').trim();
      const interrupted = hooks.signal?.aborted ?? false;
      resolve({ ...classifyCrash({ exitCode, signal, stderrTail, interrupted }), wallMs });
    });
  });
}
