/**
 * Warm probes (docs/protocol.md, "Warm probes"): the user's command starts once and then runs one
 * probe per request, so a probe costs its training steps, not an interpreter, a framework import and a
 * CUDA context (10-15 s per process on a GPU). Opt-in; fresh-process probes stay the default.
 *
 * batchlab -> process, stdin, one JSON object per line:
 *   {"probe": 4096, "steps": 3}    run 3 training steps at batch 4096
 *   {"exit": true}                 finish (EOF on stdin too)
 * process -> batchlab, stdout, one JSON object per line after "batchlab-warm: " (other lines are the
 * program's own output):
 *   {"ready": true, "protocol": 1, "device": "cuda:0", "measure": "cuda-allocated", "base_bytes": N,
 *    "total_bytes": N, "free_bytes": N, "limit_bytes": N}                      once, at start
 *   {"probe": 4096, "ok": true, "peak_bytes": N, "peak_reserved_bytes": N, "step_ms": [..], "after_bytes": N}
 *   {"probe": 4096, "ok": false, "oom": true, "message": "CUDA out of memory. ...", "after_bytes": N}
 *   {"probe": 4096, "ok": false, "error": true, "message": "ValueError: ..."}
 *
 * The process is isolated where it matters: WarmProber restarts it (the next probe starts a fresh
 * one) after a crash, a timeout, a protocol error, a leak (the memory after a probe does not fall back
 * to its base: after - base > max(LEAK_MIN_BYTES, LEAK_FRACTION x the largest peak of the process);
 * the base is the memory after the process's first probe, once the optimizer state and the library
 * workspaces exist), and on request: the final verification of find-max always runs in a fresh process.
 *
 * It runs in its own process group like a trial (group.ts), its tree's resident memory is sampled
 * during each probe (proctree.ts), and its GPU memory too where nvidia-smi exists (gpu.ts).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../core/errors.js';
import { parseOomMessage, type OomFigures } from '../../core/oom-message.js';
import { classifyTrial, matchOom } from '../oom.js';
import { GpuSampler } from './gpu.js';
import { signalGroup, terminateGroup } from './group.js';
import { LineSplitter } from './metrics.js';
import { sampleTree } from './proctree.js';
import { DEFAULT_GPU_POLL_MS, DEFAULT_KILL_GRACE_MS, DEFAULT_POLL_MS, STDERR_TAIL_LINES } from './runner.js';

/** Prefix of the process's protocol lines on stdout. */
export const WARM_PREFIX = 'batchlab-warm:';
/** The protocol version batchlab speaks; a ready line with another is refused. */
export const WARM_PROTOCOL = 1;
/** Environment variable that asks the command for warm probes (docs/protocol.md). */
export const WARM_ENV = 'BATCHLAB_WARM';
/** Default time from start to the ready line: imports, CUDA initialisation, data loading. */
export const DEFAULT_START_TIMEOUT_MS = 300_000;
/** Default time one probe may take. */
export const DEFAULT_PROBE_TIMEOUT_MS = 300_000;
/** A leak smaller than this is allocator and interpreter noise (the CPU RSS of a PyTorch process drifts by ~10 MiB). */
export const LEAK_MIN_BYTES = 64 * 2 ** 20;
/** A leak is also read relative to the process's largest peak: more than this share shifts the maximum batch measurably. */
export const LEAK_FRACTION = 0.02;

/** How long to wait for the rest of stdout after the process exited (an answer written just before it died). */
const STDOUT_DRAIN_MS = 500;
/** How long a process asked to exit may take before its group is terminated. */
const EXIT_GRACE_MS = 1_000;

/** The ready line's fields. */
export interface WarmReady {
  protocol: number;
  device?: string;
  /** What peak_bytes measures: 'cuda-allocated', 'rss', 'xla-in-use'. */
  measure?: string;
  baseBytes?: number;
  /** What the allocator held at that moment (torch.cuda.memory_reserved): with nvidia-smi's figure it gives the memory outside the allocator (the CUDA context). */
  reservedBytes?: number;
  totalBytes?: number;
  freeBytes?: number;
  /** A cap the process runs under (PyTorch's per-process memory fraction x total, XLA's bytes_limit). */
  limitBytes?: number;
}

/** How a warm probe ended: 'crash' = the process died without answering (not an OOM by the table of classify.ts). */
export type WarmOutcome = 'ok' | 'oom' | 'error' | 'crash' | 'timeout';

/** Why a process was ended. */
export type RestartReason = 'crash' | 'timeout' | 'leak' | 'protocol' | 'request';

