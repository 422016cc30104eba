/**
 * examples/jax/warm_probe.py end to end over a stand-in for the JAX calls it makes
 * (fixtures/fakejax: memory_stats() with a high-water mark nothing resets, XLA's RESOURCE_EXHAUSTED
 * error), behind a fake trainer (fixtures/warm_fake_jax.py), driven by WarmProber and TrialRunner.
 * JAX itself is not installed here: these check the helper's logic (which peak field a probe answers
 * with, OOM or error, the cleanup between probes, the fresh trial) and batchlab's reading of it. Plain
 * python3 only, no torch: they always run.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WarmProber } from '../../src/engine/external/warm.js';
import { TrialRunner } from '../../src/engine/external/runner.js';
import { TEST_PYTHON } from '../e2e/harness.js';

const FAKE_JAX = fileURLToPath(new URL('./fixtures/warm_fake_jax.py', import.meta.url));
const MiB = 2 ** 20;
const probers: WarmProber[] = [];
after(() => Promise.all(probers.map((p) => p.dispose())));

function jaxProber(env: Record<string, string> = {}): WarmProber {
  const p = new WarmProber({ cmd: `${TEST_PYTHON} '${FAKE_JAX}'`, env, killGraceMs: 500, gpu: false });
  probers.push(p);
  return p;
}

test('JAX helper: the ready line states the in-use base and the cap; a probe answers peak_bytes only when it raised the mark', async () => {
  const prober = jaxProber({ FAKE_ERROR_AT: '7' });
  const ready = await prober.start();
  assert.equal(ready.measure, 'xla-in-use');
  assert.equal(ready.device, 'cuda:0');
  assert.equal(ready.baseBytes, 64 * MiB, 'the parameters');
  assert.equal(ready.limitBytes, 2 ** 30, 'bytes_limit');
  const first = await prober.probe(64, { steps: 2 });
  assert.equal(first.outcome, 'ok', first.message);
  assert.equal(first.peakBytes, 64 * MiB + 64 * MiB, 'parameters + 64 samples x 1 MiB');
  assert.equal(first.peakAtMostBytes, undefined);
  assert.equal(first.stepMs.length, 2);
  // Below the mark: only the mark, as an upper bound.
  const below = await prober.probe(32, { steps: 1 });
  assert.equal(below.peakBytes, undefined);
  assert.equal(below.peakAtMostBytes, first.peakBytes);
  const above = await prober.probe(128, { steps: 1 });
  assert.equal(above.peakBytes, 64 * MiB + 128 * MiB);
  // Out of XLA's memory: answered with its message, parsed, and the process goes on.
  const oom = await prober.probe(2000, { steps: 1 });
  assert.equal(oom.outcome, 'oom', oom.message);
  assert.equal(oom.oom?.source, 'xla');
  assert.equal(oom.oom?.triedBytes, (2000 * MiB) / 4, 'the second of four layer buffers, the one that did not fit');
  assert.equal(oom.restart, undefined);
  // The failed step raised the mark part-way: of its four 500 MiB buffers the first fit.
  const after = await prober.probe(100, { steps: 1 });
  assert.equal(after.peakBytes, undefined);
  assert.equal(after.peakAtMostBytes, 64 * MiB + 500 * MiB);
  const bug = await prober.probe(7, { steps: 1 });
  assert.equal(bug.outcome, 'error');
  assert.match(bug.message ?? '', /ValueError: fake bug at batch 7/);
  assert.equal(after.afterBytes, 64 * MiB, 'the cleanup freed the step');
  assert.equal(new Set([first.pid, oom.pid, bug.pid]).size, 1);
  assert.equal(prober.starts, 1);
});

test('JAX helper: memory kept alive after a probe is a leak that restarts the process', async () => {
  const prober = jaxProber({ FAKE_LEAK_BYTES: String(50 * MiB) });
  const first = await prober.probe(4, { steps: 2 }); // sets the base, its own 100 MiB included
  assert.equal(first.restart, undefined);
  const second = await prober.probe(4, { steps: 2 });
  assert.equal(second.restart, 'leak');
  const third = await prober.probe(4, { steps: 1 });
  assert.notEqual(third.pid, second.pid);
});

test("JAX helper on a CPU device (no memory_stats): the process's resident memory, its peak reset before each probe", async () => {
  const prober = jaxProber({ FAKE_XLA_ON_CPU: '1' });
  const ready = await prober.start();
  assert.equal(ready.measure, 'rss');
  assert.equal(ready.limitBytes, undefined, 'no cap on the host');
  const large = await prober.probe(64, { steps: 2 });
  const small = await prober.probe(16, { steps: 1 });
  for (const r of [large, small]) assert.equal(r.outcome, 'ok', r.message);
  // 64 samples x 1 MiB written into host buffers: the peak is the base plus about 64 MiB.
  const rise = (large.peakBytes as number) - (ready.baseBytes as number);
  assert.ok(rise > 60 * MiB && rise < 80 * MiB, `rise ${rise / MiB} MiB`);
  assert.ok(
    (small.peakBytes as number) < (large.peakBytes as number) - 40 * MiB,
    'a smaller probe measures its own peak, not a bound',
  );
  assert.equal(small.peakAtMostBytes, undefined);
  assert.ok(
    Math.abs((small.afterBytes as number) - (ready.baseBytes as number)) < 16 * MiB,
    'the freed heap went back',
  );
});

test('JAX helper without BATCHLAB_WARM: an ordinary trial states its cap; an XLA out-of-memory on stderr is out of memory', async () => {
  const runner = new TrialRunner({ killGraceMs: 500 });
  try {
    const ok = await runner.runTrial({ cmd: `${TEST_PYTHON} '${FAKE_JAX}'`, values: { batch: 100, maxSteps: 2 } });
    assert.equal(ok.outcome, 'ok', ok.reason);
    assert.equal(ok.steps.length, 2);
    assert.equal(ok.reportedPeakBytes, 164 * MiB);
    assert.equal(ok.rawMetrics[0]?.memory_limit_bytes, 2 ** 30);
    const oom = await runner.runTrial({ cmd: `${TEST_PYTHON} '${FAKE_JAX}'`, values: { batch: 2000, maxSteps: 2 } });
    assert.equal(oom.outcome, 'oom', oom.reason);
    assert.match(oom.reason, /XLA/);
  } finally {
    await runner.dispose();
  }
});
