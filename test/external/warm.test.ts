/**
 * Warm probes end to end: examples/pytorch/warm_probe.py around a fake CPU trainer (fixtures/warm_fake.py)
 * under Debian's /usr/bin/python3 with python3-torch, driven by WarmProber. Each process start costs a
 * torch import (1-2 s), so the tests share as few as they can.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  answerResult,
  isLeak,
  LEAK_MIN_BYTES,
  parseWarmLine,
  WarmProber,
  type WarmProberOptions,
} from '../../src/engine/external/warm.js';
import { TrialRunner } from '../../src/engine/external/runner.js';
import { TEST_PYTHON, torchMissing } from '../e2e/harness.js';
import { REPO_ROOT, survivors } from './helpers.js';

const PYTHON = TEST_PYTHON;
/** Why the torch tests cannot run here (they skip, never pass, without torch). */
const NO_TORCH = torchMissing();
const FAKE = fileURLToPath(new URL('./fixtures/warm_fake.py', import.meta.url));
const WRONG = fileURLToPath(new URL('./fixtures/warm_wrong_answer.sh', import.meta.url));
const MiB = 2 ** 20;
const probers: WarmProber[] = [];
after(() => Promise.all(probers.map((p) => p.dispose())));

/** A prober over the fake trainer with its knobs. */
function fake(env: Record<string, string> = {}, o: Partial<WarmProberOptions> = {}): WarmProber {
  const p = new WarmProber({ cmd: `${PYTHON} '${FAKE}'`, env, killGraceMs: 500, gpu: false, ...o });
  probers.push(p);
  return p;
}

test('protocol lines: ready, answers, bad requests; other output is not a protocol line', () => {
  assert.equal(parseWarmLine('fake: starting'), undefined);
  assert.deepEqual(
    parseWarmLine(
      'batchlab-warm: {"ready": true, "protocol": 1, "device": "cuda:0", "measure": "cuda-allocated", "base_bytes": 5, "reserved_bytes": 8, "total_bytes": 100, "free_bytes": 90, "limit_bytes": 50}',
    ),
    {
      kind: 'ready',
      ready: {
        protocol: 1,
        device: 'cuda:0',
        measure: 'cuda-allocated',
        baseBytes: 5,
        reservedBytes: 8,
        totalBytes: 100,
        freeBytes: 90,
        limitBytes: 50,
      },
    },
  );
  assert.deepEqual(parseWarmLine('batchlab-warm: {"error": "bad request"}'), {
    kind: 'bad-request',
    message: 'bad request',
  });
  assert.equal(parseWarmLine('batchlab-warm: {"probe": 4}')?.kind, 'malformed');
  assert.equal(parseWarmLine('batchlab-warm: [1]')?.kind, 'malformed');
  assert.equal(parseWarmLine('batchlab-warm: {oops')?.kind, 'malformed');
  const oom = parseWarmLine(
    'batchlab-warm: {"probe": 4096, "ok": false, "oom": true, "message": "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.81 GiB of which 100.00 GiB is free. Including non-PyTorch memory, this process has 24.57 GiB memory in use. 24.00 GiB allowed; Of the allocated memory 23.00 GiB is allocated by PyTorch, and 1.00 GiB is reserved by PyTorch but unallocated.", "after_bytes": 7}',
  );
  assert.equal(oom?.kind, 'answer');
  const r = answerResult((oom as { fields: Record<string, unknown> }).fields);
  assert.equal(r.outcome, 'oom');
  assert.equal(r.oom?.limitBytes, 24 * 2 ** 30);
  assert.equal(r.afterBytes, 7);
  const err = answerResult({ probe: 4, ok: false, error: true, message: 'ValueError: x', step_ms: [1, 'x', 2] });
  assert.deepEqual([err.outcome, err.stepMs, err.oom], ['error', [1, 2], undefined]);
});

