/**
 * Runs one training command as a trial: fills in the template, starts it under /bin/sh in its own
 * process group, reads its metrics from the metrics file and stdout, watches its process tree's
 * memory (and GPU memory where nvidia-smi exists), enforces the time limit and the memory budget,
 * and classifies how it ended. See docs/protocol.md for the user's side of the contract.
 *
 * A TrialRunner owns the live trials. While it exists it kills them when batchlab exits or receives
 * SIGINT/SIGTERM (a trial has its own process group, so a terminal's Ctrl-C does not reach it);
 * dispose() kills what is left and removes those handlers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { formatBytes } from '../../core/units.js';
import { classifyTrial, matchOom, type FailureEvidence, type OomPattern, type TrialOutcome } from '../oom.js';
import { FileTail } from './file-tail.js';
import { findOnPath, GpuSampler } from './gpu.js';
import { signalGroup, terminateGroup } from './group.js';
import {
  LineSplitter,
  MetricsCollector,
  stepRate,
  type ExternalStep,
  type MalformedLine,
  type StepRate,
} from './metrics.js';
import { sampleTree } from './proctree.js';
import { expandCommand, resolveValues, trialEnv, type ResolvedValues, type TrialValues } from './template.js';

/** Lines of stderr kept for the report. */
export const STDERR_TAIL_LINES = 40;
/** Longest stderr line kept, in characters (a progress bar without newlines must not fill memory). */
const STDERR_LINE_CHARS = 1_000;
/** Default interval of the /proc memory poll and the metrics-file tail. */
export const DEFAULT_POLL_MS = 100;
/** Default interval of the nvidia-smi query (slower: each query costs 50-500 ms of CPU). */
export const DEFAULT_GPU_POLL_MS = 500;
/** Default time between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 2_000;

/** How a memory budget is enforced: 'rlimit' = prlimit --as (virtual memory, CPU runs); 'emulate' = kill the group when the measure exceeds it; 'none' = only compare after the run. */
export type Enforcement = 'rlimit' | 'emulate' | 'none';
/** What the budget is compared with: the tree's resident memory, its GPU memory (nvidia-smi), or the peak_mem_bytes it reports. */
export type BudgetMeasure = 'rss' | 'gpu' | 'reported';

/** Options of runTrial. */
export interface RunTrialOptions {
  /** Command template, e.g. "python train.py --batch-size {batch} --lr {lr}"; run by /bin/sh -c. */
  cmd: string;
  values: TrialValues;
  /** Kill the trial after this long (outcome 'timeout'). */
  timeoutMs?: number;
  memoryBudgetBytes?: number;
  /** Default 'emulate' when a budget is given. */
  enforce?: Enforcement;
  /** Default 'rss'. Use 'gpu' or 'reported' for a GPU memory budget. */
  budgetOn?: BudgetMeasure;
  /** Aborting kills the trial (outcome 'interrupted'). */
  signal?: AbortSignal;
  /** Called for each valid metrics line, after it was merged into its step. */
  onMetric?: (step: ExternalStep, raw: Record<string, unknown>) => void;
  /** Called for each line of the command's output (metrics lines included). */
  onOutput?: (stream: 'stdout' | 'stderr', line: string) => void;
  cwd?: string;
  /** Added to batchlab's environment (the BATCHLAB_* variables win over these). */
  env?: NodeJS.ProcessEnv;
  /**
   * The one GPU the trial was given (its index or UUID, as in CUDA_VISIBLE_DEVICES, which the caller
   * sets in `env`): its GPU memory is read on that GPU only. Default: summed over every GPU.
   */
  gpu?: string;
  pollMs?: number;
  gpuPollMs?: number;
  /** Time between SIGTERM and SIGKILL; default: the runner's. */
  killGraceMs?: number;
}

