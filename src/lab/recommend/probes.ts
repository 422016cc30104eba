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
import { type ProbeContext, runStoredProbe } from '../run/stored-probe.js';

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