test('a leak: the memory after a probe above its base by more than max(64 MiB, 2% of the largest peak)', () => {
  assert.equal(isLeak(100 + LEAK_MIN_BYTES, 100, 0), false);
  assert.equal(isLeak(101 + LEAK_MIN_BYTES, 100, 0), true);
  assert.equal(isLeak(100 + 2 * LEAK_MIN_BYTES, 100, 200 * LEAK_MIN_BYTES), false, '2% of a large peak');
});

test('one process serves many probes: ready, peaks that grow with the batch, step times, an OOM answered and survived', {
  skip: NO_TORCH,
}, async () => {
  const output: string[] = [];
  const prober = fake({ FAKE_OOM_FROM: '100000', FAKE_ERROR_AT: '7' }, { onOutput: (_s, line) => output.push(line) });
  const ready = await prober.start();
  assert.equal(ready.measure, 'rss');
  assert.ok((ready.baseBytes ?? 0) > 50 * MiB, `base ${ready.baseBytes}`);
  const small = await prober.probe(16, { steps: 2 });
  const large = await prober.probe(96, { steps: 3 });
  for (const r of [small, large]) assert.equal(r.outcome, 'ok', r.message);
  assert.equal(large.stepMs.length, 3);
  // 80 more samples x 1.25 MiB each: the peak rises by about 100 MiB (allocator and RSS noise aside).
  const rise = (large.peakBytes as number) - (small.peakBytes as number);
  assert.ok(rise > 70 * MiB && rise < 130 * MiB, `rise ${rise / MiB} MiB`);
  assert.ok((large.peakRssBytes ?? 0) > 0, 'the tree RSS is sampled too');
  const oom = await prober.probe(100_000, { steps: 3 });
  assert.equal(oom.outcome, 'oom', oom.message);
  assert.equal(oom.oom?.source, 'pytorch-cpu');
  assert.equal(oom.oom?.triedBytes, 2 ** 50);
  assert.equal(oom.restart, undefined, 'an answered OOM keeps the process');
  const bug = await prober.probe(7, { steps: 1 });
  assert.equal(bug.outcome, 'error');
  assert.match(bug.message ?? '', /ValueError: fake bug at batch 7/);
  const again = await prober.probe(16, { steps: 1 });
  assert.equal(again.outcome, 'ok');
  assert.deepEqual(new Set([small.pid, large.pid, oom.pid, bug.pid, again.pid]).size, 1, 'all in one process');
  assert.equal(prober.starts, 1);
  assert.ok(Math.abs((again.afterBytes as number) - (small.afterBytes as number)) < LEAK_MIN_BYTES);
  assert.ok(output.includes('fake: starting'), "the program's own output is passed on, not read as protocol");
});

test('a crash in the middle of a probe is a crash, not an OOM; the next probe runs in a fresh process', {
  skip: NO_TORCH,
}, async () => {
  const prober = fake({ FAKE_CRASH_AT: '32' });
  const before = await prober.probe(8, { steps: 1 });
  const crash = await prober.probe(32, { steps: 3 });
  assert.equal(crash.outcome, 'crash');
  assert.equal(crash.restart, 'crash');
  assert.match(crash.message ?? '', /exited with status 3/);
  assert.match(crash.message ?? '', /crashing in the middle of the probe/);
  assert.deepEqual(await survivors(crash.pid), [], 'its group is gone');
  const next = await prober.probe(8, { steps: 1 });
  assert.equal(next.outcome, 'ok');
  assert.notEqual(next.pid, before.pid);
  assert.equal(prober.starts, 2);
});

test('a leak forces a restart: memory that does not fall back to its base after a probe', {
  skip: NO_TORCH,
}, async () => {
  const prober = fake({ FAKE_LEAK_BYTES: String(100 * MiB) });
  const first = await prober.probe(4, { steps: 2 }); // sets the base (its own 200 MiB included)
  assert.equal(first.restart, undefined);
  const second = await prober.probe(4, { steps: 2 }); // 200 MiB more stay behind
  assert.equal(second.outcome, 'ok');
  assert.equal(second.restart, 'leak');
  assert.ok((second.afterBytes as number) - (first.afterBytes as number) > 150 * MiB);
  assert.deepEqual(await survivors(second.pid), []);
  const third = await prober.probe(4, { steps: 2 });
  assert.notEqual(third.pid, second.pid);
  assert.equal(third.restart, undefined, 'a fresh process sets a fresh base');
});

