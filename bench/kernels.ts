/**
 * Single batchlab-native kernels at the training shapes where they showed up in a step profile
 * (bench/trainer-kernels.ts): max-pooling and its gradient, Step, the fused relu gradient, the row
 * gather, and their cpu-backend counterparts' shapes. Median of 30 calls after 5 warm-up calls.
 * To compare two builds, run it in two checkouts one after the other (the machine is noisy).
 * Usage: npx tsx bench/kernels.ts
 */
import * as tf from '@tensorflow/tfjs-core';
// Gradients are registered as a side effect of loading tfjs-layers (as in batchlab itself).
import '@tensorflow/tfjs-layers';
import { selectBackend } from '../src/engine/backends/select.js';

function medianMs(f: () => tf.Tensor, calls = 30): number {
  for (let i = 0; i < 5; i++) f().dispose();
  const ts: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    f().dispose();
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[calls >> 1]!;
}

async function main(): Promise<void> {
  await selectBackend({ requested: 'batchlab-native', needsConv: true });
  const rows: [string, number][] = [];
  for (const shape of [
    [256, 28, 28, 32],
    [256, 14, 14, 64],
  ] as const) {
    const x = tf.randomNormal([...shape]) as tf.Tensor4D;
    const y = tf.maxPool(x, 2, 2, 'valid');
    const dy = tf.randomNormal(y.shape);
    rows.push([`MaxPool 2x2 ${shape.join('x')}`, medianMs(() => tf.maxPool(x, 2, 2, 'valid'))]);
    rows.push([
      `MaxPoolGrad 2x2 ${shape.join('x')}`,
      medianMs(
        () =>
          tf
            .engine()
            .runKernel(
              tf.MaxPoolGrad,
              { dy, input: x, output: y },
              { filterSize: 2, strides: 2, pad: 'valid' },
            ) as tf.Tensor,
      ),
    ]);
    tf.dispose([x, y, dy]);
  }
  const h = tf.randomNormal([1024, 256]);
  const g = tf.randomNormal([1024, 256]);
  rows.push(['Step 1024x256', medianMs(() => tf.step(h))]);
  rows.push(['Relu 1024x256', medianMs(() => tf.relu(h))]);
  rows.push(['relu gradient 1024x256 (BatchlabReluGrad)', medianMs(() => tf.grad((v) => tf.relu(v))(h, g))]);
  const data = tf.randomUniform([60_000, 784]);
  const idx = tf.tensor1d(
    Int32Array.from({ length: 1024 }, (_, i) => (i * 7919) % 60_000),
    'int32',
  );
  rows.push(['GatherV2 1024 rows of 60000x784', medianMs(() => tf.gather(data, idx))]);
  tf.dispose([h, g, data, idx]);
  for (const [name, ms] of rows) console.log(`${name.padEnd(44)} ${ms.toFixed(3).padStart(8)} ms`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
