/**
 * The verdicts of the playground's effect panels: each claim of the usual advice tested on the runs just
 * trained with batchlab's own trend test (src/core/trend.ts: the slope against log2(B) with a Student-t
 * interval; agrees / contradicts / inconclusive). All runs share one seed, so with two batch sizes the
 * noise is each run's own sampling error, measured as the command line measures it (src/core/intervals.ts,
 * evidence.ts); a claim whose runs lack it stays inconclusive. Pure: no DOM, no TF.js.
 */
import { binomialVariance, type Observation, varianceFromInterval } from '../../../src/core/evidence.js';
import { lossNoiseInterval, medianStepTimeInterval } from '../../../src/core/intervals.js';
import { createRng } from '../../../src/core/random.js';
import { LOSS_NOISE_ALPHA } from '../../../src/core/summarize-run.js';
import type { RunSummary } from '../../../src/core/summary.js';
import { type ClaimId, type TrendResult, testTrend } from '../../../src/core/trend.js';
import type { StepRecord } from '../../../src/core/types.js';

export type EffectId = 'memory' | 'speed' | 'stability' | 'generalization';

export const EFFECTS: readonly EffectId[] = ['memory', 'speed', 'stability', 'generalization'];

/** The claims each panel tests, the first being the panel's headline. */
export const EFFECT_CLAIMS: Readonly<Record<EffectId, readonly ClaimId[]>> = {
  memory: ['memory'],
  speed: ['samples-per-sec', 'step-time'],
  stability: ['loss-noise', 'gradient-noise'],
  generalization: ['held-out-accuracy', 'generalization-gap', 'sharpness'],
};

/** A finished run as the tests need it. */
export interface FinishedRun {
  summary: RunSummary;
  steps: readonly StepRecord[];
  /** Held-out and training samples the final accuracies were measured on. */
  heldOutSamples: number;
  trainEvalSamples: number;
}

/** One run's value of a claim's quantity and its sampling variance (undefined when not measured). */
type Measure = (run: FinishedRun) => { value: number; samplingVariance?: number } | undefined;

/** Bootstrap intervals are seeded from the run, so a page load gives the same verdicts for the same runs. */
const rngOf = (run: FinishedRun, salt: number) => createRng((run.summary.seed ^ (run.summary.batchSize * salt)) >>> 0);

/** The sampling variance of a bootstrap interval, or undefined when the run is too short to give one. */
function intervalVariance(make: () => { low: number; high: number; confidence: number }): number | undefined {
  try {
    const interval = make();
    return Number.isFinite(interval.low) && Number.isFinite(interval.high) ? varianceFromInterval(interval) : undefined;
  } catch {
    return undefined;
  }
}

/** The sampling variance of a run's median step time (block bootstrap over its regular steps), or undefined. */
function medianStepVariance(r: FinishedRun): number | undefined {
  const { stepMs, batchSize, accumSteps } = r.summary;
  const times = r.steps.filter((s) => s.batchSize === batchSize && s.accumSteps === accumSteps).map((s) => s.stepMs);
  return intervalVariance(() =>
    medianStepTimeInterval(times, { warmupSteps: stepMs.warmupExcluded, rng: rngOf(r, 0x51) }),
  );
}

const MEASURES: Readonly<Partial<Record<ClaimId, Measure>>> = {
  // The tensor high-water mark of a step is counted, not sampled: the same step shape gives the same bytes.
  memory: (r) => ({ value: r.summary.peakBytes, samplingVariance: 0 }),
  'samples-per-sec': (r) => {
    const { samplesPerSec, stepMs } = r.summary;
    if (!Number.isFinite(samplesPerSec)) return undefined;
    const v = medianStepVariance(r);
    // samples/s = 1000 B / median: its relative error is the median's, (sps / median)^2 var(median)
    return {
      value: samplesPerSec,
      samplingVariance: v === undefined ? undefined : v * (samplesPerSec / stepMs.median) ** 2,
    };
  },
  'step-time': (r) =>
    Number.isFinite(r.summary.stepMs.median)
      ? { value: r.summary.stepMs.median, samplingVariance: medianStepVariance(r) }
      : undefined,
  'loss-noise': (r) => {
    if (!Number.isFinite(r.summary.lossNoise)) return undefined;
    const losses = r.steps.slice(Math.floor(r.steps.length / 10)).map((s) => s.loss);
    const v = intervalVariance(() => lossNoiseInterval(losses, { alpha: LOSS_NOISE_ALPHA, rng: rngOf(r, 0x10) }));
    return { value: r.summary.lossNoise, samplingVariance: v };
  },
  'gradient-noise': (r) => {
    const { bSimple, ciLow, ciHigh, confidence } = r.summary.noise;
    if (bSimple === undefined || !(bSimple > 0)) return undefined;
    const B = r.summary.batchSize;
    const v =
      ciLow !== undefined && ciHigh !== undefined
        ? varianceFromInterval({ low: ciLow, high: ciHigh, confidence })
        : undefined;
    return { value: bSimple / B, samplingVariance: v === undefined ? undefined : v / (B * B) };
  },
  'held-out-accuracy': (r) => {
    const acc = r.summary.final.test.accuracy;
    return acc === undefined ? undefined : { value: acc, samplingVariance: binomialVariance(acc, r.heldOutSamples) };
  },
  // The top Hessian eigenvalue by power iteration: no sampling error known, so the spread between runs decides
  sharpness: (r) => (r.summary.sharpness ? { value: r.summary.sharpness.topEigenvalue } : undefined),
  'generalization-gap': (r) => {
    const { train, test } = r.summary.final;
    if (train.accuracy === undefined || test.accuracy === undefined) return undefined;
    return {
      value: train.accuracy - test.accuracy,
      samplingVariance:
        binomialVariance(train.accuracy, r.trainEvalSamples) + binomialVariance(test.accuracy, r.heldOutSamples),
    };
  },
};

/** The observations of `claim` over the runs, or undefined when a run lacks the value or fewer than two have it. */
export function claimObservations(claim: ClaimId, runs: readonly FinishedRun[]): Observation[] | undefined {
  const measure = MEASURES[claim];
  if (!measure) return undefined;
  const out: Observation[] = [];
  for (const run of runs) {
    const m = measure(run);
    if (m === undefined) continue;
    out.push({ batchSize: run.summary.batchSize, seed: run.summary.seed, ...m });
  }
  return new Set(out.map((o) => o.batchSize)).size >= 2 ? out : undefined;
}

/** The trend test of every claim of `effect` (undefined for a claim the runs cannot test). */
export function testEffect(effect: EffectId, runs: readonly FinishedRun[]): { claim: ClaimId; result?: TrendResult }[] {
  return EFFECT_CLAIMS[effect].map((claim) => {
    const observations = claimObservations(claim, runs);
    const heldOutSamples = claim === 'held-out-accuracy' ? runs[0]?.heldOutSamples : undefined;
    return { claim, result: observations && testTrend({ claim, observations, heldOutSamples }) };
  });
}
