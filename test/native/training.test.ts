/**
 * End-to-end: the same seeded training (MLP and CNN, 50 SGD steps) on `cpu` and on
 * `batchlab-native` gives the same loss curve within LOSS_TOLERANCE, and a run leaves no tensors
 * and no addon scratch memory behind once released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { NATIVE, skipReason } from './helpers.js';
import { makeBatch, makeTrainer, sampleShape, type ModelKind } from '../../bench/lib/train.js';
import { nativeMemoryBytes, releaseNativeMemory } from '../../src/engine/backends/native.js';
import { loadNativeAddon } from '../../src/engine/backends/native-addon.js';

/**
 * Relative loss difference allowed at every step. Both backends start from identical weights and
 * data; only fp32 summation order differs, which SGD amplifies slowly over 50 steps.
 */
const LOSS_TOLERANCE = 1e-3;
const STEPS = 50;

interface Batch {
  x: Float32Array;
  y: Float32Array;
}

/** Batches generated once (on cpu) and replayed on every backend, so inputs are bit-identical. */
async function makeBatches(kind: ModelKind, batch: number, count: number): Promise<Batch[]> {
  await tf.setBackend('cpu');
  const out: Batch[] = [];
  for (let i = 0; i < count; i++) {
    const { x, y } = makeBatch(kind, batch, 1000 + i);
    out.push({ x: Float32Array.from(x.dataSync()), y: Float32Array.from(y.dataSync()) });
    tf.dispose([x, y]);
  }
  return out;
}

async function lossCurve(backend: string, kind: ModelKind, batches: Batch[], batch: number): Promise<number[]> {
  await tf.setBackend(backend);
  const trainer = makeTrainer(kind, 42);
  const losses: number[] = [];
  for (const b of batches) {
    const x = tf.tensor(b.x, [batch, ...sampleShape(kind)]);
    const y = tf.tensor(b.y, [batch, 10]);
    const loss = trainer.step(x, y);
    losses.push(loss.dataSync()[0]!);
    tf.dispose([x, y, loss]);
  }
  trainer.dispose();
  return losses;
}

async function compareCurves(kind: ModelKind, batch: number): Promise<string> {
  const batches = await makeBatches(kind, batch, STEPS);
  const cpu = await lossCurve('cpu', kind, batches, batch);
  const native = await lossCurve(NATIVE, kind, batches, batch);
  let worst = 0;
  for (let i = 0; i < STEPS; i++)
    worst = Math.max(worst, Math.abs(native[i]! - cpu[i]!) / Math.max(1, Math.abs(cpu[i]!)));
  assert.ok(cpu[STEPS - 1]! < cpu[0]!, `${kind}: the reference run should learn (${cpu[0]} -> ${cpu[STEPS - 1]})`);
  assert.ok(worst <= LOSS_TOLERANCE, `${kind}: worst relative loss difference ${worst} > ${LOSS_TOLERANCE}`);
  return `${kind}: loss ${cpu[0]!.toFixed(4)} -> ${cpu[STEPS - 1]!.toFixed(4)}, worst relative difference ${worst.toExponential(2)}`;
}

test('MLP 784-256-10: 50 seeded SGD steps, native loss curve matches cpu', async (t) => {
  if (skipReason) return t.skip(skipReason);
  t.diagnostic(await compareCurves('mlp', 32));
});

test('CNN: 50 seeded SGD steps, native loss curve matches cpu', async (t) => {
  if (skipReason) return t.skip(skipReason);
  t.diagnostic(await compareCurves('cnn', 2)); // tiny batch: the cpu reference needs ~1 s per CNN step
});

test('no leaks: tensors and addon scratch return to their starting values', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const loaded = loadNativeAddon();
  assert.ok(loaded.ok);
  await tf.setBackend(NATIVE);
  releaseNativeMemory();
  const startTensors = tf.memory().numTensors;
  assert.equal(nativeMemoryBytes(), 0);
  // Tasks are claimed dynamically, so which thread first needs scratch varies from run to run;
  // one thread makes the steady-state check deterministic. Then the default pool runs too.
  for (const threads of [1, 0]) {
    loaded.addon.setThreads(threads);
    for (const kind of ['mlp', 'cnn'] as const) {
      const trainer = makeTrainer(kind, 7);
      const { x, y } = makeBatch(kind, 33, 5);
      const run = (steps: number) => {
        for (let i = 0; i < steps; i++) trainer.step(x, y).dispose();
      };
      run(3);
      const warm = nativeMemoryBytes();
      assert.ok(warm > 0, 'the addon should have used scratch memory');
      run(10);
      // Scratch is grow-only and sized by shapes: repeating the same step must not grow it.
      if (threads === 1) assert.equal(nativeMemoryBytes(), warm, `${kind}: scratch grew during steady-state training`);
      tf.dispose([x, y]);
      trainer.dispose();
    }
    assert.equal(tf.memory().numTensors, startTensors);
    releaseNativeMemory();
    assert.equal(nativeMemoryBytes(), 0);
  }
});

test('batchlab-native is deterministic: the same seeded run twice gives bitwise-identical losses (MLP and CNN)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { trainTfjs } = await import('../../src/engine/tfjs/train.js');
  const { loadDataset } = await import('../../src/data/registry.js');
  await tf.setBackend(NATIVE);
  const data = loadDataset('mnist', { limit: 2048 });
  // Parallel reductions (bias gradients, conv filter gradients) must not depend on which thread ran which part.
  for (const [model, batchSize, steps] of [
    ['mlp', 512, 12],
    ['cnn', 64, 4],
  ] as const) {
    const run = () =>
      trainTfjs({
        data,
        model: { name: model },
        settings: {
          batchSize,
          accumSteps: 1,
          budget: { maxSteps: steps },
          lastBatch: 'keep',
          seed: 3,
          optimizer: { name: 'momentum', momentum: 0.9 },
          lrAt: () => 0.3,
          evalEvery: 0,
          evalTrainLimit: 10,
        },
      });
    const [a, b] = [await run(), await run()];
    assert.deepEqual(
      a.steps.map((s) => s.loss),
      b.steps.map((s) => s.loss),
      `${model}: losses differ between identical runs`,
    );
  }
});
