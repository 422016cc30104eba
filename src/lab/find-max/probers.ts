/**
 * Probers for find-max: run a few training steps at one batch size and say what memory it took and
 * how it ended. One for TF.js models and one for any training command (docs/protocol.md), each probe a
 * process of its own, both through executeRun with its outcome read the same way (run/probe.ts); and
 * a warm one for a command that serves probes over stdin (docs/protocol.md, "Warm probes"), whose
 * verification runs the same command fresh.
 *
 * A prober reports against the hard budget only; the margin is applied by the search (find-max.ts), so
 * every kind of probe is judged the same way.
 */
import { BatchlabError, UsageError } from '../../core/errors.js';
import type { KnownLimits, LimitReading } from '../../core/find-max.js';
import type { StatedMemory } from '../../core/run.js';
import type { BudgetMeasure } from '../../engine/external/runner.js';
import { TrialRunner } from '../../engine/external/runner.js';
import { expandWarmCommand } from '../../engine/external/template.js';
import { WarmProber, type WarmProbeResult, type WarmReady } from '../../engine/external/warm.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { ProbeMeasurement } from '../../engine/trainer.js';
import { type ExecuteRun, executeRun, type RunSpec } from '../run/execute.js';
import { type ProbePeak, probeConfig, probeOf } from '../run/probe.js';

/** Options of one probe run. */
export interface ProbeRunOptions {
  /** Training steps (updates) to run. */
  steps: number;
  /** The limit the probe will be judged against (a warm JAX prober measures a bound above it again, fresh). */
  limitBytes?: number;
  signal?: AbortSignal;
  onStep?: (step: number, totalSteps: number) => void;
}

/** Runs probes at chosen batch sizes. */
export interface Prober {
  /** What `peakBytes` is, in words, for output. */
  readonly measure: string;
  /**
   * Present when the peaks meet a real limit whose out-of-memory messages state figures (a GPU, a
   * command's own report, a warm process): find-max then probes B = 1 and 8 only and runs the limit
   * search (core/limit.ts), reading the failures' figures in this measure.
   */
  readonly limit?: LimitReading;
  /**
   * Its probes may run at the same time: each is a process of its own, measured on its own (nvidia-smi
   * per process, or the command's own report), so find-max runs its small probes together.
   */
  readonly concurrent?: boolean;
  /** Starts what the probes need and says what is known of the limit before the first probe (a warm process: its ready line). */
  prepare?(): Promise<KnownLimits>;
  run(batch: number, options: ProbeRunOptions): Promise<ProbeMeasurement>;
  /** Runs the verification of the answer instead of this prober (a warm prober's: a fresh process). */
  readonly verifier?: Prober;
  /** Frees what the probes hold before the verification runs (a warm process and its memory). */
  release?(): Promise<void>;
  /** Releases what the prober holds (a runner's processes and signal handlers). */
  dispose?(): Promise<void>;
}

const MiB = 2 ** 20;
/**
 * How the limit search reads each command measure; the resolution is the measure's noise, which
 * bounds the bytes per sample a flat stretch allows (core/limit.ts flatBound). nvidia-smi counts the
 * whole process in 2 MiB allocator blocks (device terms). A command's own peak_mem_bytes is its
 * allocator's (max_memory_allocated) on a GPU, but may be an RSS on a CPU: 1 MiB keeps a flat reading
 * from sending the search far up. RSS has no failure figures to read: the analytic search keeps it.
 */
const COMMAND_LIMIT_READING: Readonly<Partial<Record<BudgetMeasure, LimitReading>>> = {
  gpu: { peak: 'device', resolutionBytes: 2 * MiB },
  reported: { peak: 'allocator', resolutionBytes: MiB },
};
/** A CPU process's resident memory drifts by ~10 MiB between probes (allocator and interpreter noise): the resolution of a warm CPU helper's peaks. */
const RSS_READING: LimitReading = { peak: 'allocator', resolutionBytes: 16 * MiB };

/** Budget measures of a TF.js probe: the step's tensor peak (the GPU-memory analogue) or the process's VmHWM. */
export type TfjsBudgetMeasure = 'tensor' | 'rss';

/** One probe through `execute`: the run, then its outcome read as a measurement of `peak`. */
async function probeRun(
  execute: ExecuteRun,
  spec: RunSpec,
  peak: ProbePeak,
  o: ProbeRunOptions,
): Promise<ProbeMeasurement> {
  let total = o.steps;
  const outcome = await execute(spec, {
    hooks: {
      signal: o.signal,
      onStart: (plan) => (total = plan.totalSteps || o.steps),
      onStep: (p) => o.onStep?.(p.step, total),
    },
  });
  return probeOf(outcome, peak);
}

