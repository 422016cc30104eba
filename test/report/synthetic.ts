/**
 * A synthetic but realistic sweep written through the Store API, for the report/dashboard tests and
 * bench/report.ts. Curves follow the shapes the usual advice describes: per-step loss noise ~ 1/sqrt(B), step
 * time alpha + beta*B, memory a + b*B, steps-to-target S_min(1 + B_crit/B), a gap that grows with B.
 * Deterministic (seeded LCG), no TF.js.
 */
import type { EvalRecord, StepRecord } from '../../src/core/types.js';
import { batchStats } from '../../src/core/batch-stats.js';
import { accuracyInterval } from '../../src/core/intervals.js';
import type { RunSummary, SweepSummary } from '../../src/core/summary.js';
import type { Run, Store } from '../../src/store/index.js';

/** The charts a page draws for a synthetic sweep (it has every measurement), in page order. */
export const SYNTHETIC_SWEEP_CHARTS = [
  'loss-steps',
  'loss-samples',
  'loss-wall',
  'eval',
  'throughput',
  'step-time',
  'memory',
  'steps-to-target',
  'examples-to-target',
  'b-simple',
  'loss-noise',
  'accuracy',
  'gap',
  'sharpness',
] as const;

export interface SyntheticSweepOptions {
  batchSizes?: number[];
  seeds?: number[];
  stepsPerRun?: number;
  evalEvery?: number;
  /** Add a failed (oom) run at this batch size. */
  oomBatchSize?: number | null;
  /** Leave the last run 'running' with this many of its steps written (the rest can be appended). */
  runningSteps?: number | null;
  /** Write find-max probes and a memory budget. */
  probes?: boolean;
}

export interface SyntheticSweep {
  experimentId: number;
  runs: Run[];
  /** The run left 'running' (when runningSteps is set). */
  runningRun?: Run;
}

const ALPHA_MS = 4;
const BETA_MS_PER_SAMPLE = 0.02;
const MEM_INTERCEPT_BYTES = 20e6;
const MEM_BYTES_PER_SAMPLE = 150e3;
/** S_min as a fraction of the run length, so that every B down to 16 reaches the target. */
const S_MIN_FRACTION = 1 / 20;
const B_CRIT = 256;
/** Held-out samples of every run. */
const HELD_OUT = 2000;

/** A 95% interval of relative half-width `rel` around `x`. */
function band(x: number, rel: number) {
  return { estimate: x, low: x * (1 - rel), high: x * (1 + rel), confidence: 0.95 };
}

/** Park-Miller LCG in [0, 1). */
export function lcg(seed: number): () => number {
  let s = (seed % 2147483646) + 1;
  return () => {
    s = (s * 48271) % 2147483647;
    return (s - 1) / 2147483646;
  };
}

/** Loss after `samples` at batch `b` (progress per step saturates past B_CRIT) with noise ~ 1/sqrt(B). */
function lossAt(step: number, b: number, sMin: number, rnd: () => number): number {
  const progress = step / (sMin * (1 + B_CRIT / b));
  const clean = 0.05 + 2.25 * Math.exp(-2.5 * progress);
  return Math.max(0.01, clean * (1 + ((rnd() - 0.5) * 1.6) / Math.sqrt(b)));
}

export function syntheticSteps(b: number, from: number, count: number, rnd: () => number, sMin = 50): StepRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const step = from + i;
    return {
      step,
      samples: step * b,
      loss: lossAt(step, b, sMin, rnd),
      lr: 0.05 * Math.sqrt(b / 64),
      stepMs: (ALPHA_MS + BETA_MS_PER_SAMPLE * b) * (0.9 + 0.2 * rnd()),
      batchSize: b,
      microBatchSize: b,
      accumSteps: 1,
      gradSqNorm: 1 / step + 0.5 / b,
      microGradSqNorm: 1 / step + 1 / b,
      peakBytes: MEM_INTERCEPT_BYTES + MEM_BYTES_PER_SAMPLE * b,
    };
  });
}

function syntheticEvals(b: number, steps: number, every: number, sMin: number): EvalRecord[] {
  const out: EvalRecord[] = [];
  for (let step = every; step <= steps; step += every) {
    const progress = step / (sMin * (1 + B_CRIT / b));
    const acc = 0.98 - 0.01 * Math.log2(b / 16) - 0.85 * Math.exp(-2.5 * progress);
    out.push({ step, samples: step * b, split: 'test', loss: 2.3 * (1 - acc) + 0.05, accuracy: acc });
    out.push({
      step,
      samples: step * b,
      split: 'train',
      loss: 2.2 * (1 - acc) + 0.03,
      accuracy: Math.min(1, acc + 0.004 * Math.log2(b)),
    });
  }
  return out;
}