test('a probe past its time limit is killed and reported as a timeout; restart on request; dispose leaves nothing', {
  skip: NO_TORCH,
}, async () => {
  const prober = fake({ FAKE_HANG_AT: '8' });
  const hung = await prober.probe(8, { steps: 1, timeoutMs: 2_000 });
  assert.equal(hung.outcome, 'timeout');
  assert.equal(hung.restart, 'timeout');
  assert.deepEqual(await survivors(hung.pid), []);
  const ok = await prober.probe(4, { steps: 1 });
  assert.equal(ok.outcome, 'ok');
  await prober.restart();
  assert.deepEqual(await survivors(ok.pid), []);
  const fresh = await prober.probe(4, { steps: 1 });
  assert.notEqual(fresh.pid, ok.pid);
  const listeners = process.listenerCount('SIGINT');
  await prober.dispose();
  assert.deepEqual(await survivors(fresh.pid), []);
  assert.equal(process.listenerCount('SIGINT'), listeners - 1);
});

test('a protocol error (an answer for another batch) ends the process; a command that never gets ready is an error', async () => {
  const wrong = new WarmProber({ cmd: `/bin/sh '${WRONG}'`, killGraceMs: 200, gpu: false });
  probers.push(wrong);
  const r = await wrong.probe(5, { steps: 1 });
  assert.equal(r.outcome, 'error');
  assert.equal(r.restart, 'protocol');
  assert.match(r.message ?? '', /asked for batch 5, got an answer for batch 999/);
  const silent = new WarmProber({ cmd: 'echo nothing here; exit 4', gpu: false });
  probers.push(silent);
  await assert.rejects(silent.start(), /the warm command exited before it was ready/);
  await assert.rejects(silent.probe(0, { steps: 1 }), /warm probe batch must be a positive integer, got 0/);
});

test('without BATCHLAB_WARM the same command is an ordinary trial: steps reported, an OOM left to stderr', {
  skip: NO_TORCH,
}, async () => {
  const runner = new TrialRunner({ killGraceMs: 500 });
  try {
    const ok = await runner.runTrial({ cmd: `${PYTHON} '${FAKE}'`, values: { batch: 8, maxSteps: 2 } });
    assert.equal(ok.outcome, 'ok', ok.reason);
    assert.deepEqual(
      ok.steps.map((s) => [s.step, s.samples]),
      [
        [1, 8],
        [2, 16],
      ],
    );
    assert.ok((ok.reportedPeakBytes ?? 0) > 50 * MiB);
    const oom = await runner.runTrial({
      cmd: `${PYTHON} '${FAKE}'`,
      values: { batch: 64, maxSteps: 2 },
      env: { FAKE_OOM_FROM: '64' },
    });
    assert.equal(oom.outcome, 'oom', oom.reason);
    assert.match(oom.reason, /PyTorch CPU allocator/);
  } finally {
    await runner.dispose();
  }
});

test('examples/pytorch/warm_mnist.py serves warm probes (the MNIST MLP on the CPU)', { skip: NO_TORCH }, async () => {
  const prober = new WarmProber({
    cmd: `${PYTHON} examples/pytorch/warm_mnist.py`,
    cwd: REPO_ROOT,
    env: { BATCHLAB_DEVICE: 'cpu' },
    gpu: false,
  });
  probers.push(prober);
  const ready = await prober.start();
  assert.equal(ready.device, 'cpu');
  const small = await prober.probe(64, { steps: 2 });
  const large = await prober.probe(4096, { steps: 2 });
  for (const r of [small, large]) assert.equal(r.outcome, 'ok', r.message);
  // 4096 rows of 784 floats gathered (12.8 MB), the activations and their gradients: at least 15 MB more.
  assert.ok(
    (large.peakBytes as number) - (small.peakBytes as number) > 15e6,
    `${small.peakBytes} -> ${large.peakBytes}`,
  );
  assert.equal(small.pid, large.pid);
});
