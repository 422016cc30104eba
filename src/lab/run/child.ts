/**
 * Runs one TF.js run in a child process (worker.ts) and tells how it ended. A real out-of-memory, a
 * crash or a kill ends the child only; the caller gets the outcome and goes on.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { classifyTrial, FAILURE_CODE, matchOom, type RunFailure, TRIAL_FAILURE_STATUS } from '../../engine/oom.js';
import type { RunHooks, RunOutcome } from './outcome.js';
import type { WarmHint, WorkerJob, WorkerMessage } from './protocol.js';

/** Hooks of one worker: the run's, and extra Node flags for the child (e.g. --max-old-space-size). */
export interface WorkerHooks extends RunHooks {
  execArgv?: string[];
}

/** How a worker process is started: Node flags, and environment added to this process's (e.g. BATCHLAB_THREADS). */
export interface WorkerProcessOptions {
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Lines of the child's stderr kept for error reports. */
const STDERR_TAIL_LINES = 40;

/**
 * Node flags every worker gets: --expose-gc, so that between two runs of a warm worker the garbage of
 * the first is collected before VmHWM is reset (engine/tfjs/warm.ts).
 */
const WORKER_EXEC_ARGV = ['--expose-gc'];

/** The compiled worker next to this file, or the TypeScript source run through tsx (tests, dev). */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(js)) return { file: js, execArgv: [] };
  return {
    file: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    execArgv: ['--import', import.meta.resolve('tsx')],
  };
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

/** The run a worker process is on: its hooks, what it reported, and how to end the wait. */
interface CurrentJob {
  hooks: RunHooks;
  startMs: number;
  resolve(r: WorkerRunResult): void;
  onAbort(): void;
}

/** How one job in a worker ended, and whether the process may take another. */
export interface WorkerRunResult {
  outcome: RunOutcome;
  /** Why the process must not take another run ('' when it may). */
  retire: string;
}

/**
 * One worker process (worker.ts): runs jobs one at a time. When it exits mid-run (a real out-of-memory,
 * a SIGKILL, a crash) the job resolves with that outcome, classified from its exit and stderr tail.
 */
export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly stderr: string[] = [];
  private current: CurrentJob | undefined;
  private readonly exit: Promise<void>;
  private exited = false;

  constructor(options: WorkerProcessOptions = {}) {
    const entry = workerEntry();
    this.child = fork(entry.file, [], {
      execArgv: [...entry.execArgv, ...WORKER_EXEC_ARGV, ...(options.execArgv ?? [])],
      env: options.env ? { ...process.env, ...options.env } : undefined,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr.push(...chunk.split('\n'));
      if (this.stderr.length > STDERR_TAIL_LINES * 2) this.stderr.splice(0, this.stderr.length - STDERR_TAIL_LINES);
    });
    this.child.on('message', (msg: WorkerMessage) => this.onMessage(msg));
    this.exit = new Promise((resolve) =>
      this.child.on('exit', (exitCode, signal) => {
        this.exited = true;
        this.onExit(exitCode, signal);
        resolve();
      }),
    );
  }

  /** The process id (for a test that kills it, or a message that names it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether it can take a job: started, not exited, not busy. */
  get idle(): boolean {
    return !this.exited && this.child.connected && this.current === undefined;
  }

  /** Runs `job`; resolves with how it ended (never rejects for a failed run). One job at a time. */
  run(job: WorkerJob, hooks: RunHooks = {}): Promise<WorkerRunResult> {
    if (!this.idle) throw new Error('this worker process is busy or gone');
    this.stderr.length = 0;
    return new Promise((resolve) => {
      const onAbort = () => this.stop();
      this.current = { hooks, startMs: performance.now(), resolve, onAbort };
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      this.child.send({ type: 'job', job });
      if (hooks.signal?.aborted) onAbort();
    });
  }

  /** Asks the process to load what a run of `hint` needs before the run comes (a run sent meanwhile waits for it). */
  warm(hint: WarmHint): void {
    if (this.child.connected) this.child.send({ type: 'warm', hint });
  }

  /** Lets the process exit (it finishes, interrupted, a run it is on) and waits until it has. */
  async close(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    await this.exit;
  }

  /** Stops the current run after its step: by message, or SIGINT when the channel is gone. */
  private stop(): void {
    if (this.child.connected) this.child.send({ type: 'stop' });
    else if (!this.exited) this.child.kill('SIGINT');
  }

  private onMessage(msg: WorkerMessage): void {
    const job = this.current;
    if (!job) return;
    if (msg.type === 'start') job.hooks.onStart?.(msg.plan);
    else if (msg.type === 'step') job.hooks.onStep?.(msg.progress);
    else if (msg.type === 'end') this.finish({ outcome: msg.outcome, retire: msg.retire ?? '' });
  }

  private onExit(exitCode: number | null, signal: NodeJS.Signals | null): void {
    const job = this.current;
    if (!job) return;
    const stderrTail = this.stderr.slice(-STDERR_TAIL_LINES).join('\n').trim();
    const interrupted = job.hooks.signal?.aborted ?? false;
    const failure = classifyCrash({ exitCode, signal, stderrTail, interrupted });
    this.finish({ outcome: { ...failure, wallMs: 0 }, retire: 'the process ended' });
  }

  private finish(result: WorkerRunResult): void {
    const job = this.current!;
    this.current = undefined;
    job.hooks.signal?.removeEventListener('abort', job.onAbort);
    job.resolve({ ...result, outcome: { ...result.outcome, wallMs: performance.now() - job.startMs } });
  }
}

/**
 * Runs `job` in a fresh worker process of its own and waits until that process has exited (so a probe's
 * memory is given back before the next starts); resolves with how it ended (never rejects for a failed run).
 */
export async function runInWorker(job: WorkerJob, hooks: WorkerHooks = {}): Promise<RunOutcome> {
  const worker = new WorkerProcess({ execArgv: hooks.execArgv });
  const { outcome } = await worker.run(job, hooks);
  await worker.close();
  return outcome;
}
