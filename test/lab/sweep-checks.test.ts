/**
 * A sweep's settings are checked by the library before the store is opened (`import { sweep }` gets the
 * command line's errors, and a bad value leaves no experiment behind for --resume to call done).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import { planSweep } from '../../src/lab/sweep/plan.js';
import { checkSweepSettings, runSweep, type SweepSettings, sweepSettings } from '../../src/lab/sweep/sweep.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-sweep-checks-'));
const base = trainConfig({ dataset: 'gauss', model: { name: 'mlp', hidden: [8] } });
/** gauss: 4096 training samples; one epoch of samples per run by default. */
const GOOD = sweepSettings({ base, batchSizes: [16, 64], trainCount: 4096 });

/** What assert.throws / rejects compare: the error's code, its exit status (2: bad input) and its message. */
const refused = (code: string, message: RegExp) => ({ code, exitCode: 2, message });

test('runSweep refuses bad settings before it opens the store', async () => {
  checkSweepSettings(GOOD);
  const bad: [Partial<SweepSettings>, string, RegExp][] = [
    [{ baseLr: -0.1 }, 'BATCHLAB_BAD_ARGUMENT', /--base-lr must be a positive number, got -0\.1/],
    [
      { base: { ...base, optimizer: { name: 'momentum', momentum: 1.5 } } },
      'BATCHLAB_BAD_ARGUMENT',
      /--momentum must be in \[0, 1\)/,
    ],
    [
      { base: { ...base, model: { name: 'mlp', hidden: Array(1000).fill(4) } } },
      'BATCHLAB_BAD_ARGUMENT',
      /1000 layers/,
    ],
    [
      { base: { ...base, warmupSteps: 100 } },
      'BATCHLAB_BAD_ARGUMENT',
      /--warmup-steps 100 is not shorter than the run at batch 64 \(64 steps\)/,
    ],
    [
      { batchSizes: [16, 8192] },
      'BATCHLAB_BAD_BATCH_SIZE',
      /batch size 8192 must be a positive integer up to the training-set size 4096/,
    ],
    [{ batchSizes: [] }, 'BATCHLAB_BAD_BATCH_SIZE', /at least one batch size/],
    [{ seeds: [-1] }, 'BATCHLAB_BAD_ARGUMENT', /seeds must be integers >= 0/],
    [
      { budget: { kind: 'steps', value: 0 } },
      'BATCHLAB_BAD_ARGUMENT',
      /budget steps must be a positive integer, got 0/,
    ],
    [
      { command: { template: 'python3 train.py --bs {batch_size}' }, budget: { kind: 'steps', value: 5 } },
      'BATCHLAB_BAD_ARGUMENT',
      /unknown placeholder \{batch_size\}/,
    ],
  ];
  for (const [change, code, pattern] of bad) {
    const dbPath = join(TMP, `bad-${code}-${bad.findIndex((b) => b[0] === change)}.db`);
    await assert.rejects(runSweep({ dbPath, settings: { ...GOOD, ...change } }), refused(code, pattern));
    assert.equal(existsSync(dbPath), false, `${pattern}: no store created`);
  }
});

test('planSweep reads the batch list and the budget against the data', () => {
  const settings = planSweep({
    base,
    batchSizes: '64,16,64',
    budget: 'epochs=2',
    maxEpochs: 10,
    seeds: [1, 2],
    lrRule: 'linear',
    baseLr: 0.1,
    baseBatch: 64,
  });
  assert.deepEqual(settings.batchSizes, [16, 64]);
  assert.deepEqual(settings.budget, { kind: 'epochs', value: 2 });
  assert.equal(settings.trainCount, 4096);
  const request = {
    base,
    batchSizes: '16',
    maxEpochs: 10,
    seeds: [1],
    lrRule: 'sqrt' as const,
    baseLr: 0.1,
    baseBatch: 64,
  };
  assert.throws(
    () => planSweep({ ...request, batchSizes: '16,5000' }),
    refused('BATCHLAB_BAD_BATCH_SIZE', /5000 is above the training-set size 4096/),
  );
  assert.throws(
    () =>
      planSweep({
        ...request,
        base: { ...base, dataset: 'linreg', model: { name: 'linear' } },
        budget: 'target=acc:0.9',
      }),
    refused('BATCHLAB_BAD_ARGUMENT', /needs accuracy, but this dataset is regression/),
  );
  assert.throws(
    () => planSweep({ ...request, command: { template: 'true' } }),
    refused('BATCHLAB_BAD_ARGUMENT', /with --cmd, pass --budget steps=N or samples=N/),
  );
});
