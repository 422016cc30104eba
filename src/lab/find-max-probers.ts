/**
 * Probers for find-max: run a few training steps at one batch size, in a process of their own, and
 * say what memory it took and how it ended. One for TF.js models (a worker via runInWorker), one for
 * any training command (the external runner, docs/protocol.md).
 *
 * A prober reports against the hard budget only; the margin is applied by the search (find-max.ts), so
 * both kinds of probe are judged the same way.
 */
import { BatchlabError } from '../core/errors.js';
import type { ProbeResult } from '../core/search.js';
import { externalProbe, TrialRunner, type BudgetMeasure, type TrialResult } from '../engine/external/index.js';
import { runInWorker, type WorkerHooks, type WorkerOutcome } from './child.js';
import type { TrainConfig } from './train.js';
import type { WorkerJob } from './worker-protocol.js';

/** How one probe ended. 'timeout' and 'error' stop the search; 'over-budget' and 'oom' steer it. */
export type MeasurementKind = 'ok' | 'over-budget' | 'oom' | 'error' | 'timeout';

/** What one probe measured. */
export interface Measurement {
  kind: MeasurementKind;
  /** Peak of the measure the budget is on (tensor peak, tree RSS, GPU or reported); undefined when not measured. */
  peakBytes?: number;
  /** Resident high-water mark of the probe's process (tree), when known. */
  vmHwmBytes?: number;
  /** Wall time of the probe, ms. */
  ms: number;
  /** Why it failed (the first line is shown in tables). */
  message?: string;
}

/** Options of one probe run. */
export interface ProbeRunOptions {
  /** Training steps (updates) to run. */
  steps: number;
  signal?: AbortSignal;
  onStep?: (step: number, totalSteps: number) => void;
}

/** Runs probes at chosen batch sizes. */
export interface Prober {
  /** What `peakBytes` is, in words, for output. */
  readonly measure: string;
  run(batch: number, options: ProbeRunOptions): Promise<Measurement>;
  /** Releases what the prober holds (a runner's processes and signal handlers). */
  dispose?(): Promise<void>;
}

/** Budget measures of a TF.js probe: the step's tensor peak (the GPU-memory analogue) or the process's VmHWM. */
export type TfjsBudgetMeasure = 'tensor' | 'rss';

/** Memory does not depend on the learning rate; a small one keeps a few steps at a huge batch from diverging. */
export const PROBE_LR = 0.01;
/** Samples of each split the probe evaluates at its end (the evaluation is not what is measured). */
export const PROBE_EVAL_SAMPLES = 256;

/**
 * The config of one probe, a copy of `base` (which is never written): `steps` updates at `batch`, no
 * accumulation, no noise measurement, sharpness, target or periodic evaluation.
 */
export function probeConfig(base: TrainConfig, batch: number, steps: number): TrainConfig {
  return {
    ...base,
    batchSize: batch,
    accumSteps: 1,
    budget: { maxSteps: steps },
    lr: PROBE_LR,
    schedule: 'constant',
    warmupSteps: 0,
    evalEvery: 0,
    evalTrainLimit: PROBE_EVAL_SAMPLES,
    evalTestLimit: PROBE_EVAL_SAMPLES,
    target: undefined,
    noiseEvery: 0,
    sharpness: undefined,
  };
}

/** Maps a worker's outcome to a measurement. A SIGKILL or an allocation failure is 'oom' (child.ts decides); a divergence or a crash is 'error'. */
export function measurementOf(outcome: WorkerOutcome, measure: TfjsBudgetMeasure, ms: number): Measurement {
  if (outcome.kind === 'done') {
    if (outcome.status === 'interrupted')
      throw new BatchlabError('BATCHLAB_INTERRUPTED', 'interrupted while probing', { exitCode: 130 });
    const s = outcome.summary;
    const peakBytes = measure === 'tensor' ? s.peakBytes : s.vmHwmBytes;
    if (peakBytes === undefined)
      return {
        kind: 'error',
        ms,
        message:
          'the process high-water mark (VmHWM) is not readable here; budget on tensor memory instead (--budget-on tensor)',
      };
    return { kind: 'ok', peakBytes, vmHwmBytes: s.vmHwmBytes, ms };
  }
  if (outcome.status === 'interrupted')
    throw new BatchlabError('BATCHLAB_INTERRUPTED', 'interrupted while probing', { exitCode: 130 });
  if (outcome.status === 'oom') return { kind: 'oom', ms, message: outcome.message };
  const tail = outcome.stderrTail ? `\n${outcome.stderrTail}` : '';
  return {
    kind: 'error',
    ms,
    message: `${outcome.status === 'diverged' ? 'diverged' : outcome.code}: ${outcome.message}${tail}`,
  };
}

