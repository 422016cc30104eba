/**
 * Warm worker processes (src/lab/run/pool.ts): a run in a warm process trains exactly as in a fresh one,
 * each run's VmHWM is its own, a process that died is replaced, and the pool never runs more at once
 * than its size.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { trainConfig, type TrainConfig } from '../../src/engine/tfjs/trainer.js';
import { runInWorker } from '../../src/lab/run/child.js';
import type { RunOutcome } from '../../src/lab/run/outcome.js';
import { WorkerPool } from '../../src/lab/run/pool.js';

const pools: WorkerPool[] = [];
after(async () => {
  for (const p of pools) await p.close();
});
function pool(size: number): WorkerPool {
  const p = new WorkerPool({ size });
  pools.push(p);
  return p;
}

const spiral = (o: Partial<TrainConfig> = {}) =>
  trainConfig({
    dataset: 'spiral',
    datasetOptions: { trainCount: 512 },
    model: { name: 'mlp', hidden: [8] },
    batchSize: 32,
    budget: { maxSteps: 20 },
    evalEvery: 5,
    sharpness: { batchSamples: 64, iterations: 5 },
    ...o,
  });

const losses = (o: RunOutcome) => [
  o.summary!.final.test.loss,
  o.summary!.final.train.loss,
  o.summary!.sharpness!.topEigenvalue,
];

test('runs in one warm process train exactly as each in a fresh process, and only the first pays the start', async () => {
  const p = pool(1);
  const configs = [spiral({ seed: 1 }), spiral({ seed: 2, batchSize: 64 }), spiral({ seed: 1 })];
  const warm: RunOutcome[] = [];
  for (const config of configs) warm.push(await p.run({ config }));
  assert.equal(p.pids.length, 1, 'one process ran them all');
  const fresh = await runInWorker({ config: configs[1]! });
  assert.deepEqual(
    warm.map((o) => o.status),
    ['done', 'done', 'done'],
  );
  assert.deepEqual(losses(warm[1]!), losses(fresh), 'a warm process changes nothing in what a run computes');
  assert.deepEqual(losses(warm[2]!), losses(warm[0]!), 'the same config again gives the same run');
  assert.ok(warm[0]!.summary!.phasesMs!.processStart! > 0, 'the first run waited for the process to start');
  assert.equal(warm[1]!.summary!.phasesMs!.processStart, undefined);
  assert.ok(
    warm[1]!.summary!.phasesMs!.data! < warm[0]!.summary!.phasesMs!.data! + warm[0]!.summary!.phasesMs!.processStart!,
  );
});

test("each run's VmHWM is its own: a small run after a big one does not inherit its peak", async () => {
  const p = pool(1);
  const big = await p.run({
    config: spiral({
      datasetOptions: { trainCount: 8192 },
      model: { name: 'mlp', hidden: [2048, 2048] },
      batchSize: 4096,
      budget: { maxSteps: 2 },
      sharpness: undefined,
    }),
  });
  const small = await p.run({ config: spiral({ sharpness: undefined }) });
  assert.equal(big.status, 'done', big.reason);
  const [bigHwm, smallHwm] = [big.summary!.vmHwmBytes!, small.summary!.vmHwmBytes!];
  assert.ok(bigHwm - smallHwm > 100e6, `VmHWM ${(bigHwm / 1e6).toFixed(0)} MB then ${(smallHwm / 1e6).toFixed(0)} MB`);
});

test('a process killed mid-run ends that run only; the next run gets a fresh process', async () => {
  const p = pool(1);
  let killed = false;
  const first = await p.run(
    { config: spiral({ budget: { maxSteps: 1_000_000 }, evalEvery: 0, sharpness: undefined }) },
    {
      onStep: () => {
        if (killed) return;
        killed = true;
        process.kill(p.pids[0]!, 'SIGKILL');
      },
    },
  );
  assert.equal(first.status, 'oom', 'a SIGKILL we did not send reads as the kernel OOM killer');
  const second = await p.run({ config: spiral() });
  assert.equal(second.status, 'done');
  assert.ok(second.summary!.phasesMs!.processStart! > 0, 'a new process');
});

test('the pool runs at most `size` runs at once and queues the rest', async () => {
  const p = pool(2);
  let going = 0;
  let most = 0;
  const hooks = {
    onStart: () => {
      most = Math.max(most, ++going);
    },
  };
  const outcomes = await Promise.all(
    [1, 2, 3, 4].map((seed) =>
      p.run({ config: spiral({ seed, sharpness: undefined }) }, hooks).then((o) => {
        going--;
        return o;
      }),
    ),
  );
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['done', 'done', 'done', 'done'],
  );
  assert.equal(most, 2);
  assert.equal(p.pids.length, 2);
});
