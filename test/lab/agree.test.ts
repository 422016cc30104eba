/**
 * find-max and recommend on the same model agree on the largest batch: both probe through the same
 * executeRun with the same probe config, and both hold back the one margin (core/margin.ts). The model
 * here is a stand-in for executeRun whose memory is an exact line, so the largest batch under the
 * budget is known: floor((budget x (1 - 0.1) - a) / b).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ANALYTIC_BATCHES,
  DEFAULT_PROBE_STEPS,
  DEFAULT_TOLERANCE,
  DEFAULT_VERIFY_STEPS,
} from '../../src/core/find-max.js';
import { DEFAULT_MARGIN_FLOOR } from '../../src/core/margin.js';
import type { RunSummary } from '../../src/core/summary.js';
import type { StepRecord } from '../../src/core/types.js';
import { type TrainConfig, trainConfig } from '../../src/engine/tfjs/trainer.js';
import { findMax } from '../../src/lab/find-max/find-max.js';
import { tfjsProber } from '../../src/lab/find-max/probers.js';
import { runRecommend } from '../../src/lab/recommend/recommend.js';
import type { ExecuteOptions, RunSpec } from '../../src/lab/run/execute.js';
import type { RunOutcome } from '../../src/lab/run/outcome.js';
import { MEASURE_ONLY_LR } from '../../src/lab/run/probe.js';
import { openStore } from '../../src/store/index.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-agree-'));
/** Bytes of the model's fixed part and per sample: peak = a + b B, exactly. */
const FIXED_BYTES = 400_000;
const BYTES_PER_SAMPLE = 2_500;
const BUDGET_BYTES = 8 * 2 ** 20;

/** Steps a probe of `config` would make: a gradient whose noise scale is 100 (|G|^2 = 1, tr(S) = 100), 1 ms + 1 us per sample. */
function fakeSteps(config: TrainConfig): StepRecord[] {
  const B = config.batchSize;
  const halves = (config.noiseEvery ?? 0) > 0;
  return Array.from({ length: config.budget.maxSteps ?? 1 }, (_, i) => ({
    step: i + 1,
    samples: (i + 1) * B,
    loss: 1 / (i + 1),
    lr: config.lr,
    stepMs: 1 + B / 1000,
    batchSize: B,
    microBatchSize: halves ? B / 2 : B,
    accumSteps: halves ? 2 : 1,
    gradSqNorm: 1 + 100 / B,
    microGradSqNorm: 1 + 100 / (halves ? B / 2 : B),
    peakBytes: FIXED_BYTES + BYTES_PER_SAMPLE * B,
  }));
}

/** executeRun's stand-in: records the steps when asked to, and reports the exact peak. */
async function execute(spec: RunSpec, options: ExecuteOptions = {}): Promise<RunOutcome> {
  assert.equal(spec.kind, 'tfjs');
  const config = (spec as Extract<RunSpec, { kind: 'tfjs' }>).config;
  const steps = fakeSteps(config);
  if (options.record) {
    const store = openStore(options.record.dbPath);
    try {
      store.appendSteps(options.record.runId, steps);
      store.finishRun(options.record.runId, { status: 'done' });
    } finally {
      store.close();
    }
  }
  const summary = {
    batchSize: config.batchSize,
    peakBytes: steps[0]!.peakBytes,
    samples: steps.at(-1)!.samples,
  } as unknown as RunSummary;
  return { status: 'done', summary, reason: '', wallMs: 1 };
}

const BASE: TrainConfig = trainConfig({
  dataset: 'gauss',
  model: { name: 'mlp', hidden: [32] },
  budget: {},
  optimizer: { name: 'sgd' },
  evalTrainLimit: 256,
});

test('find-max and recommend agree on the largest batch for the same model and budget', async () => {
  const truth = Math.floor((BUDGET_BYTES * (1 - DEFAULT_MARGIN_FLOOR) - FIXED_BYTES) / BYTES_PER_SAMPLE);
  const dbPath = join(TMP, 'agree.db');
  const fm = await findMax({
    dbPath,
    settings: {
      budgetBytes: BUDGET_BYTES,
      budgetOn: 'tensor',
      marginFloor: DEFAULT_MARGIN_FLOOR,
      cap: 4096, // the training set of gauss, as the CLI caps it
      probeSteps: DEFAULT_PROBE_STEPS,
      verifySteps: DEFAULT_VERIFY_STEPS,
      maxTrials: 24,
      tolerance: DEFAULT_TOLERANCE,
      analyticBatches: ANALYTIC_BATCHES,
      subject: { mode: 'test' },
    },
    prober: tfjsProber({ base: { ...BASE, lr: MEASURE_ONLY_LR }, measure: 'tensor', execute }),
  });
  const rec = await runRecommend(
    {
      base: BASE,
      optimizer: 'sgd',
      objective: 'memory',
      baseLr: 0.05,
      baseBatch: 64,
      memoryBudgetBytes: BUDGET_BYTES,
      share: 1,
      dbPath,
    },
    { execute },
  );
  const why = `truth ${truth}, find-max predicted ${fm.prediction.batch} and answered ${fm.answer.batch}, recommend ${rec.memory.maxBatch}`;
  assert.equal(rec.memory.maxBatch, truth, why);
  assert.equal(fm.prediction.batch, rec.memory.maxBatch, `the same line and margin give the same ceiling: ${why}`);
  assert.equal(fm.margin.margin, DEFAULT_MARGIN_FLOOR);
  assert.ok(fm.answer.batch <= truth && fm.answer.batch >= truth / (1 + DEFAULT_TOLERANCE), why);
  assert.equal(rec.recommendation.batch <= rec.memory.maxBatch, true, 'the recommendation fits the ceiling');
});
