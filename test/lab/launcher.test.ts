/**
 * The local launcher and the run queue: runs at most N at once, stop starting runs when told, and give
 * a command's runs one GPU each (CUDA_VISIBLE_DEVICES, GPU memory read on that GPU only, through a fake
 * nvidia-smi that honours -i).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseGpuList, splitWords } from '../../src/core/parse-launch.js';
import { TrialRunner } from '../../src/engine/external/runner.js';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import { localLauncher, runEach, Slots, threadsPerRun } from '../../src/lab/launch/index.js';
import { runSweep } from '../../src/lab/sweep/sweep.js';
import { FAKE_CMD } from '../external/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'batchlab-launcher-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('runEach keeps at most `limit` calls going, in order, and starts none after the signal', async () => {
  let going = 0;
  let most = 0;
  const started: number[] = [];
  const controller = new AbortController();
  const all = await runEach([1, 2, 3, 4, 5, 6], { limit: 2, signal: controller.signal }, async (x) => {
    started.push(x);
    most = Math.max(most, ++going);
    if (x === 3) controller.abort();
    await sleep(20);
    going--;
  });
  assert.equal(most, 2);
  assert.equal(all, false);
  assert.deepEqual(started, [1, 2, 3], 'none starts after the signal');
  assert.equal(await runEach([], { limit: 3 }, async () => undefined), true);
});

test('slots hand out names one at a time; threads split the cores', async () => {
  const slots = new Slots(['2', '3']);
  const [a, b] = [await slots.take(), await slots.take()];
  let third: string | undefined;
  const waiting = slots.take().then((s) => {
    third = s;
  });
  await sleep(10);
  assert.equal(third, undefined, 'no slot free');
  slots.give(a);
  await waiting;
  assert.deepEqual([a, b, third], ['2', '3', '2']);
  assert.deepEqual([threadsPerRun(16, 4), threadsPerRun(2, 2), threadsPerRun(2, 4)], [4, 1, 1]);
});

test('the launch options parse: GPU lists and sbatch option words', () => {
  assert.deepEqual(parseGpuList('0, 1,2'), ['0', '1', '2']);
  assert.deepEqual(parseGpuList('GPU-6f2c1a3e-aaaa-bbbb'), ['GPU-6f2c1a3e-aaaa-bbbb']);
  assert.throws(() => parseGpuList('0,x'), /"x" is not one/);
  assert.throws(() => parseGpuList('1,1'), /twice/);
  assert.deepEqual(splitWords(`--partition=gpu  --gres=gpu:1 --comment="a b" --x='c "d"' e\\ f`), [
    '--partition=gpu',
    '--gres=gpu:1',
    '--comment=a b',
    '--x=c "d"',
    'e f',
  ]);
  assert.deepEqual(splitWords('  '), []);
  assert.throws(() => splitWords('--comment="open'), /unclosed/);
});

/**
 * A fake nvidia-smi: every process in the registry holds 100 MiB on GPU 0 (a CUDA context on the
 * default device) and 300 MiB on the GPU it was given; `-i N` lists GPU N only, as nvidia-smi does.
 */
function fakeNvidiaSmi(registry: string): string {
  const bin = join(dir, 'bin');
  const script = join(bin, 'nvidia-smi');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    script,
    `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
const only = args.includes('-i') ? args[args.indexOf('-i') + 1] : undefined;
const lines = fs.existsSync(${JSON.stringify(registry)}) ? fs.readFileSync(${JSON.stringify(registry)}, 'utf8').trim().split('\\n') : [];
for (const line of lines) {
  const [pid, gpu] = line.split(' ');
  if (only === undefined || only === '0') console.log(pid + ', 100');
  if (only === undefined || only === gpu) console.log(pid + ', 300');
}
`,
  );
  chmodSync(script, 0o755);
  return bin;
}
test('a trial given one GPU has its GPU memory read on that GPU only', async () => {
  const registry = join(dir, 'gpus-trial');
  const bin = fakeNvidiaSmi(registry);
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}${delimiter}${savedPath}`;
  const runner = new TrialRunner();
  try {
    const cmd = `echo "$$ $CUDA_VISIBLE_DEVICES" >> ${registry}; FAKE_HOLD_MS=400 FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD}`;
    const values = { batch: 8, maxSteps: 3 };
    const own = await runner.runTrial({ cmd, values, env: { CUDA_VISIBLE_DEVICES: '3' }, gpu: '3', gpuPollMs: 100 });
    const every = await runner.runTrial({ cmd, values, env: { CUDA_VISIBLE_DEVICES: '3' }, gpuPollMs: 100 });
    assert.equal(own.outcome, 'ok', own.reason);
    assert.equal(own.peakGpuBytes, 300 * 2 ** 20, 'its own GPU only');
    assert.equal(every.peakGpuBytes, 400 * 2 ** 20, 'without a GPU given: summed over every GPU');
  } finally {
    await runner.dispose();
    process.env.PATH = savedPath;
  }
});

test('--gpus: one run per GPU at a time, CUDA_VISIBLE_DEVICES set per run, timing marked as shared', async () => {
  const log = join(dir, 'gpu-log');
  const template = `echo "start $CUDA_VISIBLE_DEVICES $(date +%s%N)" >> ${log}; FAKE_HOLD_MS=150 FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD} --max-steps {max_steps} && echo "end $CUDA_VISIBLE_DEVICES $(date +%s%N)" >> ${log}`;
  const launcher = localLauncher({ gpus: ['2', '3'] });
  try {
    const result = await runSweep({
      dbPath: join(dir, 'gpus.db'),
      launcher,
      settings: {
        base: trainConfig({ dataset: 'external', model: { name: 'mlp' } }),
        batchSizes: [8, 16, 32, 64],
        seeds: [1],
        lrRule: 'fixed',
        baseLr: 0.1,
        baseBatch: 8,
        budget: { kind: 'steps', value: 3 },
        trainCount: Number.MAX_SAFE_INTEGER,
        command: { template },
      },
    });
    assert.deepEqual(
      result.runs.map((r) => r.status),
      ['done', 'done', 'done', 'done'],
    );
    for (const r of result.runs) assert.deepEqual(r.summary?.timing, { runsAtOnce: 2, stepTimeFrom: 'run' });
  } finally {
    await launcher.close();
  }
  const events = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([kind, gpu, ns]) => ({ kind, gpu, t: BigInt(ns!) }))
    .sort((a, b) => (a.t < b.t ? -1 : 1));
  assert.equal(events.length, 8);
  assert.ok(
    events.every((e) => e.gpu === '2' || e.gpu === '3'),
    'each run saw exactly its one GPU',
  );
  const busy = new Map<string, boolean>();
  let going = 0;
  let most = 0;
  for (const e of events) {
    if (e.kind === 'start') {
      assert.ok(!busy.get(e.gpu!), `GPU ${e.gpu} given to two runs at once`);
      busy.set(e.gpu!, true);
      most = Math.max(most, ++going);
    } else {
      busy.set(e.gpu!, false);
      going--;
    }
  }
  assert.equal(most, 2, 'both GPUs were used at once');
});
