/**
 * Probers for find-max: run a few training steps at one batch size, in a process of their own, and
 * say what memory it took and how it ended. One for TF.js models, one for any training command
 * (docs/protocol.md); both run through executeRun and read its outcome the same way (run/probe.ts).
 *
 * A prober reports against the hard budget only; the margin is applied by the search (find-max.ts), so
 * both kinds of probe are judged the same way.
 */
import type { BudgetMeasure } from '../../engine/external/runner.js';
import { TrialRunner } from '../../engine/external/runner.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { ProbeMeasurement } from '../../engine/trainer.js';
import { type ExecuteRun, executeRun, type RunSpec } from '../run/execute.js';
import { type ProbePeak, probeConfig, probeOf } from '../run/probe.js';

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
  run(batch: number, options: ProbeRunOptions): Promise<ProbeMeasurement>;
  /** Releases what the prober holds (a runner's processes and signal handlers). */
  dispose?(): Promise<void>;
}

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
