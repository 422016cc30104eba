/**
 * Checkpoints and batch-size schedules of the TF.js trainer, on batchlab's native backend:
 * - a run saved after step k and resumed gives bit-identical losses and weights to the run that never
 *   stopped (momentum and Adam, across epoch boundaries, with a partial last batch), and leaks no tensor;
 * - a bad or mismatched checkpoint is refused with an error naming the file;
 * - a schedule run's effective batch, micro-batch and LR at every step are the schedule's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseBatchSchedule, scheduleAt } from '../../src/core/batch-schedule.js';
import type { BatchlabError } from '../../src/core/errors.js';
import type { TrainResult } from '../../src/core/run.js';
import { loadDataset } from '../../src/data/registry.js';
import { selectBackend } from '../../src/engine/backends/select.js';
import { decodeCheckpoint } from '../../src/engine/tfjs/checkpoint.js';
import { trainTfjs } from '../../src/engine/tfjs/train.js';
import { TfjsTrainer, trainConfig, type TrainConfig } from '../../src/engine/tfjs/trainer.js';
import type { TrainSettings } from '../../src/engine/trainer.js';
import type { OptimizerConfig } from '../../src/core/run.js';

const backend = await selectBackend({ requested: 'batchlab-native', needsConv: true }).catch((e: Error) => e);
const skip = backend instanceof Error ? `batchlab-native is not available: ${backend.message}` : undefined;

/** 500 samples at B = 64: 8 steps per epoch, the last one partial (52 samples). */
const data = loadDataset('mnist', { limit: 500 });
const model = { name: 'mlp' as const, hidden: [32] };

function settings(over: Partial<TrainSettings>): TrainSettings {
  return {
    batchSize: 64,
    accumSteps: 1,
    budget: { maxSteps: 30 },
    lastBatch: 'keep',
    seed: 7,
    optimizer: { name: 'momentum' },
    lrAt: (step) => 0.05 * (1 + 0.01 * step),
    evalEvery: 0,
    evalTrainLimit: 200,
    noiseEvery: 4,
    ...over,
  };
}

/** Runs `steps` steps, saving the final state; returns the result and the checkpoint bytes. */
async function runSaving(over: Partial<TrainSettings>): Promise<{ result: TrainResult; bytes: Uint8Array }> {
  let bytes: Uint8Array | undefined;
  const result = await trainTfjs({
    data,
    model,
    settings: settings({ ...over, saveCheckpoint: (b) => (bytes = b) }),
    returnWeights: true,
  });
  return { result, bytes: bytes! };
}

for (const optimizer of [{ name: 'momentum' }, { name: 'adam' }] as OptimizerConfig[]) {
  test(`save after step 11, resume, continue: bit-identical to the uninterrupted run (${optimizer.name})`, {
    skip,
  }, async () => {
    const before = tf.memory().numTensors;
    const lrAt = optimizer.name === 'adam' ? () => 0.003 : undefined;
    const whole = await trainTfjs({
      data,
      model,
      settings: settings({ optimizer, ...(lrAt && { lrAt }) }),
      returnWeights: true,
    });
    const first = await runSaving({ optimizer, budget: { maxSteps: 11 }, ...(lrAt && { lrAt }) });
    const rest = await trainTfjs({
      data,
      model,
      // Another init seed would give other weights, but the checkpoint's weights replace them; the data
      // order continues from the checkpoint because the data seed (the run seed) is the same.
      settings: settings({ optimizer, resumeFrom: { bytes: first.bytes, file: 'first.ckpt' }, ...(lrAt && { lrAt }) }),
      returnWeights: true,
    });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(
      rest.steps.map((s) => s.step),
      Array.from({ length: 19 }, (_, i) => 12 + i),
    );
    const losses = (r: TrainResult) => r.steps.map((s) => s.loss);
    assert.deepEqual([...losses(first.result), ...losses(rest)], losses(whole));
    assert.deepEqual(
      [...first.result.steps, ...rest.steps].map((s) => [s.batchSize, s.samples, s.lr, s.gradSqNorm]),
      whole.steps.map((s) => [s.batchSize, s.samples, s.lr, s.gradSqNorm]),
    );
    assert.deepEqual(rest.weights, whole.weights);
    assert.equal(rest.distanceFromInit, whole.distanceFromInit);
    assert.equal(rest.samples, whole.samples);
    // A partial last batch (52) was crossed: the run spans more than three epochs of 500 samples.
    assert.ok(whole.steps.some((s) => s.batchSize === 52));
  });
}

test('a checkpoint records where the run is (step, samples, epoch, cursor, optimizer state)', { skip }, async () => {
  const { bytes, result } = await runSaving({ budget: { maxSteps: 10 } });
  const cp = decodeCheckpoint(bytes, 'x');
  assert.equal(cp.meta.step, 10);
  assert.equal(cp.meta.samples, result.samples);
  assert.equal(cp.meta.samples, 8 * 64 + 52 + 64);
  assert.deepEqual([cp.meta.epoch, cp.meta.cursor], [1, 128]);
  assert.equal(cp.optimizerSlots.length, cp.weights.length, 'one momentum buffer per variable');
  assert.equal(cp.order.length, 500);
  assert.deepEqual(
    [...cp.order].sort((a, b) => a - b),
    Array.from({ length: 500 }, (_, i) => i),
  );
});

