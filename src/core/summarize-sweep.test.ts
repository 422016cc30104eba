import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from './random.js';
import { summarizeSweep } from './summarize-sweep.js';
import type { Finding, RunSummary } from './summary.js';

/** A run summary with the fields the findings read; the rest filled with plausible values. */
function run(
  b: number,
  over: {
    seed?: number;
    peakBytes?: number;
    stepMs?: number;
    lossNoise?: number;
    trainAcc?: number;
    testAcc?: number;
    heldOut?: number;
    sharpness?: number;
    steps?: number;
    target?: { reached: boolean; metric?: 'accuracy' | 'train-loss' };
  },
): RunSummary {
  const stepMs = over.stepMs ?? 1 + b / 100;
  const test = over.testAcc ?? 0.95;
  const train = over.trainAcc ?? test + 0.01;
  return {
    batchSize: b,
    microBatchSize: b,
    accumSteps: 1,
    seed: over.seed ?? 1,
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
    final: {
      train: { loss: 0.1, accuracy: train, count: 10_000 },
      test: { loss: 0.2, accuracy: test, ...(over.heldOut ? { count: over.heldOut } : {}) },
    },
    gap: { accuracy: train - test, loss: 0.1 },
    distanceFromInit: 1,
    ...(over.sharpness === undefined
      ? {}
      : { sharpness: { topEigenvalue: over.sharpness, batchSamples: 1024, iterations: 20 } }),
    target: over.target
      ? {
          metric: over.target.metric ?? 'accuracy',
          value: 0.9,
          reached: over.target.reached,
          ...(over.target.reached ? { steps: over.steps, samples: (over.steps ?? 0) * b, wallMs: 5 } : {}),
        }
      : undefined,
  };
}

const BATCHES = [16, 32, 64, 128, 256, 512, 1024];

const byClaim = (findings: readonly Finding[], claim: Finding['claim']): Finding => {
  const f = findings.find((x) => x.claim === claim);
  assert.ok(f, `a finding for ${claim}`);
  return f;
};

test('a sweep that follows the usual advice, 3 seeds: verdicts agree, with intervals, statistic and what they rest on', () => {
  const rng = createRng(7);
  const runs = [1, 2, 3].flatMap((seed) =>
    BATCHES.map((b) =>
      run(b, {
        seed,
        stepMs: (0.5 + b / 200) * (1 + 0.02 * rng.normal()),
        lossNoise: (0.3 / Math.sqrt(b)) * (1 + 0.05 * rng.normal()),
        testAcc: 0.97 - 0.004 * Math.log2(b) + 0.001 * rng.normal(),
        heldOut: 10_000,
      }),
    ),
  );
  const s = summarizeSweep(runs, 1000, { budget: { kind: 'samples', value: 60_000 }, trainCount: 60_000 });
  assert.ok(Math.abs(s.memoryFit!.bytesPerSample - 1e4) < 1e-6 && s.memoryFit!.r2 > 0.999999);
  for (const claim of ['memory', 'step-time', 'loss-noise', 'held-out-accuracy'] as const) {
    const f = byClaim(s.findings, claim);
    assert.equal(f.verdict, 'agrees', `${claim}: ${f.text}`);
    assert.ok(f.statistic && Number.isFinite(f.statistic.value) && f.statistic.df === 21 - 3 - 1, claim);
    assert.ok(f.interval && f.interval.low <= f.interval.estimate && f.interval.estimate <= f.interval.high, claim);
    assert.equal(f.restsOn?.seeds, 3);
    assert.equal(f.restsOn?.runs, 21);
    assert.match(f.text, /Rests on 3 seeds x 7 batch sizes \(B = 16\.\.1024\), 21 runs/);
    assert.match(f.text, /budget: the same 60,000 samples per run \(one epoch\)/);
  }
  const acc = byClaim(s.findings, 'held-out-accuracy');
  assert.equal(acc.comparison, 'equal-samples');
  assert.match(acc.text, /at equal samples, the held-out accuracy fell 0\.\d\d points per doubling of B/);
  assert.match(acc.text, /10,000 held-out samples per run/);
  assert.match(acc.text, /mixes under-training with generalization/);
  assert.match(
    byClaim(s.findings, 'memory').text,
    /A larger batch needs more memory\? The data agree: the peak memory grew x/,
  );
  // Per batch size: the mean over the 3 seeds with a Student-t interval.
  const b64 = s.perBatch!.find((b) => b.batchSize === 64)!;
  assert.equal(b64.runs, 3);
  assert.equal(b64.testAccuracy!.method, 'student-t');
  assert.ok(
    b64.testAccuracy!.low! < b64.testAccuracy!.estimate && b64.testAccuracy!.estimate < b64.testAccuracy!.high!,
  );
  assert.equal(s.comparison, 'equal-samples');
});

test('sharpness with no trend (the values of issue 13) is inconclusive, never "sharper"', () => {
  const sharpness = [0.81, 2.58, 0.28, 0.3, 0.41, 1.91, 1.5];
  const s = summarizeSweep(
    BATCHES.map((b, i) => run(b, { sharpness: sharpness[i] })),
    1,
  );
  const f = byClaim(s.findings, 'sharpness');
  assert.equal(f.verdict, 'inconclusive', f.text);
  assert.match(f.text, /^Large batches end in sharper minima\? Inconclusive: the sharpness .* changed [+-]/);
  assert.match(f.text, /would settle it|too small to chase/);
  assert.ok(f.interval!.low < 0 && f.interval!.high > 0, 'the interval of the trend contains 0');
});

