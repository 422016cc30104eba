/**
 * What the end-of-run sharpness estimate costs and how far its cheaper settings land from a careful one,
 * on the demo's models (MNIST MLP 784-256-10 after one epoch at several batch sizes, the demo's LR rule).
 *
 * Reference: Lanczos with central differences on 1024 samples, settled to 1e-6 (or 60 products). Each
 * variant is timed and compared with it. Two errors matter: the estimate's own (variants on 1024
 * samples), and the sample's (fewer samples is another batch's Hessian, a different number), which the
 * reference on the same smaller batch separates.
 *
 * Usage: npx tsx bench/sharpness-cost.ts [--batches 16,256,1024]
 */
import * as tf from '@tensorflow/tfjs-core';
import { scaleLr } from '../src/core/lr.js';
import { loadDataset } from '../src/data/registry.js';
import { selectBackend } from '../src/engine/backends/select.js';
import { topHessianEigenvalue } from '../src/engine/tfjs/sharpness.js';
import { trainTfjs } from '../src/engine/tfjs/train.js';
import { makeLossFn, toTensors } from '../src/engine/tfjs/tensors.js';
import { buildModel } from '../src/models/index.js';

interface Variant {
  name: string;
  batchSamples: number;
  difference: 'central' | 'forward';
  relTol: number;
  iterations: number;
}

const VARIANTS: Variant[] = [
  { name: 'reference 1024 central tol 1e-6', batchSamples: 1024, difference: 'central', relTol: 1e-6, iterations: 60 },
  { name: 'lanczos 1024 central tol 1e-3', batchSamples: 1024, difference: 'central', relTol: 1e-3, iterations: 100 },
  { name: 'lanczos 1024 forward tol 1e-3', batchSamples: 1024, difference: 'forward', relTol: 1e-3, iterations: 100 },
  { name: 'lanczos 1024 forward tol 1e-2', batchSamples: 1024, difference: 'forward', relTol: 1e-2, iterations: 100 },
  { name: 'reference 512 central tol 1e-6', batchSamples: 512, difference: 'central', relTol: 1e-6, iterations: 60 },
  { name: 'lanczos 512 forward tol 1e-2', batchSamples: 512, difference: 'forward', relTol: 1e-2, iterations: 100 },
  { name: 'reference 256 central tol 1e-6', batchSamples: 256, difference: 'central', relTol: 1e-6, iterations: 60 },
  { name: 'lanczos 256 forward tol 1e-2', batchSamples: 256, difference: 'forward', relTol: 1e-2, iterations: 100 },
];

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--batches');
  const batches = arg > 0 ? process.argv[arg + 1]!.split(',').map(Number) : [16, 256, 1024];
  await selectBackend({ needsConv: false });
  const data = loadDataset('mnist', {});
  const model = { name: 'mlp' as const, hidden: [256] };
  const train = toTensors(data, 'train');
  for (const batchSize of batches) {
    const lr = scaleLr({ rule: 'sqrt', baseLr: 0.05, baseBatch: 64, batch: batchSize });
    const t0 = performance.now();
    const run = await trainTfjs({
      data,
      model,
      returnWeights: true,
      settings: {
        batchSize,
        accumSteps: 1,
        budget: { maxSamples: data.train.count },
        lastBatch: 'keep',
        seed: 1,
        optimizer: { name: 'momentum' },
        lrAt: () => lr,
        evalEvery: 0,
        evalTrainLimit: 1000,
      },
    });
    console.log(
      `B=${batchSize}: one epoch trained in ${((performance.now() - t0) / 1000).toFixed(1)} s (trainMs ${(run.trainMs / 1000).toFixed(2)} s)`,
    );
    const built = await buildModel(model, data, 1);
    const vars = built.model.trainableWeights.map((w) => w.read() as tf.Variable);
    vars.forEach((v, i) => v.assign(tf.tensor(run.weights![i]!, v.shape)));
    const lossFn = makeLossFn(data, built);
    const refs = new Map<number, number>();
    for (const v of VARIANTS) {
      const start = performance.now();
      const r = topHessianEigenvalue({ built, vars, train, lossFn, seed: 1, ...v });
      const ms = performance.now() - start;
      if (v.name.startsWith('reference')) refs.set(v.batchSamples, r.topEigenvalue);
      const ref1024 = refs.get(1024)!;
      const sameBatch = refs.get(v.batchSamples)!;
      console.log(
        `  ${v.name.padEnd(34)} lambda ${r.topEigenvalue.toFixed(4)}  ${String(r.products).padStart(3)} products  ${ms.toFixed(0).padStart(6)} ms` +
          `  vs ref-1024 ${(((r.topEigenvalue - ref1024) / ref1024) * 100).toFixed(2)}%  vs ref-same-batch ${(((r.topEigenvalue - sameBatch) / sameBatch) * 100).toFixed(2)}%` +
          `  (${((ms / run.trainMs) * 100).toFixed(1)}% of the run's training)`,
      );
    }
    built.model.dispose();
  }
}

await main();