/** One warm probe. Memory in bytes, times in ms. */
export interface WarmProbeResult {
  batch: number;
  steps: number;
  outcome: WarmOutcome;
  /** The process's own peak (peak_bytes: the CUDA allocator's, or the VmHWM on a CPU). */
  peakBytes?: number;
  /** An upper bound on the peak where the process cannot reset its high-water mark (JAX: the mark an earlier probe set). */
  peakAtMostBytes?: number;
  /** torch.cuda.max_memory_reserved: what the caching allocator held at most. */
  peakReservedBytes?: number;
  /** The tree's GPU memory by nvidia-smi during the probe (where it exists; sampled, so it may miss a short peak). */
  peakGpuBytes?: number;
  /** The tree's resident memory during the probe (sampled). */
  peakRssBytes?: number;
  /** The process's memory after the probe, cache emptied. */
  afterBytes?: number;
  stepMs: number[];
  /** The OOM or error message, or why the process died (with its stderr tail). */
  message?: string;
  /** The numbers of an OOM message (core/oom-message.ts). */
  oom?: OomFigures;
  /** Set when the process was ended after this probe; the next probe starts a fresh one. */
  restart?: RestartReason;
  /** Pid of the process (group) that ran it. */
  pid: number;
  wallMs: number;
}

/** A protocol line, parsed. */
export type WarmLine =
  | { kind: 'ready'; ready: WarmReady }
  | { kind: 'answer'; fields: Record<string, unknown> }
  | { kind: 'bad-request'; message: string }
  | { kind: 'malformed'; reason: string };

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Parses one stdout line; undefined when it is not a protocol line (no prefix). */
export function parseWarmLine(line: string): WarmLine | undefined {
  if (!line.startsWith(WARM_PREFIX)) return undefined;
  let o: unknown;
  try {
    o = JSON.parse(line.slice(WARM_PREFIX.length));
  } catch {
    return { kind: 'malformed', reason: `not JSON: ${line.slice(0, 200)}` };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { kind: 'malformed', reason: 'not an object' };
  const f = o as Record<string, unknown>;
  if (f.ready === true) {
    const ready: WarmReady = {
      protocol: num(f.protocol) ?? 0,
      device: typeof f.device === 'string' ? f.device : undefined,
      measure: typeof f.measure === 'string' ? f.measure : undefined,
      baseBytes: num(f.base_bytes),
      reservedBytes: num(f.reserved_bytes),
      totalBytes: num(f.total_bytes),
      freeBytes: num(f.free_bytes),
      limitBytes: num(f.limit_bytes),
    };
    return { kind: 'ready', ready };
  }
  if (typeof f.error === 'string' && f.probe === undefined) return { kind: 'bad-request', message: f.error };
  if (num(f.probe) === undefined || typeof f.ok !== 'boolean')
    return { kind: 'malformed', reason: 'an answer needs "probe" (a number) and "ok" (true or false)' };
  return { kind: 'answer', fields: f };
}

/** The result fields of an answer line. */
export function answerResult(
  f: Record<string, unknown>,
): Pick<
  WarmProbeResult,
  'outcome' | 'peakBytes' | 'peakAtMostBytes' | 'peakReservedBytes' | 'afterBytes' | 'stepMs' | 'message' | 'oom'
> {
  const stepMs = Array.isArray(f.step_ms) ? f.step_ms.filter((x): x is number => num(x) !== undefined) : [];
  const message = typeof f.message === 'string' ? f.message : undefined;
  const outcome: WarmOutcome = f.ok === true ? 'ok' : f.oom === true ? 'oom' : 'error';
  return {
    outcome,
    peakBytes: num(f.peak_bytes),
    peakAtMostBytes: num(f.peak_at_most_bytes),
    peakReservedBytes: num(f.peak_reserved_bytes),
    afterBytes: num(f.after_bytes),
    stepMs,
    message,
    oom: outcome === 'oom' && message !== undefined ? parseOomMessage(message) : undefined,
  };
}

/** Whether the memory after a probe shows a leak (see the module doc). */
export function isLeak(afterBytes: number, baseBytes: number, largestPeakBytes: number): boolean {
  return afterBytes - baseBytes > Math.max(LEAK_MIN_BYTES, LEAK_FRACTION * largestPeakBytes);
}

/** Options of WarmProber. */
export interface WarmProberOptions {
  /** The command, run by /bin/sh -c with BATCHLAB_WARM=1 (placeholders already filled in). */
  cmd: string;
  cwd?: string;
  /** Added to batchlab's environment; BATCHLAB_WARM wins. */
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
  probeTimeoutMs?: number;
  killGraceMs?: number;
  /** Sample the GPU with nvidia-smi during probes where it exists; default true. */
  gpu?: boolean;
  pollMs?: number;
  gpuPollMs?: number;
  /** Each line of the process's output that is not a protocol line. */
  onOutput?: (stream: 'stdout' | 'stderr', line: string) => void;
}

type WarmChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** Marks WarmProber's signal listeners. */
const WARM_LISTENER = Symbol('batchlab.WarmProber.listener');

/** One running process: its child, its protocol lines and its stderr tail. */
class WarmProcess {
  readonly child: WarmChild;
  readonly pid: number;
  readonly stderrTail: string[] = [];
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** Resolves once it exited and its stdout was read to the end (or STDOUT_DRAIN_MS passed: a grandchild may hold it open). */
  readonly drained: Promise<void>;
  ready: WarmReady | undefined;
  /** The memory after this process's first probe, and its largest peak. */
  baseBytes: number | undefined;
  largestPeakBytes = 0;
  private waiter: ((line: WarmLine) => void) | undefined;
  private readonly queue: WarmLine[] = [];

  constructor(o: WarmProberOptions) {
    const env = { ...process.env, PYTHONUNBUFFERED: '1', ...o.env, [WARM_ENV]: '1' };
    this.child = spawn('/bin/sh', ['-c', o.cmd], { cwd: o.cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid ?? 0;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve([code, signal]));
      this.child.once('error', (e) => {
        this.onStderr(`batchlab: could not start the command: ${e.message}`);
        resolve([127, null]);
      });
    });
    this.child.stdin.on('error', () => undefined); // EPIPE when it died: its exit tells the story
    const out = new LineSplitter();
    const err = new LineSplitter();
    this.child.stdout.on('data', (c: Buffer) => out.push(c).forEach((l) => this.onStdout(l, o)));
    this.child.stderr.on('data', (c: Buffer) => err.push(c).forEach((l) => this.onStderr(l, o)));
    const stdoutEnded = new Promise<void>((resolve) =>
      this.child.stdout.once('end', () => {
        out.end().forEach((l) => this.onStdout(l, o));
        resolve();
      }),
    );
    this.child.stderr.once('end', () => err.end().forEach((l) => this.onStderr(l, o)));
    this.drained = this.exited.then(() => Promise.race([stdoutEnded, sleep(STDOUT_DRAIN_MS)]));
  }

  private onStdout(line: string, o: WarmProberOptions): void {
    const parsed = parseWarmLine(line);
    if (parsed === undefined) return o.onOutput?.('stdout', line);
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w(parsed);
    } else this.queue.push(parsed);
  }

  private onStderr(line: string, o?: WarmProberOptions): void {
    o?.onOutput?.('stderr', line);
    this.stderrTail.push(line.length > 1_000 ? `${line.slice(0, 1_000)}...` : line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
  }

  /** The next protocol line, or 'exit' / 'timeout' / 'aborted' (whichever comes first). */
  next(timeoutMs: number, signal?: AbortSignal): Promise<WarmLine | 'exit' | 'timeout' | 'aborted'> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const done = (v: WarmLine | 'exit' | 'timeout' | 'aborted'): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        resolve(v);
      };
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      const onAbort = (): void => done('aborted');
      if (signal?.aborted) return done('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = done;
      void this.drained.then(() => this.waiter === done && done('exit'));
    });
  }

  send(request: Record<string, unknown>): void {
    if (this.child.stdin.writable) this.child.stdin.write(`${JSON.stringify(request)}\n`);
  }
}

