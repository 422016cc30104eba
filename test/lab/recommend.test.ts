/** The recommend option checks and the --json schema (no training; the plan and the memory ceiling are tested in src/core). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recommend } from '../../src/core/recommend.js';
import {
  checkRecommendOptions,
  RECOMMEND_SCHEMA,
  recommendJson,
  type RecommendResult,
} from '../../src/lab/recommend/recommend.js';

test('--objective memory with no budget and no device memory is rejected before any probe', () => {
  assert.throws(
    () => checkRecommendOptions({ objective: 'memory' }),
    /no budget was given and no device memory could be read; pass --memory-budget 4GiB/,
  );
  assert.doesNotThrow(() => checkRecommendOptions({ objective: 'memory', memoryBudgetBytes: 1 << 30 }));
  assert.doesNotThrow(() => checkRecommendOptions({ objective: 'time' }));
});

/** A hand-made result: what runRecommend would return. */
function fakeResult(): RecommendResult {
  const memory = {
    points: [
      { batchSize: 1, peakBytes: 1e6 },
      { batchSize: 8, peakBytes: 1.1e6 },
    ],
    fit: { interceptBytes: 1e6, bytesPerSample: 1.4e4, r2: 1, residualStdBytes: 0 },
    budgetBytes: 1 << 30,
    marginBytes: 5e7,
    maxBatch: 60_000,
  };
  const throughput = {
    points: [
      { batchSize: 16, stepMs: 2, samplesPerSec: 8000, peakBytes: 1e6 },
      { batchSize: 64, stepMs: 5, samplesPerSec: 12800, peakBytes: 2e6 },
    ],
    fit: { alphaMs: 1, betaMsPerSample: 0.0625, r2: 1 },
    saturationBatch: undefined,
    warmupStepsExcluded: 2,
  };
  const noise = {
    batchSize: 64,
    lr: 0.05,
    atStep: 0,
    measuredSteps: 196,
    runId: 5,
    samples: 12_544,
    wallMs: 4000,
    windows: [
      {
        fromStep: 34,
        toStep: 115,
        bSimple: 175,
        ciLow: 131,
        ciHigh: 251,
        confidence: 0.95,
        status: 'ok' as const,
        measuredSteps: 82,
      },
      {
        fromStep: 116,
        toStep: 196,
        bSimple: 235,
        ciLow: 166,
        ciHigh: undefined,
        confidence: 0.95,
        status: 'ok' as const,
        measuredSteps: 81,
      },
    ],
  };
  const base = {
    dataset: 'mnist',
    datasetOptions: {},
    model: { name: 'mlp' as const, hidden: [256] },
    batchSize: 64,
    accumSteps: 1,
    budget: {},
    lastBatch: 'keep' as const,
    optimizer: { name: 'momentum' as const },
    lr: 0.05,
    schedule: 'constant' as const,
    warmupSteps: 0,
    seed: 1,
    evalEvery: 0,
    evalTrainLimit: 256,
  };
  const options = {
    base,
    optimizer: 'momentum' as const,
    objective: 'time' as const,
    baseLr: 0.05,
    baseBatch: 64,
    memoryBudgetBytes: 1 << 30,
    dbPath: 'x.db',
  };
  const recommendation = recommend({
    objective: 'time',
    maxBatch: 60_000,
    memoryBudgetBytes: 1 << 30,
    stepTime: throughput.fit,
    noise: { bSimple: 235, low: 166, high: Infinity, confidence: 0.95, afterStep: 196 },
    lr: { baseLr: 0.05, baseBatch: 64, optimizer: 'momentum' },
    trainSamples: 60_000,
  });
  const probeCost = {
    samples: 20_749,
    seconds: 21.4,
    runs: 9,
    sweepSamples: 420_000,
    shareOfSweep: 20_749 / 420_000,
    maxShare: 0.05,
  };
  return { experimentId: 3, options, trainSamples: 60_000, memory, throughput, noise, recommendation, probeCost };
}

