/**
 * The output pool under batchlab-native (src/engine/backends/buffer-pool.ts): freed kernel outputs
 * are reused, and storage anyone else may still hold is not: values read with dataSync, and arrays a
 * cpu kernel's output is a view of (Slice returns a subarray). helpers.ts registers the backend with a
 * pool that recycles every size and poisons what it hands out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { NATIVE, randomValues, skipReason } from './helpers.js';
import { type NativeBackend, nativePoolStats, releaseNativeMemory } from '../../src/engine/backends/native.js';

function storage(t: tf.Tensor): Float32Array {
  const backend = tf.findBackend(NATIVE) as NativeBackend;
  return backend.data.get(t.dataId).values as Float32Array;
}

async function onNative(): Promise<tf.Tensor2D> {
  await tf.setBackend(NATIVE);
  return tf.tensor2d(randomValues(64 * 64, 11), [64, 64]);
}

test('a disposed kernel output is reused by the next output of its size', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const x = await onNative();
  const before = nativePoolStats()!.reused;
  const a = tf.relu(x);
  const arr = storage(a);
  a.dispose();
  const b = tf.step(x);
  assert.equal(storage(b), arr);
  assert.ok(nativePoolStats()!.reused > before);
  // The reused array holds step(x), written in full over relu's values.
  const expected = Array.from(randomValues(64 * 64, 11), (v) => (v > 0 ? 1 : 0));
  assert.deepEqual(Array.from(b.dataSync()), expected);
  tf.dispose([x, b]);
});

test('values read with dataSync are never recycled', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const x = await onNative();
  const a = tf.relu(x);
  const read = a.dataSync();
  const copy = Float32Array.from(read);
  a.dispose();
  for (let i = 0; i < 4; i++) tf.step(x).dispose();
  assert.deepEqual(read, copy);
  x.dispose();
});

test('an array a cpu kernel returned a view of (Slice) leaves the pool', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const x = await onNative();
  const a = tf.relu(x);
  const s = tf.slice(a, [0, 0], [32, 64]); // contiguous: the cpu kernel returns a subarray of a's storage
  assert.equal(storage(s).buffer, storage(a).buffer, 'the premise: a view');
  const expected = Float32Array.from(storage(s));
  a.dispose();
  const outs = [0, 1, 2, 3].map(() => tf.step(x));
  assert.deepEqual(storage(s), expected);
  tf.dispose([x, s, ...outs]);
});

test('training steps reuse their outputs, and releaseNativeMemory empties the pool', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const x = await onNative();
  const w = tf.variable(tf.tensor2d(randomValues(64 * 32, 12), [64, 32]));
  const start = nativePoolStats()!;
  for (let i = 0; i < 5; i++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.relu(tf.matMul(x, w))));
      w.assign(tf.sub(w, tf.mul(grads[w.name]!, 0.01)));
    });
  }
  const after = nativePoolStats()!;
  assert.ok(after.reused - start.reused >= 5, `reused ${after.reused - start.reused} arrays over 5 steps`);
  assert.ok(w.dataSync().every(Number.isFinite), 'no poisoned (NaN) array was read');
  releaseNativeMemory();
  assert.equal(nativePoolStats()!.pooledBytes, 0);
  tf.dispose([x, w]);
});
