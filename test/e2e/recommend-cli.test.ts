/**
 * `batchlab recommend` and `batchlab noise` end to end, in process (the commands are called as main.ts
 * will call them, with its one-line error printing), on small synthetic data: real child-process probes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noiseCommand } from '../../src/cli/commands/noise.js';
import { recommendCommand } from '../../src/cli/commands/recommend.js';
import { isKnownError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';

type Command = typeof recommendCommand;

/** Runs a command like main.ts: known errors print `error [CODE]: message` on one line. */
async function runCommand(command: Command, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), errStream: process.stderr };
  try {
    return { code: await command(argv, io), out: out.join('\n'), err: err.join('\n') };
  } catch (e) {
    if (!isKnownError(e)) throw e;
    err.push(`error [${e.code}]: ${e.message}`);
    return { code: e.exitCode, out: out.join('\n'), err: err.join('\n') };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'batchlab-recommend-'));
const db = join(dir, 'r.db');
test.after(() => rmSync(dir, { recursive: true, force: true }));
const SPIRAL = ['--dataset', 'spiral', '--model', 'mlp', '--hidden', '32', '--backend', 'cpu', '--db', db];

test('recommend --json on spiral: the schema, the probe within 5%, stored as a recommend experiment', async () => {
  const r = await runCommand(recommendCommand, [
    ...SPIRAL,
    '--base-batch',
    '32',
    '--base-lr',
    '0.1',
    '--memory-budget',
    '64MiB',
    '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.schema, 'batchlab.recommend/1');
  assert.ok(j.probeCost.shareOfSweep <= 0.05, `probe took ${j.probeCost.shareOfSweep} of the sweep`);
  assert.equal(j.probeCost.sweepSamples, 7 * 4096);
  assert.equal(j.noise.windows.length, 2);
  assert.ok(j.noise.windows[1].toStep > j.noise.windows[0].toStep);
  assert.ok(Number.isInteger(j.recommendation.batch) && j.recommendation.batch >= 1 && j.recommendation.batch <= 4096);
  assert.equal(j.recommendation.batch, j.recommendation.microBatchSize * j.recommendation.accumSteps);
  assert.deepEqual(
    j.recommendation.reasons.map((x: { effect: string }) => x.effect),
    ['memory', 'speed', 'stability', 'generalization'],
  );
  const store = openStore(db, { readonly: true });
  try {
    const e = store.getExperiment(j.experimentId);
    assert.equal(e.kind, 'recommend');
    assert.equal(e.status, 'done');
    assert.deepEqual((e.summary as { recommendation: unknown }).recommendation, j.recommendation);
    assert.equal(store.runsOf(e.id).length, j.probeCost.runs);
  } finally {
    store.close();
  }
});

test('contradictory options: --objective memory without a budget is one line, before any probe', async () => {
  const r = await runCommand(recommendCommand, [...SPIRAL, '--objective', 'memory']);
  assert.equal(r.code, 2);
  assert.match(r.err, /^error \[BATCHLAB_BAD_ARGUMENT\]: --objective memory .*pass --memory-budget 4GiB$/);
  assert.equal(r.err.split('\n').length, 1);
});

test('a dataset too small for a noise scale says how many samples are needed', async () => {
  const r = await runCommand(recommendCommand, ['--dataset', 'iris', '--model', 'linear', '--db', db]);
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /training set of 120 samples is too small to measure a gradient noise scale.*at least [\d,]+ training samples/,
  );
});

test('a probe that diverges says so and suggests a smaller base LR', async () => {
  // Linear regression with SGD at LR 100: the weights grow by ~100x a step and the loss overflows.
  const r = await runCommand(recommendCommand, [
    '--dataset',
    'linreg',
    '--model',
    'linear',
    '--backend',
    'cpu',
    '--db',
    db,
    '--optimizer',
    'sgd',
    '--base-lr',
    '100',
  ]);
  assert.equal(r.code, 3, r.err);
  assert.match(
    r.err.split('\n').at(-1)!,
    /^error \[BATCHLAB_DIVERGED\]: the probe:noise:b=\d+ probe diverged at batch \d+ with LR [\d.e+]+ .*lower --base-lr \(e\.g\. --base-lr 10\) and run again$/,
  );
});

test('noise --at-step: B_simple with a CI, said when it was measured', async () => {
  const r = await runCommand(noiseCommand, [
    ...SPIRAL,
    '--batch-size',
    '32',
    '--lr',
    '0.1',
    '--at-step',
    '30',
    '--window',
    '60',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /B_simple (~ [\d.,]+ \(95% CI [\d.,]+-([\d.,]+|unbounded)\)|not measurable) over steps 31-90 \(after 30 steps\) at B = 32/,
  );
  const bad = await runCommand(noiseCommand, [...SPIRAL, '--batch-size', '33']);
  assert.match(bad.err, /must be even and >= 2, got 33/);
});

test('recommend --target: B_simple along a run to the target, read at its training loss, and the cost as a share of the study', async () => {
  // 2,000 MNIST digits, an MLP of 32, B = 16: 85% held-out accuracy after about 140 steps, then 40 more.
  const r = await runCommand(recommendCommand, [
    ...['--dataset', 'mnist', '--limit', '2000', '--model', 'mlp', '--hidden', '32', '--db', db],
    ...['--base-batch', '16', '--base-lr', '0.05', '--target', 'acc:0.85', '--max-epochs', '3'],
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /noise scale along training: B = 16 to accuracy 0\.85 and 20% past it/);
  assert.match(
    r.out,
    /B_simple along training at B = 16, LR 0\.05; the target was reached at step [\d,]+ \([\d,]+ samples\) at training loss [\d.]+:/,
  );
  assert.match(
    r.out,
    /predicted critical batch: B_simple [\d,.]+ \([\d,.]+\.\.[\d,.]+\) at loss [\d.]+, (measured near the target|extrapolated from loss)/,
  );
  const share =
    /probe cost: ([\d,]+) samples, .* = ([\d.]+)% of the study it replaces \(at least ([\d,]+) samples: one run to the target at each of B = 16, 32, 64, 128, 256, 512, 1024/.exec(
      r.out,
    );
  assert.ok(share, r.out);
  const [samples, pct, study] = [share[1]!, share[2]!, share[3]!].map((x) => Number(x.replace(/,/g, '')));
  assert.ok(Math.abs(pct - (100 * samples!) / study!) < 0.1, `${pct}% of ${study} for ${samples} samples`);
  const store = openStore(db, { readonly: true });
  try {
    const e = store.latestExperiment('recommend')!;
    const s = e.summary as Record<string, any>;
    assert.deepEqual(s.target, { metric: 'accuracy', value: 0.85 });
    assert.ok(s.noiseAtTarget.reached.step > 0 && s.noiseAtTarget.segments.length >= 2);
    assert.ok(['measured', 'extrapolated'].includes(s.noiseAtTarget.prediction.basis));
    assert.equal(s.recommendation.criticalBatch.value, s.noiseAtTarget.prediction.bSimple);
    assert.ok(Math.abs(s.probeCost.study.share - s.probeCost.samples / s.probeCost.study.studySamples) < 1e-12);
    const run = store.runsOf(e.id).find((x) => x.key === 'probe:noise-to-target:b=16')!;
    const steps = store.stepsOf(run.id);
    const at = s.noiseAtTarget.reached.step;
    assert.equal(
      steps.at(-1)!.step,
      Math.max(Math.ceil(1.2 * at), at + 40),
      'trained 20% (at least 40 steps) past the target',
    );
    assert.ok(s.noiseAtTarget.nearSegments.length >= 2 && s.noiseAtTarget.nearSegments[0].fromStep >= at / 2);
    assert.ok(
      steps.every((x) => x.accumSteps === 2),
      'every step split in two halves',
    );
  } finally {
    store.close();
  }
});

test('recommend --validate needs a target', async () => {
  const r = await runCommand(recommendCommand, [...SPIRAL, '--validate']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--validate only applies with --target .*; add --target acc:0\.97/);
});