test('--json schema: stable keys, nulls for the unknown, JSON-safe', () => {
  const j = JSON.parse(JSON.stringify(recommendJson(fakeResult())));
  assert.equal(j.schema, RECOMMEND_SCHEMA);
  assert.equal(RECOMMEND_SCHEMA, 'batchlab.recommend/1');
  assert.deepEqual(Object.keys(j), [
    'schema',
    'experimentId',
    'dataset',
    'model',
    'objective',
    'optimizer',
    'trainSamples',
    'baseLr',
    'baseBatch',
    'memory',
    'throughput',
    'noise',
    'recommendation',
    'target',
    'noiseAtTarget',
    'probeCost',
  ]);
  assert.equal(j.target, null, 'no --target');
  assert.equal(j.noiseAtTarget, null);
  assert.deepEqual(Object.keys(j.memory), ['budgetBytes', 'marginBytes', 'maxBatch', 'points', 'fit']);
  assert.deepEqual(Object.keys(j.throughput), ['points', 'fit', 'saturationBatch', 'warmupStepsExcluded']);
  assert.equal(j.throughput.saturationBatch, null);
  assert.deepEqual(Object.keys(j.noise), ['batchSize', 'lr', 'windows', 'used', 'remeasure']);
  assert.deepEqual(Object.keys(j.noise.windows[0]), [
    'fromStep',
    'toStep',
    'bSimple',
    'ciLow',
    'ciHigh',
    'confidence',
    'status',
    'measuredSteps',
  ]);
  assert.equal(j.noise.windows[1].ciHigh, null, 'an unbounded interval end is null, not Infinity');
  assert.deepEqual(j.noise.used, { fromStep: 116, toStep: 196 });
  assert.match(
    j.noise.remeasure,
    /^batchlab noise --dataset mnist --model mlp --batch-size 64 --at-step 1000 --window 200$/,
  );
  assert.deepEqual(
    Object.keys(j.recommendation).sort(),
    [
      'accumSteps',
      'batch',
      'binding',
      'conclusion',
      'confidence',
      'criticalBatch',
      'lr',
      'lrRule',
      'microBatchSize',
      'objective',
      'reasons',
      'rounding',
      'targetBatch',
      'warmupSteps',
      'warnings',
    ].sort(),
  );
  assert.deepEqual(
    j.recommendation.reasons.map((r: { effect: string }) => r.effect),
    ['memory', 'speed', 'stability', 'generalization'],
  );
  assert.deepEqual(Object.keys(j.probeCost), [
    'samples',
    'seconds',
    'runs',
    'sweepSamples',
    'shareOfSweep',
    'maxShare',
  ]);
});

test('--json with a target: B_simple per segment against the loss, the reading at the target, the study share', () => {
  const segment = (loss: number, b: number, from: number) => ({
    loss,
    bSimple: b,
    low: b / 2,
    high: from > 300 ? Number.POSITIVE_INFINITY : b * 2,
    confidence: 0.95,
    status: 'ok' as const,
    fromStep: from,
    toStep: from + 99,
  });
  const r = fakeResult();
  r.options = { ...r.options, target: { metric: 'accuracy', value: 0.97 } };
  r.noiseToTarget = {
    batchSize: 64,
    lr: 0.05,
    runId: 9,
    samples: 30_000,
    wallMs: 1,
    reached: { step: 400, samples: 25_600 },
    targetLoss: 0.07,
    segments: [segment(0.5, 100, 1), segment(0.1, 800, 201), segment(0.06, 1200, 401)],
    nearSegments: [segment(0.1, 800, 201), segment(0.06, 1200, 401)],
    atTarget: {
      estimate: 1000,
      low: 700,
      high: Number.POSITIVE_INFINITY,
      confidence: 0.95,
      targetLoss: 0.07,
      basis: 'measured',
      lossRange: { low: 0.06, high: 0.1 },
      n: 2,
      text: 'B_simple 1,000 (700..Infinity) at loss 0.07, measured near the target (segments at loss 0.06 and 0.1)',
    },
  };
  r.probeCost = { ...r.probeCost, study: { studySamples: 200_000, share: 0.15, maxShare: 0.25, batchSizes: [16, 64] } };
  const j = JSON.parse(JSON.stringify(recommendJson(r)));
  assert.deepEqual(j.target, { metric: 'accuracy', value: 0.97 });
  const n = j.noiseAtTarget;
  assert.deepEqual(Object.keys(n), [
    'batchSize',
    'lr',
    'reached',
    'targetLoss',
    'segments',
    'nearSegments',
    'prediction',
    'note',
  ]);
  assert.deepEqual(n.segments[2], {
    loss: 0.06,
    bSimple: 1200,
    ciLow: 600,
    ciHigh: null,
    fromStep: 401,
    toStep: 500,
    status: 'ok',
  });
  assert.equal(n.nearSegments.length, 2);
  assert.equal(n.prediction.high, null, 'an unbounded end is null');
  assert.equal(n.prediction.basis, 'measured');
  assert.equal(n.note, null);
  assert.deepEqual(j.probeCost.study, { studySamples: 200_000, share: 0.15, maxShare: 0.25, batchSizes: [16, 64] });
});
