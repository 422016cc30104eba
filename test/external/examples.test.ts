// The example trainers in examples/ run end to end under the runner and report the protocol fields.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrialRunner, type TrialResult } from '../../src/engine/external/runner.js';
import { REPO_ROOT } from './helpers.js';
import { TEST_PYTHON, torchMissing } from '../e2e/harness.js';
import { idxBytes } from '../data/helpers.js';

const PYTHON = TEST_PYTHON;
const runner = new TrialRunner({ killGraceMs: 1_000 });
after(() => runner.dispose());

/** Checks what every example must report: each step with the protocol fields, the eval metrics at the end. */
function checkProtocolRun(r: TrialResult, steps: number, accum: number): void {
  assert.equal(r.outcome, 'ok', `${r.reason}\n${r.stderrTail.join('\n')}`);
  assert.equal(r.malformedLines, 0);
  assert.deepEqual(
    r.steps.map((s) => s.step),
    Array.from({ length: steps }, (_, i) => i + 1),
  );
  for (const s of r.steps) {
    assert.equal(s.accumSteps, accum);
    assert.ok(
      Number.isFinite(s.loss) &&
        Number.isFinite(s.gradSqNorm) &&
        Number.isFinite(s.microGradSqNorm) &&
        (s.stepMs ?? 0) > 0,
      JSON.stringify(s),
    );
    // With accumulation the mean of the micro-batch |g_b|^2 exceeds |mean g_b|^2 (Jensen), the noise the GNS reads.
    if (accum > 1) assert.ok((s.microGradSqNorm as number) > (s.gradSqNorm as number), JSON.stringify(s));
  }
  assert.ok((r.evals.eval_accuracy ?? 0) > 0.3, JSON.stringify(r.evals));
  assert.ok(r.evals.train_accuracy !== undefined && r.evals.eval_loss !== undefined);
  assert.ok((r.reportedPeakBytes ?? 0) > 0 && r.peakRssBytes > 0);
  assert.ok((r.rate?.stepsPerSec ?? 0) > 0);
}

test('examples/pytorch/train.py runs end to end and speaks the protocol', async (t) => {
  const missing = torchMissing();
  if (missing !== undefined) return t.skip(missing);
  const r = await runner.runTrial({
    cmd: `${PYTHON} examples/pytorch/train.py --batch-size {batch} --micro-batch {micro_batch} --lr {lr} --max-steps {max_steps} --seed {seed} --device cpu`,
    values: { batch: 64, microBatch: 16, lr: 0.2, maxSteps: 20, seed: 1 },
    cwd: REPO_ROOT,
    timeoutMs: 120_000,
  });
  checkProtocolRun(r, 20, 4);
  t.diagnostic(
    `pytorch: ${r.rate?.stepsPerSec.toFixed(1)} steps/s (${r.rate?.source}), peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  );
});

test('examples/pytorch/train.py trains a batch larger than its training set on that many samples, and says so', async (t) => {
  const missing = torchMissing();
  if (missing !== undefined) return t.skip(missing);
  // A 40-sample MNIST look-alike: a batch of 100 needs ceil(100 / 40) = 3 permutations per step.
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-tiny-idx-'));
  try {
    for (const [prefix, n] of [
      ['train', 40],
      ['t10k', 10],
    ] as const) {
      writeFileSync(
        join(dir, `${prefix}-images-idx3-ubyte`),
        idxBytes(
          0x08,
          [n, 28, 28],
          Array.from({ length: n * 784 }, (_, i) => (i * 37) % 256),
        ),
      );
      writeFileSync(
        join(dir, `${prefix}-labels-idx1-ubyte`),
        idxBytes(
          0x08,
          [n],
          Array.from({ length: n }, (_, i) => i % 10),
        ),
      );
    }
    const r = await runner.runTrial({
      cmd: `${PYTHON} examples/pytorch/train.py --batch-size {batch} --max-steps {max_steps} --device cpu --data-dir '${dir}' --eval-train-limit 40`,
      values: { batch: 100, maxSteps: 3 },
      cwd: REPO_ROOT,
      timeoutMs: 120_000,
    });
    assert.equal(r.outcome, 'ok', `${r.reason}\n${r.stderrTail.join('\n')}`);
    assert.deepEqual(
      r.steps.map((s) => [s.step, s.batchSize, s.samples]),
      [
        [1, 100, 100],
        [2, 100, 200],
        [3, 100, 300],
      ],
    );
    assert.ok(
      r.stderrTail.some((l) => /batch 100 > 40 training samples/.test(l)),
      r.stderrTail.join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('examples/tfjs/train.mjs runs end to end and speaks the protocol (values from BATCHLAB_* only)', async (t) => {
  const r = await runner.runTrial({
    cmd: `'${process.execPath}' examples/tfjs/train.mjs`,
    values: { batch: 32, microBatch: 16, lr: 0.2, maxSteps: 12, seed: 1 },
    cwd: REPO_ROOT,
    timeoutMs: 120_000,
  });
  checkProtocolRun(r, 12, 2);
  t.diagnostic(`tfjs: ${r.rate?.stepsPerSec.toFixed(1)} steps/s (${r.rate?.source})`);
});