/** Options of tfjsProber. */
export interface TfjsProberOptions {
  base: TrainConfig;
  measure: TfjsBudgetMeasure;
  /** Runs the runs; tests pass a stand-in. Default executeRun. */
  execute?: ExecuteRun;
}

/** Probes a TF.js model: each probe is a worker process training `steps` updates (see probeConfig). */
export function tfjsProber(options: TfjsProberOptions): Prober {
  const execute = options.execute ?? executeRun;
  return {
    measure:
      options.measure === 'tensor'
        ? 'tensor peak of a training step (weights, optimizer state, activations, gradients; dataset excluded)'
        : 'process resident high-water mark (VmHWM)',
    run: (batch, o) =>
      probeRun(
        execute,
        { kind: 'tfjs', config: probeConfig(options.base, batch, o.steps) },
        options.measure === 'tensor' ? 'peakBytes' : 'vmHwmBytes',
        o,
      ),
  };
}

/** Options of commandProber. */
export interface CommandProberOptions {
  /** Command template (docs/protocol.md), e.g. "python3 train.py --batch-size {batch} --max-steps {max_steps}". */
  cmd: string;
  budgetBytes: number;
  budgetOn: BudgetMeasure;
  timeoutMs?: number;
  lr?: number;
  seed?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Runs the trials; default one of its own for all probes, killed and released by dispose(). */
  runner?: TrialRunner;
  execute?: ExecuteRun;
}

/**
 * Probes a training command: each probe runs it once at `batch` (micro-batch = batch, no accumulation),
 * its peak on the budget's measure, killed when it passes the budget. One TrialRunner for all probes.
 */
export function commandProber(options: CommandProberOptions): Prober {
  const own = options.runner === undefined;
  const runner = options.runner ?? new TrialRunner();
  const execute = options.execute ?? executeRun;
  return {
    measure: {
      rss: 'process-tree resident memory (RSS)',
      gpu: 'GPU memory (nvidia-smi)',
      reported: 'peak_mem_bytes the command reports',
    }[options.budgetOn],
    limit: COMMAND_LIMIT_READING[options.budgetOn],
    concurrent: COMMAND_LIMIT_READING[options.budgetOn] !== undefined,
    run: (batch, o) =>
      probeRun(
        execute,
        {
          kind: 'command',
          command: { template: options.cmd, timeoutMs: options.timeoutMs },
          values: { batch, microBatch: batch, accum: 1, maxSteps: o.steps, lr: options.lr, seed: options.seed },
          memoryBudget: { bytes: options.budgetBytes, on: options.budgetOn },
          cwd: options.cwd,
          env: options.env,
          runner,
        },
        'peakBytes',
        o,
      ),
    dispose: async () => {
      if (own) await runner.dispose();
    },
  };
}

/** Options of warmCommandProber. */
export interface WarmCommandProberOptions {
  /** The command; {batch}, {micro_batch}, {accum} and {max_steps} are refused (each probe's come over stdin), {lr} and {seed} filled in. */
  cmd: string;
  budgetBytes: number;
  budgetOn: BudgetMeasure;
  /** Time one probe may take, ms; the fresh verification gets it too. */
  timeoutMs?: number;
  /** Time from start to the ready line (imports, CUDA initialisation, data), ms. */
  startTimeoutMs?: number;
  lr?: number;
  seed?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The process's own output lines (not protocol lines). */
  onOutput?: (stream: 'stdout' | 'stderr', line: string) => void;
}

/**
 * Probes a command that serves warm probes (WarmProber): one process, started on the first probe (or
 * by prepare), answers every probe; batchlab restarts it after a crash, a timeout, a protocol error or
 * a leak (and measures the leaking probe again in the new process: its peak held the leak). The verification of the answer runs the same command fresh, as an ordinary trial
 * (commandProber, without BATCHLAB_WARM), after release() ended the warm process and freed its memory.
 * The peak by --budget-on: 'reported' = the process's own peak_bytes (torch.cuda.max_memory_allocated,
 * on a CPU its VmHWM); 'gpu' = device memory: peak_reserved_bytes plus what lies outside the allocator
 * (the CUDA context: nvidia-smi once the process is ready, less what its allocator then held; raised by
 * any later reading), or nvidia-smi's own sample where it saw more; 'rss' = the VmHWM a CPU helper
 * reports, else the tree's sampled RSS.
 */