function runSummary(b: number, seed: number, steps: number, sMin: number): RunSummary {
  const stepMs = ALPHA_MS + BETA_MS_PER_SAMPLE * b;
  const sTarget = Math.round(sMin * (1 + B_CRIT / b));
  const testAcc = 0.98 - 0.01 * Math.log2(b / 16);
  const trainAcc = Math.min(1, testAcc + 0.004 * Math.log2(b));
  const reached = sTarget <= steps;
  return {
    batchSize: b,
    microBatchSize: b,
    accumSteps: 1,
    seed,
    lr: 0.05 * Math.sqrt(b / 64),
    backend: 'batchlab-native',
    steps,
    samples: steps * b,
    wallMs: steps * stepMs * 1.1,
    trainMs: steps * stepMs,
    stepMs: { median: stepMs, p90: stepMs * 1.1, warmupExcluded: 5 },
    samplesPerSec: (b * 1000) / stepMs,
    peakBytes: MEM_INTERCEPT_BYTES + MEM_BYTES_PER_SAMPLE * b,
    vmHwmBytes: 2 * (MEM_INTERCEPT_BYTES + MEM_BYTES_PER_SAMPLE * b),
    lossNoise: 0.3 / Math.sqrt(b),
    noise: {
      bSimple: 240 + seed * 5,
      ciLow: 180,
      ciHigh: 320,
      confidence: 0.9,
      fromStep: 10,
      toStep: steps,
      measuredSteps: steps - 10,
      status: 'ok',
      series: Array.from({ length: 40 }, (_, i) => {
        const step = Math.max(1, Math.round(((i + 1) / 40) * steps));
        return [step, (60 + 200 * (1 - Math.exp(-step / (steps / 3)))) * (1 + 0.05 * Math.log2(b / 16))] as [
          number,
          number,
        ];
      }),
    },
    final: {
      train: { loss: 0.04, accuracy: trainAcc, count: 10_000 },
      test: { loss: 0.07 + 0.005 * Math.log2(b), accuracy: testAcc, count: HELD_OUT },
    },
    intervals: {
      testAccuracy: accuracyInterval(testAcc, HELD_OUT),
      stepMs: { ...band(stepMs, 0.03), method: 'circular-block-bootstrap', n: steps - 5, blockLength: 8 },
      lossNoise: { ...band(0.3 / Math.sqrt(b), 0.1), method: 'circular-block-bootstrap', n: steps, blockLength: 4 },
    },
    gap: { accuracy: trainAcc - testAcc, loss: 0.03 + 0.005 * Math.log2(b) },
    distanceFromInit: 12 / Math.sqrt(Math.log2(b)),
    sharpness: { topEigenvalue: 5 + 3 * Math.log2(b), batchSamples: 1024, iterations: 20 },
    target: reached
      ? {
          metric: 'accuracy',
          value: 0.9,
          reached: true,
          steps: sTarget,
          samples: sTarget * b,
          wallMs: sTarget * stepMs,
        }
      : { metric: 'accuracy', value: 0.9, reached: false },
  };
}

function sweepSummary(sMin: number): SweepSummary & { recommendation: object } {
  return {
    memoryFit: { interceptBytes: MEM_INTERCEPT_BYTES, bytesPerSample: MEM_BYTES_PER_SAMPLE, r2: 0.999 },
    stepTimeFit: { alphaMs: ALPHA_MS, betaMsPerSample: BETA_MS_PER_SAMPLE, r2: 0.98 },
    saturationBatch: 128,
    tradeoff: { sMin, eMin: sMin * B_CRIT, bCrit: B_CRIT, r2: 0.97 },
    findings: [
      {
        effect: 'memory',
        claim: 'memory',
        text: 'Peak memory grows linearly: 20 MB + 150 kB per sample.',
        verdict: 'agrees',
      },
      {
        effect: 'speed',
        claim: 'samples-per-sec',
        text: 'Samples/s rises until B = 128, then flattens.',
        verdict: 'agrees',
        saturation: { outcome: 'saturated', saturatedFrom: 128, largestBatch: 256 },
      },
      { effect: 'stability', claim: 'loss-noise', text: 'Loss noise falls as 1/sqrt(B).', verdict: 'inconclusive' },
      {
        effect: 'generalization',
        claim: 'generalization-gap',
        text: 'The gap grows by 0.4 points per doubling of B, <not> a large effect.',
        verdict: 'contradicts',
      },
    ],
    budget: 'the same 60,000 samples per run (one epoch)',
    comparison: 'equal-samples',
    wallMs: 123_456,
    recommendation: {
      batchSize: 256,
      lr: 0.1,
      accumulation: '256 x 1',
      objective: 'time to target',
      reasons: [
        'B_crit is about 256: larger batches need proportionally more samples',
        'fits in memory with 60% to spare',
      ],
    },
  };
}