test('resumed with another seed, a run trains the samples its epoch had left, in another order', { skip }, async () => {
  const { bytes } = await runSaving({ budget: { maxSteps: 10 } });
  // Steps 11..15 of seed 7 and of seed 8 take the same 5 x 64 samples of epoch 1 (positions 128..447).
  const grads = async (seed: number) =>
    (
      await trainTfjs({
        data,
        model,
        settings: settings({ seed, budget: { maxSteps: 15 }, resumeFrom: { bytes, file: 'cp' } }),
      })
    ).steps;
  const [same, other] = [await grads(7), await grads(8)];
  assert.deepEqual(
    same.map((s) => s.samples),
    other.map((s) => s.samples),
  );
  assert.notDeepEqual(
    same.map((s) => s.loss),
    other.map((s) => s.loss),
  );
});

test('a corrupt, truncated or mismatched checkpoint is refused, naming the file', { skip }, async () => {
  const { bytes } = await runSaving({ budget: { maxSteps: 3 } });
  const before = tf.memory().numTensors;
  const resumeWith = (b: Uint8Array, over: Partial<TrainSettings> = {}, m = model) =>
    trainTfjs({ data, model: m, settings: settings({ ...over, resumeFrom: { bytes: b, file: 'bad.ckpt' } }) });
  await assert.rejects(resumeWith(bytes.subarray(0, 100)), /bad\.ckpt: not a batchlab checkpoint/);
  await assert.rejects(resumeWith(new Uint8Array(4)), (e: BatchlabError) => e.code === 'BATCHLAB_BAD_DATA_FILE');
  await assert.rejects(resumeWith(bytes, {}, { name: 'mlp', hidden: [16] }), /holds another model.*784x32.*784x16/);
  await assert.rejects(resumeWith(bytes, { optimizer: { name: 'adam' } }), /momentum optimizer.*--optimizer momentum/);
  assert.equal(tf.memory().numTensors, before, 'a refused checkpoint leaked tensors');
});

test('TfjsTrainer: checkpoint.saveTo writes through the writer, resumeFrom reads the file', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-ckpt-'));
  const file = join(dir, 'a.safetensors');
  const base: TrainConfig = trainConfig({
    dataset: 'mnist',
    datasetOptions: { limit: 500 },
    model,
    budget: { maxSteps: 6 },
    seed: 7,
    evalTrainLimit: 100,
  });
  assert.rejects(new TfjsTrainer({ ...base, checkpoint: { saveTo: file } }).prepare(), /no file writer/);
  const writes: string[] = [];
  const writer = (path: string, b: Uint8Array) => {
    writes.push(path);
    writeFileSync(path, b);
  };
  await new TfjsTrainer({ ...base, checkpoint: { saveTo: file } }, undefined, { writeCheckpoint: writer }).run();
  assert.deepEqual(writes, [file]);
  const resumed = await new TfjsTrainer({ ...base, budget: { maxSteps: 9 }, checkpoint: { resumeFrom: file } }).run();
  assert.deepEqual(
    resumed.steps.map((s) => s.step),
    [7, 8, 9],
  );
  assert.equal(decodeCheckpoint(readFileSync(file), file).meta.step, 6);
  await assert.rejects(
    new TfjsTrainer({ ...base, checkpoint: { resumeFrom: join(dir, 'missing') } }).prepare(),
    /missing: cannot read the checkpoint \(ENOENT\)/,
  );
});

test('a schedule run: every step has the batch, micro-batch and LR of its phase', { skip }, async () => {
  const schedule = parseBatchSchedule('16@0,64@320,128@1000,32@1700');
  const config = trainConfig({
    dataset: 'mnist',
    datasetOptions: { limit: 500 },
    model,
    lr: 0.02,
    budget: { maxSamples: 2200 },
    batchSchedule: { schedule, lrRule: 'linear', baseBatch: 16, maxMicroBatch: 32 },
    evalTrainLimit: 100,
  });
  const trainer = new TfjsTrainer(config);
  const plan = await trainer.prepare();
  const result = await trainer.run();
  assert.equal(plan.totalSteps, result.steps.length);
  const lr = { rule: 'linear' as const, baseLr: 0.02, baseBatch: 16 };
  let partial = 0;
  for (const s of result.steps) {
    const want = scheduleAt(schedule, s.step, lr);
    assert.equal(s.lr, want.lr, `LR of step ${s.step}`);
    if (s.batchSize !== want.batch) {
      // Only an epoch's partial last batch may be smaller (500 samples per epoch, --last-batch keep).
      assert.ok(s.batchSize < want.batch && s.samples % 500 === 0, `batch of step ${s.step}: ${s.batchSize}`);
      partial++;
      continue;
    }
    assert.equal(s.microBatchSize, Math.min(want.batch, 32), `micro-batch of step ${s.step}`);
    assert.equal(s.accumSteps, Math.max(1, want.batch / 32));
  }
  assert.ok(partial <= 4, `${partial} partial batches`);
  assert.deepEqual([...new Set(result.steps.map((s) => s.lr))], [0.02, 0.08, 0.16, 0.04]);
  assert.ok(result.samples >= 2200 && result.samples < 2200 + 32);
});
