/**
 * find-max under a per-process cap that binds before the budget, modelled on what an H200 measured
 * (bench/gpu/h200-2026-11-29): ResNet-18 at 96x96 under a 24 GiB cap on its caching allocator, the
 * budget the whole card. The allocated peak is a line (0.18 GB + 4.13 MB a sample, as the warm sweep
 * measured at B = 256..4,096); the reserved peak runs ~1.9x ahead of it and crowds up under the cap
 * (23.9 GiB reserved at B = 3,143); the device peak is the reserved one plus a 0.6 GiB CUDA context.
 * A step fails when its allocated peak plus 1% fragmentation passes the cap, with PyTorch's figures.
 * Through the device peaks the search stalled or overshot on the H200 (5,074 warm, 18% below; 14
 * probes fresh); through the allocated ones it must land within 3% below the truth, never above, in
 * few probes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FindMaxSettings, KnownLimits } from '../../src/core/find-max.js';
import type { ProbeMeasurement } from '../../src/engine/trainer.js';
import { findMax } from '../../src/lab/find-max/find-max.js';
import type { Prober } from '../../src/lab/find-max/probers.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-find-max-cap-'));
let dbCount = 0;
const newDb = (): string => join(TMP, `cap-${++dbCount}.db`);

const GiB = 2 ** 30;
const CARD_BYTES = 139.8 * GiB;
const CAP_BYTES = 24 * GiB;
const CONTEXT_BYTES = 0.6 * GiB;
const FRAGMENTATION = 0.01;

const allocated = (batch: number): number => 0.18e9 + 4.13e6 * batch;
const reserved = (batch: number): number => Math.min(CAP_BYTES, 1.9 * allocated(batch));
/** The largest batch whose step fits the cap: allocated x (1 + fragmentation) <= cap (brute force). */
function trueMax(): number {
  let b = 1;
  while (allocated(b + 1) * (1 + FRAGMENTATION) <= CAP_BYTES) b++;
  return b;
}

/** One probe as a fresh trial (or a warm probe) of resnet18.py would state it. */
function probe(batch: number, o: { statesAllocated: boolean }): ProbeMeasurement {
  const stated = {
    limitBytes: CAP_BYTES,
    peakReservedBytes: reserved(batch),
    ...(o.statesAllocated ? { peakAllocatedBytes: allocated(batch) } : {}),
  };
  if (allocated(batch) * (1 + FRAGMENTATION) <= CAP_BYTES)
    return { kind: 'ok', peakBytes: CONTEXT_BYTES + reserved(batch), ms: 1, stepMs: [5, 5, 5], statedMemory: stated };
  const held = 0.97 * CAP_BYTES;
  return {
    kind: 'oom',
    ms: 1,
    message: 'torch.OutOfMemoryError: CUDA out of memory (simulated)',
    oom: {
      source: 'pytorch-caching-allocator',
      triedBytes: 0.05 * allocated(batch),
      totalBytes: CARD_BYTES,
      freeBytes: CARD_BYTES - CONTEXT_BYTES - CAP_BYTES,
      processBytes: CONTEXT_BYTES + 0.99 * CAP_BYTES,
      limitBytes: CAP_BYTES,
      allocatedBytes: held,
      reservedBytes: 0.99 * CAP_BYTES,
    },
  };
}

function capProber(calls: number[], o: { statesAllocated: boolean; known?: KnownLimits }): Prober {
  return {
    measure: 'simulated GPU memory under a cap',
    limit: { peak: 'device', resolutionBytes: 2 * 2 ** 20 },
    ...(o.known ? { prepare: async () => o.known as KnownLimits } : {}),
    async run(batch) {
      calls.push(batch);
      return probe(batch, o);
    },
  };
}

function settings(): FindMaxSettings {
  return {
    budgetBytes: CARD_BYTES,
    budgetOn: 'gpu',
    marginFloor: 0.1,
    cap: 65_536,
    probeSteps: 3,
    verifySteps: 20,
    maxTrials: 24,
    tolerance: 0.03,
    analyticBatches: [1, 2, 4, 8],
    subject: { mode: 'command', command: 'python3 resnet18.py' },
  };
}

for (const mode of ['fresh', 'warm'] as const) {
  test(`a binding cap (${mode}): the line runs through the allocated peaks; within 3% below the truth, never above, in at most 8 probes`, async (t) => {
    const calls: number[] = [];
    // A warm process's ready line states the cap and the free memory before the first probe.
    const known = mode === 'warm' ? { limitBytes: CAP_BYTES + CONTEXT_BYTES, freeBytes: CARD_BYTES - GiB } : undefined;
    const report = await findMax({
      dbPath: newDb(),
      settings: settings(),
      prober: capProber(calls, { statesAllocated: true, known }),
    });
    const truth = trueMax();
    const why = `answer ${report.answer.batch}, truth ${truth}, probes ${calls.join(',')}`;
    assert.equal(report.search.strategy, 'limit');
    assert.match(report.prediction.note, /binds first: the line runs through the allocated peaks/);
    assert.ok(report.answer.batch <= truth, `never above: ${why}`);
    assert.ok(report.answer.batch >= 0.97 * truth, `within 3%: ${why}`);
    assert.ok(calls.length <= 8, `at most 8 probes: ${why}`);
    t.diagnostic(why);
  });
}

test('a cap stated without the allocated peaks keeps the search on the budget measure, and stays safe', async (t) => {
  const calls: number[] = [];
  const report = await findMax({
    dbPath: newDb(),
    settings: settings(),
    prober: capProber(calls, { statesAllocated: false }),
  });
  const why = `answer ${report.answer.batch}, truth ${trueMax()}, probes ${calls.join(',')}`;
  assert.doesNotMatch(report.prediction.note, /allocated peaks/);
  assert.ok(report.answer.batch <= trueMax(), `never above: ${why}`);
  t.diagnostic(why);
});
