/** Shared helpers for the store tests: temp database paths and record factories. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvalRecord, StepRecord } from '../../src/core/types.js';

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