/** How a trial went. Memory in bytes, times in ms. */
export interface TrialResult {
  outcome: TrialOutcome;
  /** One sentence: why this outcome. */
  reason: string;
  /** The command as run, placeholders filled in. */
  command: string;
  values: ResolvedValues;
  /** Pid of the shell, which is also the trial's process-group id; undefined if it never started. */
  pgid?: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  steps: ExternalStep[];
  /** Every valid metrics object as the command wrote it. */
  rawMetrics: Record<string, unknown>[];
  malformedLines: number;
  /** The first few malformed lines, with why. */
  malformedSamples: MalformedLine[];
  /** Final evaluation metrics (last reported value of each eval_ / test_ / val_ / train_ field). */
  evals: Record<string, number>;
  /** Steady-state speed after the first step; undefined with fewer than 3 steps. */
  rate?: StepRate;
  /** Peak resident memory of the process tree: the largest summed VmRSS seen (sampled every pollMs) or single-process VmHWM, whichever is larger. */
  peakRssBytes: number;
  /** High-water mark of the tree's GPU memory; undefined without nvidia-smi. */
  peakGpuBytes?: number;
  /** Largest peak_mem_bytes the command reported. */
  reportedPeakBytes?: number;
  budgetBytes?: number;
  budgetOn: BudgetMeasure;
  /** The last STDERR_TAIL_LINES lines of stderr. */
  stderrTail: string[];
}

/** Marks the signal listeners of TrialRunners, so one runner does not mistake another's for the program's own. */
const RUNNER_LISTENER = Symbol('batchlab.TrialRunner.listener');

/** Why batchlab itself killed a trial. */
type KillReason = 'timeout' | 'budget' | 'interrupt';

/** Options of TrialRunner. */
export interface TrialRunnerOptions {
  /** Default time between SIGTERM and SIGKILL. */
  killGraceMs?: number;
}

/** Runs trials and owns their process groups; see the module doc. Use one per search or sweep and dispose it. */
export class TrialRunner {
  readonly killGraceMs: number;
  private readonly live = new Set<LiveTrial>();
  private readonly onExit = (): void => this.killAllNow();
  private readonly onSignal = Object.assign((sig: NodeJS.Signals): void => void this.forwardSignal(sig), {
    [RUNNER_LISTENER]: true,
  });
  private prlimitPath: Promise<string | undefined> | undefined;
  private gpu: Promise<GpuSampler | undefined> | undefined;
  private disposed = false;