/** Runs warm probes over one long-lived process at a time; see the module doc. Dispose it after the search. */
export class WarmProber {
  private readonly o: WarmProberOptions;
  private proc: WarmProcess | undefined;
  private starting: Promise<WarmProcess> | undefined;
  private gpu: GpuSampler | undefined;
  private gpuLooked = false;
  private started = 0;
  private disposed = false;
  private readonly onExit = (): void => this.killNow();
  private readonly onSignal = Object.assign((sig: NodeJS.Signals): void => this.forwardSignal(sig), {
    [WARM_LISTENER]: true,
  });

  constructor(options: WarmProberOptions) {
    this.o = options;
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Processes started so far. */
  get starts(): number {
    return this.started;
  }

  /** The ready line of the live process, if one is running. */
  get ready(): WarmReady | undefined {
    return this.proc?.ready;
  }

  /** Starts the process if none is running and waits for its ready line; throws if it dies or says nothing in time. */
  async start(): Promise<WarmReady> {
    if (this.disposed) throw new Error('WarmProber was disposed');
    if (this.proc !== undefined) return this.proc.ready as WarmReady;
    this.starting ??= this.launch().finally(() => (this.starting = undefined));
    return (await this.starting).ready as WarmReady;
  }

  private async launch(): Promise<WarmProcess> {
    if (this.o.gpu !== false && !this.gpuLooked) {
      this.gpu = await GpuSampler.create();
      this.gpuLooked = true;
    }
    const p = new WarmProcess(this.o);
    this.started++;
    const first = await p.next(this.o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    if (typeof first === 'object' && first.kind === 'ready' && first.ready.protocol === WARM_PROTOCOL) {
      p.ready = first.ready;
      this.proc = p;
      return p;
    }
    await this.stop(p);
    const why =
      first === 'exit'
        ? 'exited before it was ready'
        : first === 'timeout'
          ? `said nothing for ${this.o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS} ms`
          : first === 'aborted'
            ? 'was stopped'
            : first.kind === 'ready'
              ? `speaks protocol ${first.ready.protocol}, batchlab ${WARM_PROTOCOL}`
              : `did not start with a ready line (${JSON.stringify(first)})`;
    throw new Error(`the warm command ${why}; stderr:\n  ${p.stderrTail.slice(-15).join('\n  ')}`);
  }

  /**
   * Runs one probe: `steps` steps at `batch`, starting a process first if none is running. What the
   * process does is a result (WarmProbeResult), never a throw; it throws only when no process can be
   * started (start()).
   */
  async probe(
    batch: number,
    opts: { steps: number; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<WarmProbeResult> {
    for (const [v, what] of [
      [batch, 'batch'],
      [opts.steps, 'steps'],
    ] as const)
      if (!Number.isSafeInteger(v) || v < 1)
        throw new UsageError(`warm probe ${what} must be a positive integer, got ${v}`);
    const t0 = performance.now();
    if (this.proc === undefined) await this.start();
    const p = this.proc as unknown as WarmProcess;
    const watch = this.watch(p);
    p.send({ probe: batch, steps: opts.steps });
    const line = await p.next(opts.timeoutMs ?? this.o.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, opts.signal);
    const measured = await watch();
    const base = { batch, steps: opts.steps, pid: p.pid, stepMs: [], ...measured };
    const wallMs = (): number => performance.now() - t0;
    if (line === 'exit') return { ...base, ...(await this.crashed(p)), restart: 'crash', wallMs: wallMs() };
    if (line === 'timeout' || line === 'aborted') {
      await this.stop(p);
      const message =
        line === 'timeout'
          ? `no answer within ${opts.timeoutMs ?? this.o.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS} ms; killed`
          : 'stopped by batchlab';
      return {
        ...base,
        outcome: line === 'timeout' ? 'timeout' : 'error',
        message,
        restart: line === 'timeout' ? 'timeout' : 'request',
        wallMs: wallMs(),
      };
    }
    if (line.kind !== 'answer' || line.fields.probe !== batch) {
      await this.stop(p);
      const what = line.kind === 'answer' ? `an answer for batch ${String(line.fields.probe)}` : JSON.stringify(line);
      return {
        ...base,
        outcome: 'error',
        message: `protocol error: asked for batch ${batch}, got ${what}`,
        restart: 'protocol',
        wallMs: wallMs(),
      };
    }
    const result: WarmProbeResult = { ...base, ...answerResult(line.fields), wallMs: wallMs() };
    if (await this.leaked(p, result)) result.restart = 'leak';
    return result;
  }

  /** Records the process's base and peak; ends it when the memory after this probe shows a leak. */
  private async leaked(p: WarmProcess, r: WarmProbeResult): Promise<boolean> {
    p.largestPeakBytes = Math.max(p.largestPeakBytes, r.peakBytes ?? 0);
    if (r.afterBytes === undefined) return false;
    if (p.baseBytes === undefined) {
      p.baseBytes = r.afterBytes;
      return false;
    }
    if (!isLeak(r.afterBytes, p.baseBytes, p.largestPeakBytes)) return false;
    await this.stop(p);
    return true;
  }

  /** The outcome of a process that died during a probe: today's classification (classify.ts) of its exit and stderr. */
  private async crashed(p: WarmProcess): Promise<Pick<WarmProbeResult, 'outcome' | 'message' | 'oom'>> {
    const [exitCode, signal] = await p.exited;
    await this.stop(p);
    const oomLine = p.stderrTail.find((l) => matchOom(l) !== undefined);
    const pattern = oomLine === undefined ? undefined : matchOom(oomLine);
    const { outcome, reason } = classifyTrial({
      exitCode,
      signal,
      interrupted: false,
      oom: pattern && oomLine ? { pattern, line: oomLine } : undefined,
    });
    const tail = p.stderrTail.slice(-15);
    const message = `the warm process died during the probe: ${reason}${tail.length ? `; stderr:\n  ${tail.join('\n  ')}` : ''}`;
    if (outcome === 'oom') return { outcome: 'oom', message, oom: parseOomMessage(tail.join('\n')) };
    return { outcome: 'crash', message };
  }

  /** Samples the tree's RSS (and GPU) while a probe runs; the returned function stops and gives the peaks. */
  private watch(p: WarmProcess): () => Promise<Pick<WarmProbeResult, 'peakRssBytes' | 'peakGpuBytes'>> {
    let rss = 0;
    let gpuBytes: number | undefined;
    let busy: Promise<void> | undefined;
    const poll = (): void => {
      busy ??= sampleTree(p.pid, p.pid)
        .then((t) => void (rss = Math.max(rss, t.rssBytes)))
        .catch(() => undefined)
        .finally(() => (busy = undefined));
    };
    const pollGpu = async (sampler: GpuSampler): Promise<void> => {
      const pids = await sampleTree(p.pid, p.pid).then(
        (t) => t.pids,
        () => [p.pid],
      );
      const b = await sampler.sample(pids);
      if (b !== undefined) gpuBytes = Math.max(gpuBytes ?? 0, b);
    };
    const timers = [setInterval(poll, this.o.pollMs ?? DEFAULT_POLL_MS)];
    const sampler = this.gpu;
    if (sampler !== undefined)
      timers.push(setInterval(() => void pollGpu(sampler), this.o.gpuPollMs ?? DEFAULT_GPU_POLL_MS));
    poll();
    return async () => {
      timers.forEach((t) => clearInterval(t));
      await busy;
      return { peakRssBytes: rss || undefined, peakGpuBytes: gpuBytes };
    };
  }

  /**
   * The live process tree's GPU memory now, by one nvidia-smi query (a probe samples it only every
   * gpuPollMs, which a short probe may never see); undefined without nvidia-smi, a live process or an answer.
   */
  async gpuBytesNow(): Promise<number | undefined> {
    const p = this.proc;
    if (p === undefined || this.gpu === undefined) return undefined;
    const pids = await sampleTree(p.pid, p.pid).then(
      (t) => t.pids,
      () => [p.pid],
    );
    return this.gpu.sample(pids);
  }

  /** Whether GPU memory can be measured here (nvidia-smi on PATH); known once a process was started. */
  get measuresGpu(): boolean {
    return this.gpu !== undefined;
  }

  /** Ends the live process (SIGTERM, SIGKILL after the grace); the next probe starts a fresh one. */
  async restart(): Promise<void> {
    if (this.proc !== undefined) await this.stop(this.proc);
  }

  /** Ends `p`: asks it to exit (EXIT_GRACE_MS), then ends its group; resolves when the group is gone. */
  private async stop(p: WarmProcess): Promise<void> {
    if (this.proc === p) this.proc = undefined;
    p.send({ exit: true });
    p.child.stdin.end();
    await Promise.race([p.exited, sleep(EXIT_GRACE_MS)]);
    if (p.pid > 1) await terminateGroup(p.pid, this.o.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    await p.exited;
  }

  /** Ends the process and removes the handlers. */
  async dispose(): Promise<void> {
    this.disposed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    await this.starting?.catch(() => undefined);
    await this.restart();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** On 'exit' nothing asynchronous runs any more: SIGKILL the group now. */
  private killNow(): void {
    if (this.proc !== undefined && this.proc.pid > 1) signalGroup(this.proc.pid, 'SIGKILL');
  }

  /**
   * On SIGINT/SIGTERM (the process has its own group, so a terminal's Ctrl-C does not reach it): kill
   * it and remove our listeners at once; if nobody else listens for the signal, re-raise it so that
   * batchlab still dies of it. A TrialRunner listening too re-raises it once its trials are gone
   * (runner.ts), seeing that our listener is no longer there.
   */
  private forwardSignal(sig: NodeJS.Signals): void {
    this.killNow();
    this.disposed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  }
}
