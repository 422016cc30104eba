/** Shared helpers for the store tests: temp database paths and record factories. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvalRecord, StepRecord } from '../../src/core/types.js';
import type { RunSummary, SweepSummary } from '../../src/core/summary.js';

/** A fresh temp directory; call the returned `cleanup` in `after`. */
export function tempDir(): { dir: string; db: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-store-'));
  let n = 0;
  return {
    dir,
    db: (name?: string) => join(dir, name ?? `t${++n}.db`),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A plausible step record; `over` replaces fields. */
export function makeStep(step: number, over: Partial<StepRecord> = {}): StepRecord {
  return {
    step,
    samples: step * 64,
    loss: 2.3 / step,
    lr: 0.1,
    stepMs: 12.5 + step / 100,
    batchSize: 64,
    microBatchSize: 32,
    accumSteps: 2,
    gradSqNorm: 1 / step,
    microGradSqNorm: 2 / step,
    peakBytes: 1_000_000 + step,
    ...over,
  };
}

export function makeSteps(from: number, count: number): StepRecord[] {
  return Array.from({ length: count }, (_, i) => makeStep(from + i));
}

export function makeEval(step: number, split: 'train' | 'test', accuracy?: number): EvalRecord {
  const e: EvalRecord = { step, samples: step * 64, split, loss: 0.5 };
  if (accuracy !== undefined) e.accuracy = accuracy;
  return e;
}

/** A run summary of the stored shape (core/summary.ts RunSummary); `over` replaces top-level fields. */
export function makeRunSummary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    batchSize: 64,
    microBatchSize: 32,
    accumSteps: 2,
    seed: 1,
    lr: 0.05,
    backend: 'cpu',
    steps: 4,
    samples: 256,
    wallMs: 120,
    trainMs: 100,
    stepMs: { median: 25, p90: 30, warmupExcluded: 1 },
    samplesPerSec: 2560,
    peakBytes: 1_000_000,
    lossNoise: 0.1,
    noise: {
      confidence: 0.9,
      fromStep: 1,
      toStep: 4,
      measuredSteps: 0,
      status: 'too few steps',
      series: [],
    },
    final: { train: { loss: 0.5, accuracy: 0.8 }, test: { loss: 0.6, accuracy: 0.75 } },
    gap: { accuracy: 0.05, loss: 0.1 },
    distanceFromInit: 3,
    ...over,
  };
}

/** A sweep summary of the stored shape (core/summary.ts SweepSummary). */
export function makeSweepSummary(over: Partial<SweepSummary> = {}): SweepSummary {
  return {
    memoryFit: { interceptBytes: 1e6, bytesPerSample: 1e4, r2: 0.99 },
    findings: [{ effect: 'memory', claim: 'memory', text: 'memory grows with B', verdict: 'agrees' }],
    wallMs: 1000,
    ...over,
  };
}
