import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type BranchPoint,
  type CheckpointMeasurement,
  compareProxy,
  summarizeBranches,
  type BranchSummaryInput,
} from './branch-summary.js';
import type { NoiseStepRecord } from './noise.js';
import { createRng } from './random.js';

/**
 * Noise steps of a window whose true B_simple is `bSimple`: |G|^2 = 1, tr(Sigma) = bSimple, each step
 * measured at b = 16 and B = 32 with a little noise, so the estimator recovers bSimple within a few percent.
 */
function noiseSteps(bSimple: number, seed: number, count = 200): NoiseStepRecord[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, (_, i) => {
    const g = 1 + 0.05 * rng.normal();
    return {
      step: i + 1,
      batchSize: 32,
      microBatchSize: 16,
      accumSteps: 2,
      gradSqNorm: g + bSimple / 32,
      microGradSqNorm: g + bSimple / 16,
    };
  });
}

/** Losses: the base batch 32 at `baseLoss`, branches (64, 128, 256) at baseLoss x (1 + excess). */
function checkpoint(
  samples: number,
  excess: Record<number, number | 'diverged'>,
  bSimple: number,
): CheckpointMeasurement {
  const runs = [32, 64, 128, 256].flatMap((b) =>
    [1, 2, 3].map((seed) => {
      const e = b === 32 ? 0 : excess[b]!;
      const jitter = 1 + 0.001 * seed; // shared by seed: paired differences cancel it
      return { batchSize: b, seed, loss: e === 'diverged' ? undefined : 0.5 * jitter * (1 + e + 0.0005 * (seed - 2)) };
    }),
  );
  return { samples, baseLoss: 1 - samples / 1e6, runs, noiseSteps: noiseSteps(bSimple, samples) };
}

function input(checkpoints: CheckpointMeasurement[]): BranchSummaryInput {
  return {
    baseBatch: 32,
    baseLr: 0.1,
    lrRule: 'linear',
    maxMicroBatch: 64,
    maxBatch: 60_000,
    checkpoints,
    compute: {
      trainedSamples: 300_000,
      trainMs: 60_000,
      fullRunSamples: 60_000,
      baseSamples: 30_000,
      baseTrainMs: 5_000,
    },
    seed: 1,
  };
}

test('the curve rises, B_simple over the same windows agrees, and the schedule doubles as it rises', () => {
  const s = summarizeBranches(
    input([
      checkpoint(2_000, { 64: 0.05, 128: 0.2, 256: 0.5 }, 45),
      checkpoint(8_000, { 64: 0.001, 128: 0.05, 256: 0.2 }, 90),
      checkpoint(30_000, { 64: 0.0, 128: 0.002, 256: 0.03 }, 180),
    ]),
  );
  assert.deepEqual(
    s.points.map((p) => [p.critical.status, p.critical.low, p.critical.high]),
    [
      ['measured', 32, 64],
      ['measured', 64, 128],
      ['measured', 128, 256],
    ],
  );
  for (const p of s.points) assert.ok(p.noise.bSimple! > 0 && p.noise.low! < p.noise.bSimple!, JSON.stringify(p.noise));
  assert.equal(s.proxy.verdict, 'agrees', s.proxy.text);
  assert.equal(s.proxy.compared, 3);
  assert.ok(Math.abs(s.proxy.factor!.estimate - 1) < 0.1, `factor ${s.proxy.factor!.estimate}`);
  assert.equal(s.schedule.text, '32@0,64@8000,128@30000');
  assert.deepEqual(
    s.schedule.changes.map((c) => [c.batch, c.lr]),
    [
      [32, 0.1],
      [64, 0.2],
      [128, 0.4],
    ],
  );
  assert.match(s.schedule.changes[2]!.reason, /128 = 64 x 2/);
  assert.equal(s.compute.ratio, 5);
  assert.equal(s.compute.fullRunTrainMs, 10_000);
  assert.match(s.compute.text, /300,000 samples, 5x one full base run of 60,000 samples \(training time 6x/);
  assert.equal(s.findings.length, 3 + 3);
});

test('B_simple 4x the direct measurement: differs by a factor near 4, and says which way', () => {
  const s = summarizeBranches(
    input([
      checkpoint(2_000, { 64: 0.05, 128: 0.2, 256: 0.5 }, 180),
      checkpoint(8_000, { 64: 0.001, 128: 0.05, 256: 0.2 }, 360),
      checkpoint(30_000, { 64: 0.0, 128: 0.002, 256: 0.03 }, 720),
    ]),
  );
  assert.equal(s.proxy.verdict, 'differs');
  assert.ok(s.proxy.factor!.estimate > 3.5 && s.proxy.factor!.estimate < 4.5, `${s.proxy.factor!.estimate}`);
  assert.ok(s.proxy.factor!.low > 2);
  assert.match(
    s.proxy.text,
    /differs from the direct measurement by a factor 4(\.\d+)? .*misses the branch range at 3 of 3.*larger/,
  );
});

test('a diverged branch counts as beyond: the last branch within tolerance below it is the critical batch', () => {
  const s = summarizeBranches(input([checkpoint(4_000, { 64: 0.0, 128: 'diverged', 256: 'diverged' }, 60)]));
  const c = s.points[0]!.critical;
  assert.deepEqual([c.status, c.criticalBatch, c.low, c.high], ['measured', 64, 64, 128]);
  assert.match(c.text, /critical batch 64 .*B = 128 diverged/);
  const all = summarizeBranches(input([checkpoint(4_000, { 64: 'diverged', 128: 'diverged', 256: 0.0 }, 60)]));
  assert.deepEqual(
    [all.points[0]!.critical.status, all.points[0]!.critical.low, all.points[0]!.critical.high],
    ['measured', 32, 64],
  );
  assert.equal(s.proxy.verdict, 'cannot-tell', 'one checkpoint is not enough to compare');
});

test('a base run without a loss is an error that says to lower the LR', () => {
  const cp = checkpoint(4_000, { 64: 0, 128: 0, 256: 0 }, 60);
  const broken = { ...cp, runs: cp.runs.map((r) => (r.batchSize === 32 ? { ...r, loss: undefined } : r)) };
  assert.throws(
    () => summarizeBranches(input([broken])),
    /base run continued from 4,000 samples has no loss.*lower the base LR/,
  );
});

test('compareProxy: an unbounded B_simple interval overlaps any range above its low end', () => {
  const point = (low: number, high: number, noise: BranchPoint['noise']): BranchPoint => ({
    samples: 1,
    baseLoss: 1,
    critical: { samples: 1, status: 'measured', criticalBatch: low, low, high, comparisons: [], text: '' },
    noise,
  });
  const r = compareProxy([
    point(64, 128, { bSimple: 500, low: 100, confidence: 0.95, status: 'ok', steps: 50 }),
    point(128, 256, { bSimple: 150, low: 90, high: 200, confidence: 0.95, status: 'ok', steps: 50 }),
  ]);
  assert.equal(r.verdict, 'agrees', r.text);
  const apart = compareProxy([
    point(64, 128, { bSimple: 20, low: 10, high: 30, confidence: 0.95, status: 'ok', steps: 50 }),
    point(128, 256, { bSimple: 150, low: 90, high: 200, confidence: 0.95, status: 'ok', steps: 50 }),
  ]);
  assert.equal(apart.verdict, 'differs');
  assert.match(apart.text, /misses the branch range at 1 of 2/);
});
