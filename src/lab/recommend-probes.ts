/**
 * The short runs of a recommendation probe, each in its own child process (child.ts) and recorded as a
 * run of the experiment: the memory phase (peak at B = 1, 2, 4, 8 -> fitMemory -> predictMaxBatch) and
 * the throughput phase (fastest step time at a few batch sizes, warm-up steps excluded -> fitStepTime,
 * saturationBatch).
 */
import { BatchlabError } from '../core/errors.js';
import type { MemoryCeiling } from '../core/margin.js';
import type { RunSummary } from '../core/summary.js';
import type { StepRecord } from '../core/types.js';
import type { TrainConfig } from '../engine/tfjs/trainer.js';
import type { Store } from '../store/index.js';
import { THROUGHPUT_WARMUP_EXCLUDED, throughputFits, type ThroughputMeasurement } from '../core/recommend-plan.js';
import { type ExecuteRun, executeRun } from './run/execute.js';
import type { RunOutcome } from './run/outcome.js';
import { probeConfig } from './run/probe.js';

/** Where probes are recorded, and the progress hooks. */
export interface ProbeContext {
  store: Store;
  dbPath: string;
  experimentId: number;
  signal?: AbortSignal;
  /** The user's LR flag and value, for the advice when a probe diverges (default: --base-lr and the probe's LR). */
  lrFlag?: { flag: '--base-lr' | '--lr'; value: number };
  onProbe?(info: { key: string; batchSize: number; steps: number }): void;
  onStep?(info: { key: string; step: number; loss: number; stepMs: number }): void;
  /** Runs the runs; tests pass a stand-in. Default executeRun. */
  execute?: ExecuteRun;
}

/** A finished probe: its summary and its per-step records. */
export interface ProbeRun {
  runId: number;
  summary: RunSummary;
  steps: StepRecord[];
}

/** Turns a run that did not finish into a typed error; a divergence says to lower the base LR. */
function probeFailure(ctx: ProbeContext, key: string, config: TrainConfig, o: RunOutcome): BatchlabError {
  if (o.status === 'diverged') {
    const { flag, value } = ctx.lrFlag ?? { flag: '--base-lr', value: config.lr };
    return new BatchlabError(
      'BATCHLAB_DIVERGED',
      `the ${key} probe diverged at batch ${config.batchSize} with LR ${+config.lr.toPrecision(4)} (${o.reason.split(';')[0]}); lower ${flag} (e.g. ${flag} ${+(value / 10).toPrecision(3)}) and run again`,
      { exitCode: 3 },
    );
  }
  if (o.status === 'interrupted')
    return new BatchlabError('BATCHLAB_INTERRUPTED', `the ${key} probe was interrupted`, { exitCode: 130 });
  return new BatchlabError(
    o.status === 'oom' ? 'BATCHLAB_OOM' : 'BATCHLAB_CHILD_FAILED',
    `the ${key} probe at batch ${config.batchSize} failed (${o.status}): ${o.reason.split('\n')[0]}`,
    { exitCode: 1 },
  );
}

/** Runs one probe in a child process, recorded as run `key`; returns its summary and steps, or throws a typed error. */
export async function runStoredProbe(
  ctx: ProbeContext,
  key: string,
  config: TrainConfig,
  totalSteps: number,
): Promise<ProbeRun> {
  const run = ctx.store.upsertRun({
    experimentId: ctx.experimentId,
    key,
    batchSize: config.batchSize,
    microBatchSize: config.batchSize / config.accumSteps,
    accumSteps: config.accumSteps,
    seed: config.seed,
    lr: config.lr,
    settings: config,
  });
  ctx.onProbe?.({ key, batchSize: config.batchSize, steps: totalSteps });
  const outcome = await (ctx.execute ?? executeRun)(
    { kind: 'tfjs', config },
    {
      record: { dbPath: ctx.dbPath, runId: run.id },
      hooks: { signal: ctx.signal, onStep: (s) => ctx.onStep?.({ key, step: s.step, loss: s.loss, stepMs: s.stepMs }) },
    },
  );
  if (outcome.status !== 'done') throw probeFailure(ctx, key, config, outcome);
  return { runId: run.id, summary: outcome.summary!, steps: ctx.store.stepsOf(run.id) };
}

/** Memory phase: a few steps at each batch, peak tensor bytes per run. */
export async function measureMemory(
  ctx: ProbeContext,
  base: TrainConfig,
  plan: readonly { batchSize: number; steps: number }[],
): Promise<{ points: MemoryCeiling['points']; samples: number }> {
  const points: MemoryCeiling['points'] = [];
  let samples = 0;
  for (const p of plan) {
    const r = await runStoredProbe(
      ctx,
      `probe:memory:b=${p.batchSize}`,
      probeConfig(base, p.batchSize, p.steps),
      p.steps,
    );
    points.push({ batchSize: p.batchSize, peakBytes: r.summary.peakBytes });
    samples += r.summary.samples;
  }
  return { points, samples };
}

/** Throughput phase: the fastest step time after the warm-up steps, fitted t(B) = alpha + beta B. */
export async function measureThroughput(
  ctx: ProbeContext,
  base: TrainConfig,
  plan: readonly { batchSize: number; steps: number }[],
): Promise<{ result: ThroughputMeasurement; samples: number }> {
  const points: ThroughputMeasurement['points'] = [];
  let samples = 0;
  for (const p of plan) {
    const r = await runStoredProbe(
      ctx,
      `probe:throughput:b=${p.batchSize}`,
      probeConfig(base, p.batchSize, p.steps),
      p.steps,
    );
    // The fastest step after the warm-up: interference from other processes only ever adds time, so the
    // minimum is the least disturbed estimate of a step's cost (as Python's timeit advises).
    const kept = r.steps.slice(Math.min(THROUGHPUT_WARMUP_EXCLUDED, r.steps.length - 1)).map((s) => s.stepMs);
    const stepMs = Math.min(...kept);
    points.push({
      batchSize: p.batchSize,
      stepMs,
      samplesPerSec: (1000 * p.batchSize) / stepMs,
      peakBytes: r.summary.peakBytes,
    });
    samples += r.summary.samples;
  }
  return { result: throughputFits(points), samples };
}