/** Options of tfjsProber. */
export interface TfjsProberOptions {
  base: TrainConfig;
  measure: TfjsBudgetMeasure;
  /** Runs a worker; tests pass a fake. Default runInWorker. */
  runWorker?: (job: WorkerJob, hooks: WorkerHooks) => Promise<WorkerOutcome>;
}

/** Probes a TF.js model: each probe is a worker process training `steps` updates (see probeConfig). */
export function tfjsProber(options: TfjsProberOptions): Prober {
  const runWorker = options.runWorker ?? runInWorker;
  return {
    measure:
      options.measure === 'tensor'
        ? 'tensor peak of a training step (weights, optimizer state, activations, gradients; dataset excluded)'
        : 'process resident high-water mark (VmHWM)',
    async run(batch, o) {
      const t0 = performance.now();
      let total = o.steps;
      const outcome = await runWorker(
        { config: probeConfig(options.base, batch, o.steps) },
        {
          signal: o.signal,
          onStart: (info) => (total = info.totalSteps),
          onStep: (info) => o.onStep?.(info.step, total),
        },
      );
      return measurementOf(outcome, options.measure, performance.now() - t0);
    },
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
}

/** The trial's peak on the budget's measure, and its tree RSS. */
function trialMeasurement(result: ProbeResult, trial: TrialResult | undefined, ms: number): Measurement {
  const vmHwmBytes = trial?.peakRssBytes || undefined;
  const on = trial?.budgetOn ?? 'rss';
  const measured = on === 'rss' ? trial?.peakRssBytes : on === 'gpu' ? trial?.peakGpuBytes : trial?.reportedPeakBytes;
  if (result.ok) return { kind: 'ok', peakBytes: result.peakBytes, vmHwmBytes, ms };
  // externalProbe folds a timeout into 'error' (it stops the search); the store keeps it apart.
  const kind = trial?.outcome === 'timeout' ? 'timeout' : result.kind;
  // Only a run stopped at the budget measured a peak that means something; a crashed or killed one did not get there.
  return {
    kind,
    peakBytes: kind === 'over-budget' ? measured || undefined : undefined,
    vmHwmBytes,
    ms,
    message: result.message,
  };
}

/** Probes a training command through externalProbe, with one TrialRunner for all probes (dispose() kills what is left). */
export function commandProber(options: CommandProberOptions): Prober {
  const runner = new TrialRunner();
  let last: TrialResult | undefined;
  const what = {
    rss: 'process-tree resident memory (RSS)',
    gpu: 'GPU memory (nvidia-smi)',
    reported: 'peak_mem_bytes the command reports',
  }[options.budgetOn];
  return {
    measure: what,
    async run(batch, o) {
      const t0 = performance.now();
      last = undefined;
      const probe = externalProbe({
        runner,
        cmd: options.cmd,
        values: { maxSteps: o.steps, lr: options.lr, seed: options.seed },
        memoryBudgetBytes: options.budgetBytes,
        budgetOn: options.budgetOn,
        timeoutMs: options.timeoutMs,
        signal: o.signal,
        cwd: options.cwd,
        env: options.env,
        onMetric: (step) => o.onStep?.(step.step, o.steps),
        onTrial: (r) => (last = r),
      });
      const result = await probe(batch);
      return trialMeasurement(result, last, performance.now() - t0);
    },
    dispose: () => runner.dispose(),
  };
}
