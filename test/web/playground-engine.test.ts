/**
 * The playground shares batchlab's engine, in Node: a PlaygroundRun trains step for step like the
 * command line's TF.js loop, its bundle holds no Node-only code, and its MNIST subset is the command
 * line's `--dataset mnist --limit 2000` (the last check reads dist/playground, written by `npm run build`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { build } from 'esbuild';
import { loadDataset } from '../../src/data/registry.js';
import { spiral } from '../../src/data/synthetic.js';
import { trainTfjs } from '../../src/engine/tfjs/train.js';
import { nodeImportProblems } from '../../web/bundle-check.mjs';
import {
  decodeMnistSubset,
  MNIST_GLOBAL,
  type MnistSubsetFile,
  SYNTHETIC_SIZES,
} from '../../web/src/playground/data.js';
import { NOISE_EVERY, PlaygroundRun } from '../../web/src/playground/trainer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the playground trains with batchlab engine', () => {
  const data = spiral({ ...SYNTHETIC_SIZES, trainCount: 96, testCount: 64 }, { numClasses: 3, noiseSigma: 0.05 });
  const config = {
    data,
    lr: 0.01,
    optimizer: { name: 'adam' as const },
    hidden: [8],
    seed: 5,
    epochs: 2,
    backend: 'cpu',
  };

  async function trainPlayground(batchSize: number): Promise<PlaygroundRun> {
    const run = new PlaygroundRun({ ...config, batchSize });
    while (!run.finished) await run.step();
    return run;
  }

  it('step for step the losses and gradient norms of the command line loop, and no tensor left behind', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const run = await trainPlayground(16);
    run.dispose();
    assert.equal(tf.memory().numTensors, before, 'a disposed run leaves no tensor');
    const cli = await trainTfjs({
      data,
      model: { name: 'mlp', hidden: config.hidden },
      settings: {
        batchSize: 16,
        accumSteps: 1,
        budget: { epochs: config.epochs },
        lastBatch: 'keep',
        seed: config.seed,
        optimizer: config.optimizer,
        lrAt: () => config.lr,
        evalEvery: 0,
        evalTrainLimit: 10_000,
        noiseEvery: NOISE_EVERY,
      },
    });
    assert.equal(run.steps.length, 12);
    assert.deepEqual(
      run.steps.map((s) => [s.loss, s.gradSqNorm, s.microGradSqNorm, s.microBatchSize]),
      cli.steps.map((s) => [s.loss, s.gradSqNorm, s.microGradSqNorm, s.microBatchSize]),
    );
    assert.equal(run.status, 'done');
    assert.equal(run.summary?.steps, 12);
    assert.ok(run.noise.length > 0, 'B_simple is tracked while training');
  });

  it('runs of every batch size start from the same weights and are evaluated at shared sample counts', async () => {
    await tf.setBackend('cpu');
    const small = await trainPlayground(8);
    const large = await trainPlayground(32);
    try {
      assert.deepEqual(small.evals[0], large.evals[0], 'the same initial weights give the same step-0 evaluation');
      const at = (r: PlaygroundRun) => r.evals.filter((e) => e.split === 'test').map((e) => e.samples);
      // every quarter epoch (24 samples): B = 8 lands on each, B = 32 on the first step past each
      assert.deepEqual(at(small), [0, 24, 48, 72, 96, 120, 144, 168, 192]);
      assert.deepEqual(at(large), [0, 32, 64, 96, 128, 160, 192]);
    } finally {
      small.dispose();
      large.dispose();
    }
  });
});

describe('the playground bundle', () => {
  async function problemsOf(entry: string): Promise<string[]> {
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      external: ['node:*'],
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    return nodeImportProblems(result.metafile);
  }

  it('the check names Node-only code: the command line loop reads files', async () => {
    const problems = await problemsOf('src/engine/tfjs/trainer.ts');
    assert.ok(
      problems.some((p) => /src\/models\/file-model\.ts -> node:fs/.test(p)),
      problems.join('\n'),
    );
    assert.ok(problems.some((p) => /native-addon\.ts -> node:module/.test(p)));
  });

  it('the playground pulls none', async () => {
    assert.deepEqual(await problemsOf('web/src/playground/main.ts'), []);
  });
});

describe('the MNIST subset of the page', {
  skip: !existsSync(`${ROOT}dist/playground/mnist-subset.js`) && 'run npm run build first',
}, () => {
  it('decodes to the same floats and labels as --dataset mnist --limit 2000', () => {
    const window: Record<string, MnistSubsetFile> = {};
    runInNewContext(readFileSync(`${ROOT}dist/playground/mnist-subset.js`, 'utf8'), { window });
    const page = decodeMnistSubset(window[MNIST_GLOBAL]!);
    const cli = loadDataset('mnist', { limit: 2000 });
    assert.equal(page.train.count, 2000);
    assert.equal(page.test.count, 500);
    assert.deepEqual([...page.inputShape], cli.inputShape);
    for (const split of ['train', 'test'] as const) {
      assert.deepEqual(page[split].y, cli[split].y, split);
      assert.ok(
        page[split].x.every((v, i) => v === cli[split].x[i]),
        `${split} pixels are the command line's, bit for bit`,
      );
    }
  });
});
