/**
 * Warm TF.js worker processes, reused from run to run: Node, TF.js, the backend and the dataset are
 * loaded once per process instead of once per run (on the demo sweep that was about 1.3 s of a run's
 * few seconds). A run still trains in a process of its own, apart from the parent: a real
 * out-of-memory, a crash or a kill ends that process only, and the next run gets a fresh one.
 *
 * `size` processes at most, one run each at a time; a run asks for a process and waits when all are
 * busy, so the pool is also what limits how many runs go at once (--parallel). With `isolate`, every
 * run gets a fresh process that exits after it (the behaviour before warm workers, --isolate).
 */
import type { RunHooks, RunOutcome } from './outcome.js';
import { WorkerProcess } from './child.js';
import type { WarmHint, WorkerJob } from './protocol.js';

export interface WorkerPoolOptions {
  /** Processes at most (runs at once). */
  size: number;
  /** A fresh process for every run. */
  isolate?: boolean;
  /** Threads of each process's TF.js backend (BATCHLAB_THREADS); default: the backend's own (all cores). */
  threads?: number;
}

/** A process of the pool, with the Node flags it was started with (a run asking for other flags needs another). */
interface PooledWorker {
  process: WorkerProcess;
  flags: string;
}

export class WorkerPool {
  readonly size: number;
  readonly isolate: boolean;
  readonly threads: number | undefined;
  private readonly workers = new Set<PooledWorker>();
  private readonly busy = new Set<PooledWorker>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(o: WorkerPoolOptions) {
    if (!Number.isSafeInteger(o.size) || o.size < 1) throw new RangeError(`pool size must be >= 1, got ${o.size}`);
    this.size = o.size;
    this.isolate = o.isolate ?? false;
    this.threads = o.threads;
  }

  /**
   * Starts the pool's processes now and has each load what a run of `hint` needs (Node, TF.js, the
   * backend, the dataset), so the first runs do not wait for it: a caller that still has work of its
   * own to do (the CLI loads the dataset too, to check the batch sizes) overlaps the two.
   */
  warm(hint: WarmHint): void {
    if (this.closed || this.isolate) return;
    while (this.workers.size < this.size) this.start([], '').process.warm(hint);
  }

  /** Runs `job` in a process of the pool (waiting for one to be free); never rejects for a failed run. */
  async run(job: WorkerJob, hooks: RunHooks & { execArgv?: string[] } = {}): Promise<RunOutcome> {
    const worker = await this.acquire(hooks.execArgv ?? []);
    try {
      const { outcome, retire } = await worker.process.run({ ...job, resetHighWaterMark: true }, hooks);
      if (retire || this.isolate || this.closed) await this.retire(worker);
      return outcome;
    } finally {
      this.busy.delete(worker);
      this.waiting.shift()?.();
    }
  }

  /** Pids of its processes (tests). */
  get pids(): number[] {
    return [...this.workers].map((w) => w.process.pid!).filter((p) => p !== undefined);
  }

  /** Lets every process exit and waits for them; runs still going finish first (or are stopped by their signal). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers].map((w) => this.retire(w)));
  }

  /** An idle process started with `execArgv`, a new one, or the first to come free. */
  private async acquire(execArgv: string[]): Promise<PooledWorker> {
    const flags = execArgv.join(' ');
    for (;;) {
      if (this.closed) throw new Error('the worker pool is closed');
      const idle = [...this.workers].filter((w) => !this.busy.has(w) && w.process.idle);
      const same = idle.find((w) => w.flags === flags);
      if (same) return this.take(same);
      // A process with other flags, or one that died while idle, gives its place to a new one.
      for (const w of [...this.workers].filter((x) => !this.busy.has(x) && !idle.includes(x))) this.workers.delete(w);
      if (this.workers.size >= this.size && idle.length > 0) await this.retire(idle[0]!);
      if (this.workers.size < this.size) return this.take(this.start(execArgv, flags));
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private take(worker: PooledWorker): PooledWorker {
    this.busy.add(worker);
    return worker;
  }

  private start(execArgv: string[], flags: string): PooledWorker {
    const env = this.threads === undefined ? undefined : { BATCHLAB_THREADS: String(this.threads) };
    const worker = { process: new WorkerProcess({ execArgv, env }), flags };
    this.workers.add(worker);
    return worker;
  }

  private async retire(worker: PooledWorker): Promise<void> {
    this.workers.delete(worker);
    await worker.process.close();
  }
}
