import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { findMaxBatch, type ProbeResult } from '../../src/core/search.js';
import { findOnPath } from '../../src/engine/external/gpu.js';
import { runTrial, TrialRunner } from '../../src/engine/external/runner.js';
import { OOM_PATTERNS } from '../../src/engine/oom.js';
import { commandProber } from '../../src/lab/find-max/probers.js';
import { announcedPids, FAKE_CMD, survivors, waitAllGone } from './helpers.js';

const MiB = 2 ** 20;
const runner = new TrialRunner({ killGraceMs: 500 });
after(() => runner.dispose());

/**
 * The fake trainer probed the way find-max probes a command (commandProber: executeRun, the external
 * trainer, one probe reading), as a probe for core/search findMaxBatch judged on the hard budget alone.
 */
function fakeProbe(o: {
  steps: number;
  env?: NodeJS.ProcessEnv;
  budgetBytes?: number;
  signal?: AbortSignal;
}): (batch: number) => Promise<ProbeResult> {
  const prober = commandProber({
    cmd: FAKE_CMD,
    runner,
    budgetBytes: o.budgetBytes ?? 2 ** 50,
    budgetOn: 'rss',
    env: o.env,
  });
  return async (batch) => {
    const m = await prober.run(batch, { steps: o.steps, signal: o.signal });
    if (m.kind === 'ok') return { ok: true, peakBytes: m.peakBytes as number };
    const kind = m.kind === 'oom' || m.kind === 'over-budget' ? m.kind : 'error';
    return { ok: false, kind, message: m.message ?? m.kind };
  };
}

test('metrics from the file channel map to steps; evals and unknown fields kept', async () => {
  const r = await runner.runTrial({
    cmd: FAKE_CMD,
    values: { batch: 4, lr: 0.1, maxSteps: 3 },
    // Each step holds its memory long enough for the 100 ms RSS poll to see it on a loaded machine
    // (20 ms once let a CI run sample only the shell: a tree RSS of 1.7 MB).
    env: { FAKE_HOLD_MS: '200' },
  });
  assert.equal(r.outcome, 'ok', r.reason);
  assert.equal(r.exitCode, 0);
  assert.deepEqual(
    r.steps.map((s) => [s.step, s.samples, s.batchSize, s.lr]),
    [
      [1, 4, 4, 0.1],
      [2, 8, 4, 0.1],
      [3, 12, 4, 0.1],
    ],
  );
  assert.deepEqual(r.evals, { eval_loss: 0.5, eval_accuracy: 0.9 });
  assert.equal(r.rawMetrics[0]?.my_field, 'kept');
  assert.equal(r.malformedLines, 0);
  assert.ok(r.peakRssBytes > 10 * MiB, `tree RSS ${r.peakRssBytes}`);
  assert.ok((r.reportedPeakBytes ?? 0) > 10 * MiB);
  assert.equal(r.rate?.source, 'step_ms');
  assert.ok(r.wallMs > 60);
});

test('the stdout channel works, and malformed lines on both channels are counted, never fatal', async () => {
  for (const channel of ['stdout', 'both']) {
    const r = await runner.runTrial({
      cmd: FAKE_CMD,
      values: { batch: 2, maxSteps: 2 },
      env: { FAKE_CHANNEL: channel, FAKE_MALFORMED: '2', FAKE_HOLD_MS: '0' },
    });
    assert.equal(r.outcome, 'ok', r.reason);
    assert.deepEqual(
      r.steps.map((s) => s.step),
      [1, 2],
      channel,
    );
    assert.equal(r.malformedLines, channel === 'both' ? 4 : 2);
    assert.ok(r.malformedSamples.every((m) => m.reason !== ''));
  }
});

test('onMetric sees each step as it arrives; the runner sets BATCHLAB_* and the command sees them', async () => {
  const seen: number[] = [];
  const r = await runner.runTrial({
    cmd: `test "$BATCHLAB_BATCH_SIZE/$BATCHLAB_MICRO_BATCH/$BATCHLAB_ACCUM/$BATCHLAB_LR" = "8/4/2/0.01" && ${FAKE_CMD} --bs {batch}`,
    values: { batch: 8, microBatch: 4, lr: 0.01, maxSteps: 2 },
    env: { FAKE_HOLD_MS: '0' },
    onMetric: (s) => seen.push(s.step),
  });
  assert.equal(r.outcome, 'ok', r.reason);
  assert.equal(r.command.endsWith('--bs 8'), true);
  assert.deepEqual(seen, [1, 2, 2]);
});