export function warmCommandProber(options: WarmCommandProberOptions): Prober {
  const cmd = expandWarmCommand(options.cmd, { lr: options.lr, seed: options.seed });
  const env: NodeJS.ProcessEnv = { ...options.env };
  if (options.lr !== undefined) env.BATCHLAB_LR = String(options.lr);
  if (options.seed !== undefined) env.BATCHLAB_SEED = String(options.seed);
  const warm = new WarmProber({
    cmd,
    cwd: options.cwd,
    env,
    probeTimeoutMs: options.timeoutMs,
    startTimeoutMs: options.startTimeoutMs,
    gpu: options.budgetOn === 'gpu',
    onOutput: options.onOutput,
  });
  const device = new DeviceMeasure(warm);
  const verifier = commandProber({ ...options, cmd });
  const probe = async (batch: number, o: ProbeRunOptions): Promise<WarmProbeResult> => {
    const r = await warm.probe(batch, { steps: o.steps, signal: o.signal });
    if (o.signal?.aborted) throw new BatchlabError('BATCHLAB_INTERRUPTED', 'interrupted while probing');
    if (options.budgetOn === 'gpu') await device.learn(r);
    return r;
  };
  return {
    measure: WARM_MEASURE[options.budgetOn],
    /** A CPU helper (its ready line says 'rss') reports a noisy VmHWM; a GPU one its allocator's peak. */
    get limit(): LimitReading {
      return warm.ready?.measure === 'rss' || options.budgetOn === 'rss'
        ? RSS_READING
        : (COMMAND_LIMIT_READING[options.budgetOn] as LimitReading);
    },
    verifier,
    prepare: async () => {
      const ready = await warm.start();
      if (options.budgetOn === 'gpu') await device.ready(ready);
      return knownLimits(ready, options.budgetOn, device.outsideBytes);
    },
    run: async (batch, o) => {
      let r = await probe(batch, o);
      // A probe after which the process leaked ran with the leak in its peak: measure it again in the fresh process.
      if (r.restart === 'leak') r = await probe(batch, o);
      // A JAX bound above the limit says nothing (the mark came from a probe that was over it): a new
      // process starts a new mark, so the same probe there states its own peak.
      if (isBound(r, options.budgetOn) && o.limitBytes !== undefined && (r.peakAtMostBytes as number) > o.limitBytes) {
        await warm.restart();
        r = await probe(batch, o);
      }
      return warmMeasurement(
        r,
        peakOf(r, options.budgetOn, warm.ready, device.outsideBytes),
        warmStated(r, warm.ready),
        isBound(r, options.budgetOn),
      );
    },
    release: () => warm.restart(),
    dispose: async () => {
      await warm.dispose();
      await verifier.dispose?.();
    },
  };
}

/** What a warm prober's peaks are, in words. */
const WARM_MEASURE: Readonly<Record<BudgetMeasure, string>> = {
  reported:
    "peak_bytes the warm process reports (torch.cuda.max_memory_allocated, JAX's peak_bytes_in_use, a CPU helper's VmHWM); the verification's peak_mem_bytes",
  gpu: "GPU memory: the warm process's peak reserved by its allocator plus its memory outside the allocator (CUDA context, by nvidia-smi); the verification by nvidia-smi",
  rss: 'resident memory of the warm process (its VmHWM, reset before each probe); the verification by process-tree RSS',
};

/** A probe whose peak on the budget's measure is only the process's high-water mark (a JAX helper's peak_at_most_bytes). */
function isBound(r: WarmProbeResult, budgetOn: BudgetMeasure): boolean {
  return budgetOn === 'reported' && r.peakBytes === undefined && r.peakAtMostBytes !== undefined;
}

/** The limits a ready line states, in the measure of `budgetOn`: the cap (in device terms, plus what lies outside the allocator) and the free memory. */
function knownLimits(ready: WarmReady, budgetOn: BudgetMeasure, outsideBytes: number): KnownLimits {
  if (budgetOn === 'rss') return {};
  const cap = ready.limitBytes === undefined ? undefined : ready.limitBytes + (budgetOn === 'gpu' ? outsideBytes : 0);
  return { limitBytes: cap, freeBytes: ready.freeBytes };
}

