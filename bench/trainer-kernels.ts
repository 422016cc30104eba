/**
 * Where a step of batchlab's REAL trainer (`trainTfjs`) spends its time on batchlab-native, kernel by
 * kernel: every kernel of the backend is wrapped with a wall-clock timer (BatchMatMul split by shapes and
 * transposes), the MNIST model trains with plain SGD, and after a warm-up the mean ms per step of each
 * kernel is printed, with the output pool's use. Unlike bench/profile-step.ts (tf.profile on a bench
 * copy of the step), nothing here changes what the trainer does; the timers add ~1 us per kernel call.
 * Usage: npx tsx bench/trainer-kernels.ts [mlp|cnn] [batch]     (default: mlp 64)
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/backends/select.js';
import { nativePoolStats } from '../src/engine/backends/native.js';
import { trainTfjs } from '../src/engine/tfjs/train.js';
import { loadDataset } from '../src/data/registry.js';

const WARMUP_STEPS = 10;
/** The trainer memory-profiles step 1 and every 100th step (slower, under tf.profile): not counted. */
const PROFILED = (step: number) => step === 1 || step % 100 === 0;

interface Total {
  ms: number;
  calls: number;
}

/** Re-registers every kernel of `backend` behind a timer that records into `totals` while `on()`. */
function timeKernels(backend: string, totals: Map<string, Total>, on: () => boolean): void {
  for (const config of tf.getKernelsForBackend(backend)) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        if (!on()) return inner(args);
        const t0 = performance.now();
        const out = inner(args);
        const ms = performance.now() - t0;
        const key = config.kernelName === tf.BatchMatMul ? `BatchMatMul ${matmulShape(args)}` : config.kernelName;
        const total = totals.get(key) ?? { ms: 0, calls: 0 };
        total.ms += ms;
        total.calls++;
        totals.set(key, total);
        return out;
      },
    });
  }
}

function matmulShape(args: Parameters<tf.KernelConfig['kernelFunc']>[0]): string {
  const shapes = Object.values(args.inputs).map((t) => JSON.stringify(t?.shape));
  const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
  return `${shapes.join(' x ')} ${attrs.transposeA ? 'T' : 'N'}${attrs.transposeB ? 'T' : 'N'}`;
}

async function main(): Promise<void> {
  const model = (process.argv[2] ?? 'mlp') as 'mlp' | 'cnn';
  const batch = Number(process.argv[3] ?? 64);
  const steps = model === 'cnn' ? 20 : 300;
  await selectBackend({ requested: 'batchlab-native', needsConv: model === 'cnn' });
  const totals = new Map<string, Total>();
  let timing = false;
  timeKernels('batchlab-native', totals, () => timing);
  const data = loadDataset('mnist', {});
  const test = { ...data.test, count: 16, x: data.test.x.subarray(0, 16 * 784), y: data.test.y.subarray(0, 16) };
  const stepMs: number[] = [];
  const controller = new AbortController();
  await trainTfjs({
    data: { ...data, test },
    model: { name: model },
    settings: {
      batchSize: batch,
      accumSteps: 1,
      budget: { maxSteps: 1e6 },
      lastBatch: 'drop',
      seed: 1,
      optimizer: { name: 'sgd' },
      lrAt: () => 0.05,
      evalEvery: 0,
      evalTrainLimit: 16,
    },
    hooks: {
      signal: controller.signal,
      onStep: (s) => {
        // Kernels of step s + 1 are timed when step s (> warm-up, not followed by a profiled step) ends.
        timing = s.step >= WARMUP_STEPS && !PROFILED(s.step + 1);
        if (s.step > WARMUP_STEPS && !PROFILED(s.step)) stepMs.push(s.stepMs);
        if (stepMs.length >= steps) controller.abort();
      },
    },
  });
  const n = stepMs.length;
  stepMs.sort((a, b) => a - b);
  const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = rows.reduce((a, [, t]) => a + t.ms, 0) / n;
  console.log(
    `${model} B=${batch} on batchlab-native: ${n} steps, median ${stepMs[n >> 1]!.toFixed(3)} ms/step, mean ${(stepMs.reduce((a, b) => a + b, 0) / n).toFixed(3)}; kernels ${kernelMs.toFixed(3)} ms/step`,
  );
  for (const [name, t] of rows.slice(0, 20))
    console.log(`${name.padEnd(48)} ${(t.ms / n).toFixed(3).padStart(8)} ms  ${(t.calls / n).toFixed(1)}x`);
  console.log(`output pool: ${JSON.stringify(nativePoolStats())}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