// Each real OOM message, in turn: the search finds the threshold, and every failure is an 'oom' probe.
for (const row of OOM_PATTERNS) {
  test(`findMaxBatch + the command prober find the threshold when the trainer dies with a ${row.name} OOM`, async () => {
    const probe = fakeProbe({
      steps: 1,
      env: { FAKE_OOM_ABOVE: '37', FAKE_OOM_TEXT: row.example, FAKE_HOLD_MS: '0', FAKE_BYTES_PER_SAMPLE: '1024' },
    });
    const res = await findMaxBatch({ probe, predictedMax: 16, cap: 1024, tolerance: 0 });
    assert.equal(res.outcome, 'found');
    assert.equal(res.maxBatch, 37);
    assert.equal(res.firstFailure, 38);
    const failures = res.trials.filter((t) => !t.result.ok);
    assert.ok(failures.length > 0);
    for (const t of failures) assert.equal(!t.result.ok && t.result.kind, 'oom', JSON.stringify(t.result));
  });
}

test('an emulated RSS budget: the group is killed as over-budget and the search finds the boundary', async () => {
  const base = await runner.runTrial({
    cmd: FAKE_CMD,
    values: { batch: 1, maxSteps: 2 },
    env: { FAKE_HOLD_MS: '250' },
  });
  const budget = base.peakRssBytes + 64 * MiB; // about 60 extra samples of 1 MiB fit
  const probe = fakeProbe({ steps: 2, budgetBytes: budget, env: { FAKE_HOLD_MS: '250' } });
  const res = await findMaxBatch({ probe, predictedMax: 16, cap: 4096, tolerance: 0.1 });
  assert.equal(res.outcome, 'found', JSON.stringify(res.trials));
  assert.ok(res.maxBatch !== undefined && res.maxBatch >= 40 && res.maxBatch <= 72, `maxBatch ${res.maxBatch}`);
  assert.ok((res.peakBytes ?? Infinity) <= budget);
  for (const t of res.trials) if (!t.result.ok) assert.equal(t.result.kind, 'over-budget', t.result.message);
});

test('a budget on the reported peak_mem_bytes', async () => {
  const r = await runner.runTrial({
    cmd: FAKE_CMD,
    values: { batch: 64, maxSteps: 2 },
    memoryBudgetBytes: 20 * MiB,
    budgetOn: 'reported',
    enforce: 'none',
    env: { FAKE_HOLD_MS: '0' },
  });
  assert.equal(r.outcome, 'over-budget');
  assert.match(r.reason, /reported peak_mem_bytes reached .* over the budget of 20 MiB/);
});

test('a crash is an error with its stderr tail, and it stops the search (never taken for OOM)', async () => {
  const probe = fakeProbe({ steps: 1, env: { FAKE_MODE: 'crash' } });
  const res = await findMaxBatch({ probe, predictedMax: 16, cap: 1024 });
  assert.equal(res.outcome, 'error');
  assert.equal(res.trials.length, 1);
  assert.match(
    res.error?.message ?? '',
    /the command exited with status 1.*\n[\s\S]*KeyError: a bug in the training script[\s\S]*\n {2}command: /,
  );
});

test('a command that does not exist is an error (exit status 127), not an OOM', async () => {
  const r = await runner.runTrial({ cmd: 'definitely-not-a-command-xyz --bs {batch}', values: { batch: 1 } });
  assert.equal(r.outcome, 'error');
  assert.equal(r.exitCode, 127);
  assert.match(r.stderrTail.join('\n'), /not found/);
});

test('a SIGKILL batchlab did not send is an OOM (the kernel OOM killer)', async () => {
  const r = await runner.runTrial({ cmd: FAKE_CMD, values: { batch: 1 }, env: { FAKE_MODE: 'sigkill-self' } });
  assert.equal(r.outcome, 'oom');
  assert.match(r.reason, /OOM killer/);
});