test('a falling step time is never described as taking longer', () => {
  // 0.82 -> 0.67 ms/step as B grows (issue 13), with a little noise, one seed.
  const stepMs = [0.82, 0.8, 0.79, 0.75, 0.72, 0.7, 0.67];
  const s = summarizeSweep(
    BATCHES.map((b, i) => run(b, { stepMs: stepMs[i] })),
    1,
  );
  const f = byClaim(s.findings, 'step-time');
  assert.equal(f.verdict, 'contradicts', f.text);
  assert.match(f.text, /\? The data contradict it: the time per step fell x0\.\d+ per doubling of B/);
  assert.doesNotMatch(f.text, /each step takes longer|time per step grew/);
});

test('best and worst are never the same batch; equal accuracies name no best batch (iris: 30 held-out samples)', () => {
  const s = summarizeSweep(
    [8, 16, 32, 64].map((b) => run(b, { testAcc: 28 / 30, trainAcc: 0.975 - b / 10_000, heldOut: 30 })),
    1,
  );
  const f = byClaim(s.findings, 'held-out-accuracy');
  assert.equal(f.best?.outcome, 'inconclusive');
  assert.equal(f.best?.worse.length, 0);
  assert.deepEqual(f.best?.best, [8, 16, 32, 64]);
  for (const b of f.best!.best) assert.ok(!f.best!.worse.includes(b));
  assert.match(f.text, /No batch size is worse than the best beyond the noise/);
  assert.doesNotMatch(f.text, /worst at/);
});

test('an iris gap that moves by a fraction of one held-out sample is inconclusive, not a contradiction', () => {
  // Gap 5 -> 4.2 points on 30 held-out samples (one sample = 3.3 points).
  const gaps = [0.05, 0.048, 0.045, 0.042];
  const s = summarizeSweep(
    [8, 16, 32, 64].map((b, i) => run(b, { testAcc: 0.9, trainAcc: 0.9 + (gaps[i] as number), heldOut: 30 })),
    1,
  );
  const f = byClaim(s.findings, 'generalization-gap');
  assert.equal(f.verdict, 'inconclusive', f.text);
  assert.equal(f.restsOn?.noise, 'sampling error of each run');
  assert.match(f.text, /30 held-out samples per run/);
});

test('throughput still rising at the largest batch is never said to stop improving there', () => {
  const rising = summarizeSweep(
    [1, 2, 3].flatMap((seed) => BATCHES.map((b) => run(b, { seed, stepMs: (1 + b / 10_000) * (1 + 0.01 * seed) }))),
    1,
  );
  const f = byClaim(rising.findings, 'samples-per-sec');
  assert.equal(f.saturation?.outcome, 'still-rising', f.text);
  assert.equal(rising.saturationBatch, undefined);
  assert.match(
    f.text,
    /still rising at the largest batch swept \(B=1024\): where it levels off lies beyond this sweep/,
  );
  assert.doesNotMatch(f.text, /stops (gaining|improving)/);
  // Saturated from B=128 on: step time grows in proportion to B there.
  const flat = summarizeSweep(
    [1, 2, 3].flatMap((seed) =>
      BATCHES.map((b) => run(b, { seed, stepMs: (b <= 128 ? 1 : b / 128) * (1 + 0.001 * seed) })),
    ),
    1,
  );
  const g = byClaim(flat.findings, 'samples-per-sec');
  assert.equal(g.saturation?.outcome, 'saturated', g.text);
  assert.ok(flat.saturationBatch! >= 128 && flat.saturationBatch! < 1024, `saturated from ${flat.saturationBatch}`);
  assert.match(g.text, /It stops gaining 10% per doubling from B=\d+ on, up to the largest batch swept \(B=1024\)/);
});

test('a train-loss target: runs that never reached it are listed and left out of the equal-loss comparisons', () => {
  const runs = [1, 2].flatMap((seed) =>
    [16, 64, 256, 1024].map((b) =>
      run(b, {
        seed,
        steps: 10 + 2000 / b,
        testAcc: 0.95 - 0.01 * seed,
        sharpness: 1 + 0.1 * seed,
        heldOut: 2000,
        target: { metric: 'train-loss', reached: b < 1024 },
      }),
    ),
  );
  const s = summarizeSweep(runs, 1, {
    budget: { kind: 'target', target: { metric: 'train-loss', value: 0.3 }, maxEpochs: 10 },
  });
  assert.equal(s.comparison, 'equal-train-loss');
  const missed = s.findings.find((f) => f.claim === 'target')!;
  assert.equal(missed.verdict, null);
  assert.match(
    missed.text,
    /6 of 8 runs reached the target .*training loss <= 0\.3.*never reached: B=1024 \(seeds 1, 2\)/,
  );
  for (const claim of ['held-out-accuracy', 'generalization-gap', 'sharpness'] as const) {
    const f = byClaim(s.findings, claim);
    assert.equal(f.comparison, 'equal-train-loss');
    assert.equal(f.restsOn?.runs, 6, `${claim} rests on the runs that reached the target only`);
    assert.match(f.text, /at equal training loss, the /);
  }
  assert.ok(s.findings.some((f) => f.claim === 'critical-batch'));
});

test('one batch size says so; a claim measured at one batch size only is not tested', () => {
  const one = summarizeSweep([run(64, {})], 1);
  assert.equal(one.findings.length, 1);
  assert.equal(one.findings[0]!.verdict, null);
  const s = summarizeSweep(
    [16, 64].map((b) => run(b, { lossNoise: b === 64 ? Number.NaN : 0.1 })),
    1,
  );
  const f = byClaim(s.findings, 'loss-noise');
  assert.equal(f.verdict, 'inconclusive');
  assert.match(f.text, /Not tested: the loss noise .* was measured at fewer than two batch sizes of one seed/);
});