/** Writes a sweep experiment with one run per (batch size, seed), plus an oom run and probes if asked. */
export function writeSyntheticSweep(store: Store, opts: SyntheticSweepOptions = {}): SyntheticSweep {
  const batchSizes = opts.batchSizes ?? [16, 32, 64, 128, 256];
  const seeds = opts.seeds ?? [1];
  const steps = opts.stepsPerRun ?? 300;
  const evalEvery = opts.evalEvery ?? Math.max(1, Math.round(steps / 10));
  const sMin = steps * S_MIN_FRACTION;
  const settings: Record<string, unknown> = {
    dataset: 'mnist',
    model: { name: 'mlp', hidden: [256] },
    optimizer: 'momentum',
    lrRule: 'sqrt',
    baseLr: 0.05,
    batchSizes,
    seeds,
    stepsPerRun: steps,
    target: 'acc:0.9',
  };
  if (opts.probes) settings.memoryBudgetBytes = 120e6;
  const exp = store.createExperiment({
    kind: 'sweep',
    settings,
    env: {
      backend: 'batchlab-native',
      node: process.version,
      batchlab: '0.1.0',
      cpu: 'Synthetic CPU @ 3 GHz',
      cores: 8,
      memoryBytes: 16e9,
    },
  });
  const plans = batchSizes.flatMap((b) => seeds.map((seed) => ({ b, seed })));
  const runs: Run[] = [];
  let runningRun: Run | undefined;
  plans.forEach(({ b, seed }, i) => {
    const run = store.upsertRun({
      experimentId: exp.id,
      key: `b=${b},seed=${seed}`,
      batchSize: b,
      seed,
      lr: 0.05 * Math.sqrt(b / 64),
    });
    store.startRun(run.id);
    const rnd = lcg(b * 1000 + seed);
    const isRunning = opts.runningSteps != null && i === plans.length - 1;
    const written = isRunning ? opts.runningSteps! : steps;
    store.transaction(() => {
      for (let from = 1; from <= written; from += 5000)
        store.appendSteps(run.id, syntheticSteps(b, from, Math.min(5000, written - from + 1), rnd, sMin));
    });
    store.appendEvals(run.id, syntheticEvals(b, written, evalEvery, sMin));
    if (isRunning) runningRun = store.getRun(run.id);
    else runs.push(store.finishRun(run.id, { status: 'done', summary: runSummary(b, seed, steps, sMin) }));
  });
  if (opts.oomBatchSize != null) {
    const b = opts.oomBatchSize;
    const run = store.upsertRun({
      experimentId: exp.id,
      key: `b=${b},seed=${seeds[0]}`,
      batchSize: b,
      seed: seeds[0]!,
      lr: 0.4,
    });
    store.startRun(run.id);
    store.appendSteps(run.id, syntheticSteps(b, 1, 3, lcg(7)));
    runs.push(
      store.finishRun(run.id, { status: 'oom', reason: `out of memory at B=${b}: needed 180 MB, budget 120 MB` }),
    );
  }
  if (opts.probes) {
    for (const [b, ok] of [
      [256, true],
      [512, true],
      [1024, false],
      [768, false],
      [640, true],
    ] as const) {
      store.addProbe({
        experimentId: exp.id,
        batchSize: b,
        ok,
        kind: ok ? 'ok' : 'over-budget',
        peakBytes: MEM_INTERCEPT_BYTES + MEM_BYTES_PER_SAMPLE * b,
        phase: 'search',
      });
    }
  }
  if (runningRun === undefined) {
    const done = runs.filter((r) => r.status === 'done').map((r) => r.summary as unknown as RunSummary);
    store.setExperimentSummary(exp.id, { ...sweepSummary(sMin), perBatch: batchStats(done) });
    store.setExperimentStatus(exp.id, 'done');
  }
  return { experimentId: exp.id, runs, runningRun };
}
