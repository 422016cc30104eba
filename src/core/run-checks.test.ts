import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkHidden,
  checkLayerWeights,
  checkRunSettings,
  checkWarmup,
  MAX_HIDDEN_LAYERS,
  MAX_HIDDEN_WIDTH,
  MAX_LAYER_WEIGHTS,
  type RunSettingsToCheck,
} from './run-checks.js';

const OK: RunSettingsToCheck = {
  batchSize: 64,
  accumSteps: 4,
  lr: 0.05,
  optimizer: { name: 'momentum', momentum: 0.9 },
  schedule: 'cosine',
  warmupSteps: 10,
  seed: 1,
  evalEvery: 0,
  noiseEvery: 10,
  model: { name: 'mlp', hidden: [256, 128] },
  sharpness: { batchSamples: 1024, iterations: 20 },
};

/** What assert.throws / rejects compare: the error's code, its exit status (2: bad input) and its message. */
const refused = (code: string, message: RegExp) => ({ code, exitCode: 2, message });

test('checkRunSettings: a sound config passes; each bad value is named with its flag', () => {
  checkRunSettings(OK);
  const bad: [Partial<RunSettingsToCheck>, string, RegExp][] = [
    [{ lr: 0 }, 'BATCHLAB_BAD_ARGUMENT', /^--lr must be a positive number, got 0/],
    [{ lr: Number.NaN }, 'BATCHLAB_BAD_ARGUMENT', /^--lr must be a positive number, got NaN/],
    [{ lr: Number.POSITIVE_INFINITY }, 'BATCHLAB_BAD_ARGUMENT', /--lr must be a positive number/],
    [
      { optimizer: { name: 'momentum', momentum: 1 } },
      'BATCHLAB_BAD_ARGUMENT',
      /^--momentum must be in \[0, 1\), got 1/,
    ],
    [
      { optimizer: { name: 'sgd', momentum: -0.5 } },
      'BATCHLAB_BAD_ARGUMENT',
      /--momentum must be in \[0, 1\), got -0\.5/,
    ],
    [{ optimizer: { name: 'adam', beta2: 1 } }, 'BATCHLAB_BAD_ARGUMENT', /adam beta2 must be in \[0, 1\)/],
    [{ optimizer: { name: 'adam', epsilon: 0 } }, 'BATCHLAB_BAD_ARGUMENT', /adam epsilon must be a positive number/],
    [{ optimizer: { name: 'lion' as 'adam' } }, 'BATCHLAB_UNKNOWN_OPTIMIZER', /unknown optimizer "lion"/],
    [{ schedule: 'linear' }, 'BATCHLAB_UNKNOWN_SCHEDULE', /unknown schedule "linear"/],
    [{ warmupSteps: -1 }, 'BATCHLAB_BAD_ARGUMENT', /--warmup-steps must be an integer >= 0, got -1/],
    [{ seed: -1 }, 'BATCHLAB_BAD_ARGUMENT', /seed must be an integer >= 0, got -1/],
    [{ accumSteps: 3 }, 'BATCHLAB_BAD_BATCH_SIZE', /64/],
    [{ batchSize: 0 }, 'BATCHLAB_BAD_BATCH_SIZE', /0/],
    [{ noiseEvery: 1.5 }, 'BATCHLAB_BAD_ARGUMENT', /--noise-every must be an integer >= 0, got 1\.5/],
    [
      { sharpness: { batchSamples: 1024, iterations: 0 } },
      'BATCHLAB_BAD_ARGUMENT',
      /--sharpness-iterations must be a positive integer/,
    ],
  ];
  for (const [change, code, pattern] of bad)
    assert.throws(() => checkRunSettings({ ...OK, ...change }), refused(code, pattern));
});

test('momentum: 0 and just below 1 pass; 1 does not (the average would never forget)', () => {
  checkRunSettings({ ...OK, optimizer: { name: 'momentum', momentum: 0 } });
  checkRunSettings({ ...OK, optimizer: { name: 'momentum', momentum: 0.999 } });
});

test('--hidden: at most MAX_HIDDEN_LAYERS layers of 1..MAX_HIDDEN_WIDTH units', () => {
  checkHidden(Array.from({ length: MAX_HIDDEN_LAYERS }, () => 4));
  checkHidden([MAX_HIDDEN_WIDTH]);
  checkHidden([]);
  assert.throws(
    () => checkHidden(Array.from({ length: MAX_HIDDEN_LAYERS + 1 }, () => 4)),
    refused('BATCHLAB_BAD_ARGUMENT', /^--hidden gives 101 layers; at most 100 are allowed/),
  );
  for (const width of [MAX_HIDDEN_WIDTH + 1, 0, 2.5])
    assert.throws(
      () => checkHidden([16, width]),
      refused('BATCHLAB_BAD_ARGUMENT', /--hidden width must be an integer from 1 to 65536/),
    );
});

test('checkLayerWeights: each kernel must fit one tensor of at most 2^31 - 1 weights', () => {
  checkLayerWeights([784, MAX_HIDDEN_WIDTH, 10]);
  checkLayerWeights([1, MAX_LAYER_WEIGHTS]);
  assert.throws(
    () => checkLayerWeights([784, 65_536, 65_536, 10]),
    refused('BATCHLAB_BAD_ARGUMENT', /the layer from 65536 to 65536 units would hold 4294967296 weights/),
  );
});

test('checkWarmup: a warm-up must end before the run does', () => {
  checkWarmup(0, 1, 64);
  checkWarmup(99, 100, 64);
  assert.throws(
    () => checkWarmup(100, 100, 1024),
    refused(
      'BATCHLAB_BAD_ARGUMENT',
      /^--warmup-steps 100 is not shorter than the run at batch 1024 \(100 steps\).*pass --warmup-steps 99 or less/,
    ),
  );
});
