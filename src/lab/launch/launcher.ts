/**
 * Launchers: where and how many runs train at once. A sweep (and a study, or a branch experiment) hands
 * each run to its launcher's `execute`, which keeps the contract of executeRun (a RunSpec in, a
 * RunOutcome out, the run recorded in the store), and keeps `slots` runs in flight (runEach, queue.ts).
 *
 * - local (default): TF.js runs in warm worker processes (pool.ts), `parallel` at once, the cores
 *   split between them (BATCHLAB_THREADS); a user's command `parallel` at once, or one per GPU with
 *   `gpus` (CUDA_VISIBLE_DEVICES set per run, its GPU memory read on that GPU only).
 * - slurm: each run a Slurm job (slurm.ts).
 */
import { availableParallelism } from 'node:os';
import { UsageError } from '../../core/errors.js';
import type { RunTiming } from '../../core/summary.js';
import { type CommandRunSpec, type ExecuteOptions, type ExecuteRun, executeRun } from '../run/execute.js';
import { WorkerPool } from '../run/pool.js';
import type { WarmHint } from '../run/protocol.js';

/** Runs runs: executeRun's contract, `slots` at once. */
export interface Launcher {
  readonly kind: 'local' | 'slurm';
  /** How many runs go at once (the caller keeps this many in flight). */
  readonly slots: number;
  execute: ExecuteRun;
  /** Gets ready for runs of `hint` ahead of them (local: starts warm workers that load the dataset); optional. */
  prepare?(hint: WarmHint): void;
  /** Ends what it holds: warm processes, or (Slurm) nothing still running is left behind unrecorded. */
  close(): Promise<void>;
}

/** How the local launcher runs runs. */
export interface LocalLaunchOptions {
  /** Runs at once (default 1; with `gpus`, one per GPU). */
  parallel?: number;
  /** A fresh process for every TF.js run instead of warm ones (the lab's overhead goes up; nothing is shared). */
  isolate?: boolean;
  /** GPUs (indices or UUIDs) for a command's runs: one run per GPU at a time. */
  gpus?: string[];
  /** Cores to split between parallel TF.js runs (default: this machine's). */
  cores?: number;
}

/** Threads of each of `slots` runs sharing `cores` (at least 1). */
export function threadsPerRun(cores: number, slots: number): number {
  return Math.max(1, Math.floor(cores / slots));
}

/** A free list of slot names (GPU ids, or "0".."N-1"); `take` waits until one is free. */
export class Slots {
  private readonly free: string[];
  private readonly waiting: ((slot: string) => void)[] = [];

  constructor(names: readonly string[]) {
    this.free = [...names];
  }

  take(): Promise<string> {
    const slot = this.free.shift();
    return slot !== undefined ? Promise.resolve(slot) : new Promise((resolve) => this.waiting.push(resolve));
  }

  give(slot: string): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

/** The spec of a command run given one GPU: CUDA_VISIBLE_DEVICES set, its GPU memory read on that GPU. */
export function onGpu(spec: CommandRunSpec, gpu: string): CommandRunSpec {
  return { ...spec, env: { ...spec.env, CUDA_VISIBLE_DEVICES: gpu }, gpu };
}

/** The local launcher; see the module doc. */
export function localLauncher(o: LocalLaunchOptions = {}): Launcher {
  const gpus = o.gpus?.length ? o.gpus : undefined;
  const slots = gpus?.length ?? o.parallel ?? 1;
  if (!Number.isSafeInteger(slots) || slots < 1) throw new UsageError(`--parallel must be >= 1, got ${slots}`);
  const threads = slots > 1 ? threadsPerRun(o.cores ?? availableParallelism(), slots) : undefined;
  const pool = new WorkerPool({ size: slots, isolate: o.isolate, threads });
  const commandSlots = new Slots(gpus ?? Array.from({ length: slots }, (_, i) => String(i)));
  const shared = (t?: number): RunTiming | undefined =>
    slots > 1 ? { runsAtOnce: slots, ...(t ? { threads: t } : {}), stepTimeFrom: 'run' } : undefined;
  const execute = async (spec: Parameters<ExecuteRun>[0], options: ExecuteOptions = {}) => {
    if (spec.kind === 'tfjs') return executeRun(spec, { ...options, workers: pool, timing: shared(threads) });
    const slot = await commandSlots.take();
    try {
      return await executeRun(gpus ? onGpu(spec, slot) : spec, { ...options, timing: shared() });
    } finally {
      commandSlots.give(slot);
    }
  };
  return { kind: 'local', slots, execute, prepare: (hint) => pool.warm(hint), close: () => pool.close() };
}