test('a timeout kills the whole group, grandchildren included; nothing is left in the process table', async () => {
  const out: string[] = [];
  const r = await runner.runTrial({
    cmd: FAKE_CMD,
    values: { batch: 1 },
    timeoutMs: 800,
    env: { FAKE_MODE: 'grandchild' },
    onOutput: (_s, l) => out.push(l),
  });
  assert.equal(r.outcome, 'timeout');
  assert.match(r.reason, /timed out after 800 ms/);
  const pids = announcedPids(out);
  assert.equal(pids.length, 2, out.join('\n'));
  assert.deepEqual(await survivors(r.pgid as number, pids), [], 'no live process right after the trial');
  assert.deepEqual(await waitAllGone(r.pgid as number, pids), [], 'no zombie either, once init has reaped');
  assert.deepEqual(
    r.steps.map((s) => s.step),
    [1],
    'metrics reported before the kill are kept',
  );
});

test('a trainer that ignores SIGTERM is SIGKILLed after the grace period', async () => {
  const out: string[] = [];
  const r = await runner.runTrial({
    cmd: FAKE_CMD,
    values: { batch: 1 },
    timeoutMs: 500,
    killGraceMs: 300,
    env: { FAKE_MODE: 'ignore-term' },
    onOutput: (_s, l) => out.push(l),
  });
  assert.equal(r.outcome, 'timeout');
  assert.ok(out.includes('ignoring SIGTERM'), out.join('\n'));
  assert.deepEqual(await survivors(r.pgid as number, announcedPids(out)), []);
});

test('an abort (Ctrl-C) interrupts the trial, leaves no process, and makes the probe throw', async () => {
  const ac = new AbortController();
  const out: string[] = [];
  setTimeout(() => ac.abort(), 500);
  const r = await runner.runTrial({
    cmd: FAKE_CMD,
    values: { batch: 1 },
    signal: ac.signal,
    env: { FAKE_MODE: 'grandchild' },
    onOutput: (_s, l) => out.push(l),
  });
  assert.equal(r.outcome, 'interrupted');
  assert.deepEqual(await survivors(r.pgid as number, announcedPids(out)), []);
  assert.deepEqual(await waitAllGone(r.pgid as number, announcedPids(out)), []);
  const probe = fakeProbe({ steps: 1, signal: ac.signal });
  await assert.rejects(probe(8), { code: 'BATCHLAB_INTERRUPTED' });
});

test('runTrial (own runner) rejects an unknown placeholder before starting anything', async () => {
  await assert.rejects(runTrial({ cmd: 'python t.py --bs {bs}', values: { batch: 1 } }), /unknown placeholder \{bs\}/);
  assert.equal(runner.liveCount, 0);
});

test('an rlimit budget (prlimit --as): an allocator failure under the limit is over-budget', async (t) => {
  if ((await findOnPath('prlimit')) === undefined) return t.skip('prlimit (util-linux) is not installed');
  if ((await findOnPath('python3')) === undefined) return t.skip('python3 is not installed');
  const cmd = 'python3 -c "import os; b = bytearray({batch} * 1048576); print(\'allocated\')"';
  const small = await runner.runTrial({ cmd, values: { batch: 8 }, memoryBudgetBytes: 400 * MiB, enforce: 'rlimit' });
  assert.equal(small.outcome, 'ok', small.reason + small.stderrTail.join('\n'));
  const big = await runner.runTrial({ cmd, values: { batch: 1024 }, memoryBudgetBytes: 400 * MiB, enforce: 'rlimit' });
  assert.equal(big.outcome, 'over-budget', big.stderrTail.join('\n'));
  assert.match(big.reason, /address-space limit of 400 MiB/);
});

test('a command that cannot start at all (missing cwd) is an error, and nothing is signalled', async () => {
  const r = await runner.runTrial({ cmd: 'true {batch}', values: { batch: 1 }, cwd: '/nonexistent/dir/for/batchlab' });
  assert.equal(r.outcome, 'error');
  assert.equal(r.pgid, undefined);
  assert.match(r.stderrTail.join('\n'), /could not start the command: .*ENOENT/);
});
