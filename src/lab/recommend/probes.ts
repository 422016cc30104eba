/**
 * The short runs of a recommendation probe, each recorded as a run of the experiment (run/stored-probe.ts):
 * the memory phase (peak at B = 1, 2, 4, 8 -> fitMemory -> predictMaxBatch) and
 * the throughput phase (fastest step time at a few batch sizes, warm-up steps excluded -> fitStepTime,
 * saturationBatch).
 */
import type { MemoryCeiling } from '../../core/margin.js';
import { THROUGHPUT_WARMUP_EXCLUDED, throughputFits, type ThroughputMeasurement } from '../../core/recommend-plan.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { probeConfig } from '../run/probe.js';
import { type ProbeContext, type ProbeRun, runStoredProbe } from '../run/stored-probe.js';

/** One measure-only probe per planned batch, in order, recorded as `probe:<phase>:b=B`; each read by `read`. */
async function probeEach<T>(
  ctx: ProbeContext,
  phase: 'memory' | 'throughput',
  base: TrainConfig,
  plan: readonly { batchSize: number; steps: number }[],
  read: (run: ProbeRun, batchSize: number) => T,
): Promise<{ points: T[]; samples: number }> {
  const points: T[] = [];
  let samples = 0;
  for (const p of plan) {
    const config = probeConfig(base, p.batchSize, p.steps);
    const run = await runStoredProbe(ctx, `probe:${phase}:b=${p.batchSize}`, config, p.steps);
    points.push(read(run, p.batchSize));
    samples += run.summary.samples;
  }
  return { points, samples };
}

/** Memory phase: a few steps at each batch, peak tensor bytes per run. */
export function measureMemory(
  ctx: ProbeContext,
  base: TrainConfig,
  plan: readonly { batchSize: number; steps: number }[],
): Promise<{ points: MemoryCeiling['points']; samples: number }> {
  return probeEach(ctx, 'memory', base, plan, (r, batchSize) => ({ batchSize, peakBytes: r.summary.peakBytes }));
}

/** Throughput phase: the fastest step time after the warm-up steps, fitted t(B) = alpha + beta B. */
export async function measureThroughput(
  ctx: ProbeContext,
  base: TrainConfig,
  plan: readonly { batchSize: number; steps: number }[],
): Promise<{ result: ThroughputMeasurement; samples: number }> {
  const { points, samples } = await probeEach(ctx, 'throughput', base, plan, (r, batchSize) => {
    // The fastest step after the warm-up: interference from other processes only ever adds time, so the
    // minimum is the least disturbed estimate of a step's cost (as Python's timeit advises).
    const kept = r.steps.slice(Math.min(THROUGHPUT_WARMUP_EXCLUDED, r.steps.length - 1)).map((s) => s.stepMs);
    const stepMs = Math.min(...kept);
    return { batchSize, stepMs, samplesPerSec: (1000 * batchSize) / stepMs, peakBytes: r.summary.peakBytes };
  });
  return { result: throughputFits(points), samples };
}