/** A warm probe's peak on the budget's measure (see warmCommandProber). */
function peakOf(
  r: WarmProbeResult,
  budgetOn: BudgetMeasure,
  ready: WarmReady | undefined,
  outsideBytes: number,
): number | undefined {
  // JAX cannot reset its high-water mark: a probe below an earlier, larger one states only that mark, an upper bound.
  if (budgetOn === 'reported') return r.peakBytes ?? r.peakAtMostBytes;
  if (budgetOn === 'rss') return ready?.measure === 'rss' ? r.peakBytes : r.peakRssBytes;
  const reserved = r.peakReservedBytes ?? r.peakBytes;
  const estimate = reserved === undefined ? undefined : reserved + outsideBytes;
  return estimate === undefined ? r.peakGpuBytes : Math.max(estimate, r.peakGpuBytes ?? 0);
}

/**
 * What a warm GPU process states of its memory, as a fresh trial's metric lines do (StatedMemory): the
 * cap of its ready line, the probe's reserved peak and its allocated peak (peak_bytes, unless the
 * ready line says it is an RSS); undefined for a process that states neither a cap nor a reserved peak.
 */
function warmStated(r: WarmProbeResult, ready: WarmReady | undefined): StatedMemory | undefined {
  if (ready?.limitBytes === undefined && r.peakReservedBytes === undefined) return undefined;
  const allocated = ready?.measure === 'rss' ? undefined : r.peakBytes;
  return {
    ...(ready?.limitBytes === undefined ? {} : { limitBytes: ready.limitBytes }),
    ...(r.peakReservedBytes === undefined ? {} : { peakReservedBytes: r.peakReservedBytes }),
    ...(allocated === undefined ? {} : { peakAllocatedBytes: allocated }),
  };
}

/**
 * A warm probe as a measurement: a crash is an error unless the table of OOM messages or a SIGKILL made
 * it out of memory (WarmProber); `peakAtMost` when the peak is the process's high-water mark, a bound.
 */
function warmMeasurement(
  r: WarmProbeResult,
  peakBytes: number | undefined,
  statedMemory: StatedMemory | undefined,
  peakAtMost: boolean,
): ProbeMeasurement {
  const common = {
    ms: r.wallMs,
    vmHwmBytes: r.peakRssBytes,
    stepMs: r.stepMs,
    ...(statedMemory ? { statedMemory } : {}),
  };
  if (r.outcome === 'ok') {
    if (peakBytes === undefined)
      return {
        ...common,
        kind: 'error',
        message:
          'the warm process answered without the peak the budget is on; report peak_bytes (docs/protocol.md, "Warm probes")',
      };
    return { ...common, kind: 'ok', peakBytes, ...(peakAtMost ? { peakAtMost: true } : {}) };
  }
  const message = r.message ?? r.outcome;
  if (r.outcome === 'oom') return { ...common, kind: 'oom', message, ...(r.oom ? { oom: r.oom } : {}) };
  if (r.outcome === 'timeout') return { ...common, kind: 'timeout', message };
  return { ...common, kind: 'error', message };
}

/**
 * The warm process's GPU memory outside its allocator (the CUDA context, library workspaces), which
 * the allocator's own figures leave out: nvidia-smi once it is ready less what the allocator then held,
 * raised by what later readings show (an OOM message's process - reserved, a probe's nvidia-smi sample
 * above its peak reserved): lazily loaded kernels make the context grow.
 */
class DeviceMeasure {
  outsideBytes = 0;
  private measuredStart = 0;
  constructor(private readonly warm: WarmProber) {}

  /** Reads nvidia-smi for a process that just became ready; throws without nvidia-smi. */
  async ready(ready: WarmReady): Promise<void> {
    if (!this.warm.measuresGpu)
      throw new UsageError(
        'a GPU memory budget needs nvidia-smi on PATH; budget on the peak the warm process reports instead (--budget-on reported)',
      );
    this.measuredStart = this.warm.starts;
    const atRest = (await this.warm.gpuBytesNow()) ?? (await this.warm.gpuBytesNow());
    if (atRest !== undefined)
      this.outsideBytes = Math.max(this.outsideBytes, atRest - (ready.reservedBytes ?? ready.baseBytes ?? 0));
  }

  /** Raises the estimate by what a probe showed; a process started since (after a crash or a leak) is read at rest first. */
  async learn(r: WarmProbeResult): Promise<void> {
    const f = r.oom;
    if (f?.processBytes !== undefined && f.reservedBytes !== undefined)
      this.outsideBytes = Math.max(this.outsideBytes, f.processBytes - f.reservedBytes);
    if (r.peakGpuBytes !== undefined && r.peakReservedBytes !== undefined)
      this.outsideBytes = Math.max(this.outsideBytes, r.peakGpuBytes - r.peakReservedBytes);
    if (this.warm.starts !== this.measuredStart && this.warm.ready !== undefined) await this.ready(this.warm.ready);
  }
}
