/**
 * A sweep of a user's command (the fake trainer) runs every run through executeRun: the progress hooks
 * see each run's real end (done, oom, timeout), and the store keeps it, as for TF.js runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import type { RunOutcome } from '../../src/lab/run/outcome.js';
import { runSweep } from '../../src/lab/sweep/sweep.js';
import { FAKE_CMD } from '../external/helpers.js';

test('a --cmd sweep: the hooks and the store see each run as it really ended', async () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'batchlab-sweep-')), 'sweep.db');
  // B = 16 trains; B = 64 dies with a CUDA out-of-memory; B = 128 hangs and is killed at the time limit.
  const template = `[ {batch} -gt 64 ] && export FAKE_MODE=hang; FAKE_OOM_ABOVE=32 FAKE_HOLD_MS=0 FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD} --max-steps {max_steps}`;
  const ends: [number, RunOutcome][] = [];
  const result = await runSweep(
    {
      dbPath,
      settings: {
        base: trainConfig({ dataset: 'external', model: { name: 'mlp' } }),
        batchSizes: [16, 64, 128],
        seeds: [1],
        lrRule: 'fixed',
        baseLr: 0.1,
        baseBatch: 16,
        budget: { kind: 'steps', value: 3 },
        trainCount: Number.MAX_SAFE_INTEGER,
        command: { template, timeoutMs: 2_000 },
      },
    },
    { onRunEnd: ({ run, outcome }) => ends.push([run.batchSize, outcome]) },
  );
  assert.deepEqual(
    ends.map(([b, o]) => [b, o.status]),
    [
      [16, 'done'],
      [64, 'oom'],
      [128, 'timeout'],
    ],
  );
  const [, oom] = ends[1]!;
  assert.equal(oom.code, 'BATCHLAB_OOM');
  assert.match(oom.reason, /out of memory \(PyTorch CUDA caching allocator\): torch\.OutOfMemoryError/);
  assert.match(ends[2]![1].reason, /timed out after 2000 ms/);
  assert.deepEqual(
    result.runs.map((r) => [r.batchSize, r.status]),
    [
      [16, 'done'],
      [64, 'oom'],
      [128, 'timeout'],
    ],
  );
  const done = ends[0]![1].summary!;
  assert.deepEqual([done.steps, done.samples, done.backend], [3, 48, 'external command']);
  assert.equal(result.status, 'done');
});
