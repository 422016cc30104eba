import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchPoints, summarizeSweep } from './summarize-sweep.js';
import type { RunSummary } from './summary.js';

/** A run summary with the fields the findings read; the rest filled with plausible values. */
function run(
  b: number,
  over: {
    peakBytes?: number;
    stepMs?: number;
    lossNoise?: number;
    trainAcc?: number;
    testAcc?: number;
    steps?: number;
    target?: boolean;
  },
): RunSummary {
  const stepMs = over.stepMs ?? 1 + b / 100;
  const test = over.testAcc ?? 0.95;
  return {
    batchSize: b,
    microBatchSize: b,
    accumSteps: 1,
    seed: 1,
    lr: 0.1,
    backend: 'cpu',
    steps: over.steps ?? 100,
    samples: 1000,
    wallMs: 10,
    trainMs: 10,
    stepMs: { median: stepMs, p90: stepMs, warmupExcluded: 5 },
    samplesPerSec: (b * 1000) / stepMs,
    peakBytes: over.peakBytes ?? 1e6 + 1e4 * b,
    lossNoise: over.lossNoise ?? 0.1,
    noise: { confidence: 0.95, fromStep: 0, toStep: 0, measuredSteps: 0, status: 'no-two-batch-sizes', series: [] },
    final: { train: { loss: 0.1, accuracy: over.trainAcc ?? test + 0.01 }, test: { loss: 0.2, accuracy: test } },
    gap: { accuracy: (over.trainAcc ?? test + 0.01) - test, loss: 0.1 },
    distanceFromInit: 1,
    target: over.target
      ? { metric: 'accuracy', value: 0.9, reached: true, steps: over.steps, samples: (over.steps ?? 0) * b, wallMs: 5 }
      : undefined,
  };
}

test('fits and findings agree with a hand-made sweep that follows the seed', () => {
  const runs = [16, 64, 256].map((b) =>
    run(b, { lossNoise: 0.3 / Math.sqrt(b), trainAcc: 0.97 + b / 10000, testAcc: 0.97 - b / 10000 }),
  );
  const s = summarizeSweep(runs, 1000);
  assert.ok(
    Math.abs(s.memoryFit!.bytesPerSample - 1e4) < 1e-6 &&
      Math.abs(s.memoryFit!.interceptBytes - 1e6) < 1e-3 &&
      s.memoryFit!.r2 > 0.999999,
  );
  assert.ok(Math.abs(s.stepTimeFit!.alphaMs - 1) < 1e-9 && Math.abs(s.stepTimeFit!.betaMsPerSample - 0.01) < 1e-12);
  const byEffect = (e: string) => s.findings.filter((f) => f.effect === e);
  assert.match(byEffect('memory')[0]!.text, /memory grew 3\.\d+x from B=16 to B=256/);
  assert.equal(byEffect('stability')[0]!.agreesWithSeed, true);
  assert.match(byEffect('stability')[0]!.text, /fell 4x/);
  assert.equal(byEffect('generalization')[0]!.agreesWithSeed, true, 'the gap grew with B');
});

test('data that contradicts the seed is said plainly; unmeasurable loss noise is not turned into a claim', () => {
  const runs = [16, 64, 256].map((b) =>
    run(b, { lossNoise: b === 256 ? NaN : 0.05 * b, trainAcc: 0.99 - b / 1000, testAcc: 0.95 }),
  );
  const s = summarizeSweep(runs, 1000);
  const stability = s.findings.find((f) => f.effect === 'stability')!;
  assert.equal(stability.agreesWithSeed, false);
  assert.match(stability.text, /rose 4x from B=16 to B=64/, 'the run without a loss-noise value is left out');
  const gap = s.findings.find((f) => f.text.includes('generalization gap'))!;
  assert.equal(gap.agreesWithSeed, false);
  const none = summarizeSweep(
    [16, 64].map((b) => run(b, { lossNoise: NaN })),
    1,
  );
  assert.equal(none.findings.find((f) => f.effect === 'stability')!.agreesWithSeed, null);
});

test('with a target: steps-to-target give the trade-off fit and B_crit; final accuracies are not compared', () => {
  // S(B) = S_min + E_min / B with S_min = 10, E_min = 2000: B_crit = 200.
  const runs = [16, 32, 64, 128, 256, 512].map((b) => run(b, { target: true, steps: 10 + 2000 / b }));
  const s = summarizeSweep(runs, 1);
  assert.ok(Math.abs(s.tradeoff!.bCrit! - 200) < 1e-6, `B_crit ${s.tradeoff!.bCrit}`);
  assert.ok(!s.findings.some((f) => f.text.includes('held-out accuracy was best')));
  assert.ok(s.findings.some((f) => /B_crit ~ 200/.test(f.text)));
  assert.equal(batchPoints(runs)[0]!.stepsToTarget, 10 + 2000 / 16);
});
