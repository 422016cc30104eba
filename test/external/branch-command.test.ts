/**
 * A user's command is branched like a TF.js model: examples/pytorch/train.py, which honours
 * {checkpoint_in}, {checkpoint_out} and {resume_step}, on a tiny IDX data set: the base segment saves a
 * checkpoint, the windows resume from it (steps and samples numbered on from it), and the summary is built.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../../src/core/random.js';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import { branchSettings, checkpointFile, runBranch } from '../../src/lab/branch/branch.js';
import { openStore } from '../../src/store/index.js';
import { idxBytes } from '../data/helpers.js';
import { TEST_PYTHON, torchMissing } from '../e2e/harness.js';
import { REPO_ROOT } from './helpers.js';

const DIR = mkdtempSync(join(tmpdir(), 'batchlab-branch-cmd-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

/** MNIST-shaped IDX files: 256 training and 64 test images of random pixels, labels 0..9. */
function tinyIdxSet(dir: string): void {
  const rng = createRng(3);
  const split = (prefix: string, n: number) => {
    const pixels = Array.from({ length: n * 784 }, () => rng.randInt(256));
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), idxBytes(0x08, [n, 28, 28], pixels));
    writeFileSync(
      join(dir, `${prefix}-labels-idx1-ubyte`),
      idxBytes(
        0x08,
        [n],
        Array.from({ length: n }, (_, i) => i % 10),
      ),
    );
  };
  split('train', 256);
  split('t10k', 64);
}

test('branch --cmd: the PyTorch example saves, resumes and is branched like a TF.js model', async (t) => {
  const missing = torchMissing();
  if (missing !== undefined) return t.skip(missing);
  tinyIdxSet(DIR);
  const template =
    `${TEST_PYTHON} ${join(REPO_ROOT, 'examples/pytorch/train.py')} --device cpu --data-dir ${DIR} ` +
    '--batch-size {batch} --accum {accum} --lr {lr} --max-steps {max_steps} --seed {seed} ' +
    '--checkpoint-in {checkpoint_in} --checkpoint-out {checkpoint_out}';
  const settings = branchSettings({
    base: trainConfig({ dataset: 'external', model: { name: 'mlp' }, batchSize: 16, lr: 0.05, seed: 1 }),
    command: { template, timeoutMs: 300_000 },
    trainCount: 256,
    totalSamples: 256,
    checkpoints: [64],
    windowSamples: 64,
    branchBatches: [32],
    seeds: [1],
    checkpointDir: join(DIR, 'checkpoints'),
  });
  const db = join(DIR, 'cmd.db');
  const result = await runBranch({ dbPath: db, settings });
  assert.deepEqual(
    result.runs.map((r) => [r.key, r.status, r.reason]),
    [
      ['base:0-64', 'done', null],
      ['cp=64,b=16,seed=1', 'done', null],
      ['cp=64,b=32,seed=1', 'done', null],
    ],
  );
  assert.ok(existsSync(checkpointFile(result.experiment.settings as never, result.experiment.id, 64)));
  const store = openStore(db, { readonly: true });
  try {
    const steps = (key: string) => store.stepsOf(result.runs.find((r) => r.key === key)!.id);
    assert.deepEqual(
      steps('base:0-64').map((s) => [s.step, s.samples]),
      [
        [1, 16],
        [2, 32],
        [3, 48],
        [4, 64],
      ],
    );
    // The windows resume at step 4 (64 samples): numbering and samples go on from the checkpoint.
    assert.deepEqual(
      steps('cp=64,b=32,seed=1').map((s) => [s.step, s.samples, s.batchSize]),
      [
        [5, 96, 32],
        [6, 128, 32],
      ],
    );
    assert.ok(steps('cp=64,b=16,seed=1').every((s) => s.accumSteps === 2 && Number.isFinite(s.microGradSqNorm)));
  } finally {
    store.close();
  }
  const point = result.summary!.points[0]!;
  assert.equal(point.samples, 64);
  assert.ok(Number.isFinite(point.baseLoss));
  assert.equal(point.critical.comparisons.length, 1);
});