  constructor(options: TrialRunnerOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Number of trials running now. */
  get liveCount(): number {
    return this.live.size;
  }

  /** Runs one trial to its end. Throws (typed) only for bad input: an unknown placeholder, a bad batch, an impossible budget setting. */
  async runTrial(options: RunTrialOptions): Promise<TrialResult> {
    if (this.disposed) throw new Error('TrialRunner was disposed');
    const plan = await this.plan(options);
    const trial = new LiveTrial(plan, options, this.killGraceMs);
    this.live.add(trial);
    try {
      return await trial.finished;
    } finally {
      this.live.delete(trial);
    }
  }

  /** Kills every live trial (SIGTERM, SIGKILL after the grace) and removes the process handlers. */
  async dispose(): Promise<void> {
    this.disposed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    await this.stopAll();
  }

  /** Stops every live trial and waits until each has cleaned up (group gone, temporary files removed). */
  private async stopAll(): Promise<void> {
    await Promise.all(
      [...this.live].map(async (t) => {
        await t.stop('interrupt');
        await t.finished.catch(() => undefined); // its failure belongs to its own runTrial caller
      }),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** On 'exit' nothing asynchronous runs any more: SIGKILL every group at once. */
  private killAllNow(): void {
    for (const t of this.live) t.killNow();
  }

  /**
   * On SIGINT/SIGTERM: stop every trial (they end 'interrupted'). If nothing but TrialRunners
   * listens for the signal, our listener has replaced Node's default "exit", so restore that: remove
   * the handlers and re-raise the signal once the trials are gone (another runner still listening
   * catches it, stops its own trials and re-raises in turn).
   */
  private async forwardSignal(sig: NodeJS.Signals): Promise<void> {
    await this.stopAll();
    if (process.listeners(sig).some((l) => !(RUNNER_LISTENER in l))) return; // the program handles it
    await this.dispose();
    process.kill(process.pid, sig);
  }

  /** Checks the options and works out what to spawn. */
  private async plan(o: RunTrialOptions): Promise<TrialPlan> {
    const values = resolveValues(o.values);
    const command = expandCommand(o.cmd, values);
    const budgetOn = o.budgetOn ?? 'rss';
    const budget = o.memoryBudgetBytes;
    if (budget !== undefined && !(Number.isFinite(budget) && budget > 0))
      throw new UsageError(`memory budget must be a positive number of bytes, got ${budget}; use e.g. 4GiB`);
    if (o.timeoutMs !== undefined && !(o.timeoutMs > 0))
      throw new UsageError(`timeout must be a positive number of ms, got ${o.timeoutMs}; use e.g. --timeout 600`);
    const enforce = budget === undefined ? 'none' : (o.enforce ?? 'emulate');
    this.gpu ??= GpuSampler.create();
    const gpu = await this.gpu;
    if (budget !== undefined && budgetOn === 'gpu' && gpu === undefined)
      throw new UsageError(
        'a GPU memory budget needs nvidia-smi on PATH; measure the command\'s own peak_mem_bytes instead (budget on "reported")',
      );
    let argv = ['/bin/sh', '-c', command];
    if (enforce === 'rlimit') {
      if (budgetOn !== 'rss')
        throw new UsageError(
          `prlimit limits host memory, so it cannot enforce a budget on "${budgetOn}"; use enforcement "emulate"`,
        );
      this.prlimitPath ??= findOnPath('prlimit');
      const prlimit = await this.prlimitPath;
      if (prlimit === undefined)
        throw new UsageError(
          'enforcing a budget with an rlimit needs prlimit (util-linux) on PATH; install util-linux or use enforcement "emulate"',
        );
      // The shell and everything it starts inherit the limit.
      argv = [prlimit, `--as=${Math.floor(budget as number)}`, '--', ...argv];
    }
    return { values, command, argv, budget, budgetOn, enforce, gpu };
  }
}

/** Runs one trial with a runner of its own (created and disposed here). */
export async function runTrial(options: RunTrialOptions): Promise<TrialResult> {
  const runner = new TrialRunner({ killGraceMs: options.killGraceMs });
  try {
    return await runner.runTrial(options);
  } finally {
    await runner.dispose();
  }
}

/** What TrialRunner.plan worked out for one trial. */
interface TrialPlan {
  values: ResolvedValues;
  command: string;
  argv: string[];
  budget: number | undefined;
  budgetOn: BudgetMeasure;
  enforce: Enforcement;
  gpu: GpuSampler | undefined;
}

/** One running trial: its child, its measurements and its timers. Created and awaited by TrialRunner.runTrial. */
class LiveTrial {
  private readonly plan: TrialPlan;
  private readonly o: RunTrialOptions;
  private readonly graceMs: number;
  private readonly startMs = performance.now();
  private readonly collector: MetricsCollector;
  private readonly stderrTail: string[] = [];
  private pgid = 0;
  private killedFor: KillReason | undefined;
  private overBudget: string | undefined;
  private oom: { pattern: OomPattern; line: string } | undefined;
  private peakRssBytes = 0;
  private peakGpuBytes: number | undefined;
  /** Set when /proc cannot be read (not Linux). */
  private procUnavailable = false;
  private stopping: Promise<void> | undefined;
  /** The trial's temporary folder (the metrics file), while it exists. */
  private dir: string | undefined;
  /** Settles when the trial has ended and cleaned up. */
  readonly finished: Promise<TrialResult>;

  constructor(plan: TrialPlan, o: RunTrialOptions, defaultGraceMs: number) {
    this.plan = plan;
    this.o = o;
    this.graceMs = o.killGraceMs ?? defaultGraceMs;
    this.collector = new MetricsCollector({
      defaults: plan.values,
      clockMs: () => this.elapsedMs(),
      onMetric: (s, raw) => this.onMetric(s, raw),
    });
    this.finished = this.run();
  }

  private elapsedMs(): number {
    return performance.now() - this.startMs;
  }

  /** Starts the command and resolves with its result once it and its whole group are gone. */
  private async run(): Promise<TrialResult> {
    if (this.o.signal?.aborted) {
      this.killedFor = 'interrupt';
      return this.result(null, null);
    }
    const dir = await mkdtemp(join(tmpdir(), 'batchlab-trial-'));
    this.dir = dir;
    const metricsPath = join(dir, 'metrics.jsonl');
    await writeFile(metricsPath, '');
    const tail = await FileTail.open(metricsPath);
    try {
      const child = this.spawnChild(metricsPath);
      const stopWatching = this.watch(tail);
      const [code, signal] = await exitOf(child);
      await stopWatching();
      // The command is gone; whatever it left in its group (workers, a stray `&`) goes too.
      if (this.pgid !== 0) await (this.stopping ?? terminateGroup(this.pgid, this.graceMs));
      await streamsClosed(child);
      for (const line of await tail.readAll()) this.collector.addFileLine(line);
      return this.result(code, signal);
    } finally {
      await tail.close();
      await rm(dir, { recursive: true, force: true });
      this.dir = undefined;
    }
  }

  /** Spawns the command detached (own session and group), stdout and stderr piped, line by line. */
  private spawnChild(metricsPath: string): ChildProcess {
    const [exe, ...args] = this.plan.argv as [string, ...string[]];
    // PYTHONUNBUFFERED: a piped Python stdout is block-buffered, which would hold back `batchlab:` lines.
    const env = { ...process.env, PYTHONUNBUFFERED: '1', ...this.o.env, ...trialEnv(this.plan.values, metricsPath) };
    const child = spawn(exe, args, { cwd: this.o.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pgid = child.pid ?? 0;
    child.once('error', (e) => this.onStderr(`batchlab: could not start the command: ${e.message}`));
    const out = new LineSplitter();
    const err = new LineSplitter();
    child.stdout?.on('data', (c: Buffer) => out.push(c).forEach((l) => this.onStdout(l)));
    child.stdout?.on('end', () => out.end().forEach((l) => this.onStdout(l)));
    child.stderr?.on('data', (c: Buffer) => err.push(c).forEach((l) => this.onStderr(l)));
    child.stderr?.on('end', () => err.end().forEach((l) => this.onStderr(l)));
    return child;
  }

  private onStdout(line: string): void {
    this.o.onOutput?.('stdout', line);
    this.collector.addStdoutLine(line);
  }

  /** Keeps the tail, and remembers the first OOM line even if later output pushes it out of the tail. */
  private onStderr(line: string): void {
    this.o.onOutput?.('stderr', line);
    this.stderrTail.push(line.length > STDERR_LINE_CHARS ? `${line.slice(0, STDERR_LINE_CHARS)}...` : line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    if (this.oom === undefined) {
      const pattern = matchOom(line);
      if (pattern !== undefined) this.oom = { pattern, line };
    }
  }

  private onMetric(step: ExternalStep, raw: Record<string, unknown>): void {
    this.o.onMetric?.(step, raw);
    this.checkBudget();
  }

  /** Starts the pollers, the timeout and the abort listener; returns the function that stops them all. */
  private watch(tail: FileTail): () => Promise<void> {
    const timers: NodeJS.Timeout[] = [];
    let polling: Promise<void> | undefined;
    const poll = (): void => {
      if (polling !== undefined) return; // the previous poll is still reading /proc: skip rather than pile up
      polling = (async () => {
        await this.sampleMemory();
        for (const line of await tail.read()) this.collector.addFileLine(line);
      })().finally(() => (polling = undefined));
    };
    poll();
    timers.push(setInterval(poll, this.o.pollMs ?? DEFAULT_POLL_MS));
    if (this.plan.gpu !== undefined)
      timers.push(setInterval(() => void this.sampleGpu(), this.o.gpuPollMs ?? DEFAULT_GPU_POLL_MS));
    if (this.o.timeoutMs !== undefined) timers.push(setTimeout(() => void this.stop('timeout'), this.o.timeoutMs));
    const onAbort = (): void => void this.stop('interrupt');
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    return async () => {
      timers.forEach((t) => clearInterval(t));
      this.o.signal?.removeEventListener('abort', onAbort);
      await polling; // the final read of the metrics file must not race a poll's read
    };
  }

  /** One /proc sample of the tree; updates the peak and checks the budget. */
  private async sampleMemory(): Promise<void> {
    if (this.pgid === 0 || this.procUnavailable) return;
    try {
      const { rssBytes, maxHwmBytes } = await sampleTree(this.pgid, this.pgid);
      this.peakRssBytes = Math.max(this.peakRssBytes, rssBytes, maxHwmBytes);
    } catch {
      this.procUnavailable = true; // no /proc (not Linux): RSS is not measured, the trial goes on
      return;
    }
    this.checkBudget();
  }

  /** One nvidia-smi sample of the tree's GPU memory. */
  private async sampleGpu(): Promise<void> {
    if (this.pgid === 0 || this.procUnavailable) return;
    const pids = await sampleTree(this.pgid, this.pgid).then(
      (t) => t.pids,
      () => [this.pgid],
    );
    const bytes = await this.plan.gpu?.sample(pids, this.o.gpu);
    if (bytes === undefined) return;
    this.peakGpuBytes = Math.max(this.peakGpuBytes ?? 0, bytes);
    this.checkBudget();
  }

  /** The measure the budget applies to, as seen so far. */
  private measuredBytes(): number | undefined {
    if (this.plan.budgetOn === 'rss') return this.peakRssBytes;
    if (this.plan.budgetOn === 'gpu') return this.peakGpuBytes;
    return this.collector.reportedPeakBytes;
  }

  /** Emulated enforcement: kill the group the moment the measure passes the budget. */
  private checkBudget(): void {
    if (this.plan.enforce !== 'emulate' || this.overBudget !== undefined) return;
    if (this.noteOverBudget()) void this.stop('budget');
  }

  /** Records the over-budget sentence when the measure is above the budget; true if it is. */
  private noteOverBudget(): boolean {
    const budget = this.plan.budget;
    const measured = this.measuredBytes();
    if (budget === undefined || measured === undefined || measured <= budget) return false;
    const what = { rss: 'process-tree resident memory', gpu: 'GPU memory', reported: 'reported peak_mem_bytes' }[
      this.plan.budgetOn
    ];
    const killed = this.plan.enforce === 'emulate' ? ` after ${Math.round(this.elapsedMs())} ms; killed` : '';
    this.overBudget = `${what} reached ${formatBytes(measured)}, over the budget of ${formatBytes(budget)}${killed}`;
    return true;
  }

  /** Kills the group for `reason` (first reason wins); resolves once the group is gone. */
  stop(reason: KillReason): Promise<void> {
    if (this.stopping === undefined) {
      this.killedFor = reason;
      this.stopping = this.pgid === 0 ? Promise.resolve() : terminateGroup(this.pgid, this.graceMs);
    }
    return this.stopping;
  }

  /** SIGKILL the group and remove the temporary folder now, synchronously (for process 'exit'). */
  killNow(): void {
    this.killedFor ??= 'interrupt';
    if (this.pgid !== 0) signalGroup(this.pgid, 'SIGKILL');
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Builds the result, classifying the end (see classifyTrial for the order of the evidence). */
  private result(exitCode: number | null, signal: NodeJS.Signals | null): TrialResult {
    if (this.overBudget === undefined && this.killedFor === undefined) this.noteOverBudget();
    const evidence: FailureEvidence = {
      exitCode,
      signal,
      interrupted: this.killedFor === 'interrupt',
      timedOutAfterMs: this.killedFor === 'timeout' ? this.o.timeoutMs : undefined,
      overBudget: this.overBudget,
      oom: this.oom,
      rlimitBytesText:
        this.plan.enforce === 'rlimit' && this.plan.budget !== undefined ? formatBytes(this.plan.budget) : undefined,
    };
    let { outcome, reason } = classifyTrial(evidence);
    if (outcome === 'ok' && this.plan.budget !== undefined && this.measuredBytes() === undefined) {
      outcome = 'error';
      reason =
        this.plan.budgetOn === 'gpu'
          ? 'nvidia-smi showed no GPU memory for the command, so the GPU budget could not be checked'
          : 'the command reported no peak_mem_bytes, so the budget could not be checked; report it or budget on "rss"';
    }
    const c = this.collector;
    return {
      outcome,
      reason,
      command: this.plan.command,
      values: this.plan.values,
      pgid: this.pgid || undefined,
      exitCode,
      signal,
      wallMs: this.elapsedMs(),
      steps: c.steps,
      rawMetrics: c.raw,
      malformedLines: c.malformedLines,
      malformedSamples: c.malformedSamples,
      evals: c.finalEvals(),
      rate: stepRate(c.steps),
      peakRssBytes: this.peakRssBytes,
      peakGpuBytes: this.peakGpuBytes,
      reportedPeakBytes: c.reportedPeakBytes,
      budgetBytes: this.plan.budget,
      budgetOn: this.plan.budgetOn,
      stderrTail: [...this.stderrTail],
    };
  }
}

/** Resolves with [exit code, signal] when the child exits (a spawn failure reads as exit code 127, as in a shell). */
function exitOf(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve([code, signal]));
    child.once('error', () => resolve([127, null]));
  });
}

/** Resolves when the child's stdout and stderr have closed (after its group is gone they always do). */
function streamsClosed(child: ChildProcess): Promise<void> {
  const closed = (s: NodeJS.ReadableStream | null): Promise<void> =>
    s === null || (s as unknown as { closed: boolean }).closed
      ? Promise.resolve()
      : new Promise((r) => s.once('close', () => r()));
  return Promise.all([closed(child.stdout), closed(child.stderr)]).then(() => undefined);
}
