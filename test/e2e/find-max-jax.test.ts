/**
 * `batchlab find-max` over examples/jax/warm_probe.py, end to end through the built CLI, on the JAX
 * stand-in of test/external/fixtures (JAX is not installed here; see warm-jax.test.ts). The trainer's
 * memory grows faster than linearly (B x 64 KiB + B^2 x 256 bytes, as attention scores would) in 64
 * buffers a step, so the first aim overshoots, the out-of-memory raises the high-water mark part-way,
 * and later probes below the mark can state only the mark: a bound, which batchlab must neither fit a
 * line through nor print as a measured peak.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FindMaxReport } from '../../src/lab/find-max/find-max.js';
import { runCli, TEST_PYTHON } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-find-max-jax-'));
const FAKE_JAX = fileURLToPath(new URL('../external/fixtures/warm_fake_jax.py', import.meta.url));
const MiB = 2 ** 20;
const ENV = { FAKE_BYTES_PER_SAMPLE: String(64 * 1024), FAKE_BYTES_PER_PAIR: '256', FAKE_LAYERS: '64' };

/** The largest B whose peak, parameters + 64 buffers of floor(step / 64), is at most `limitBytes` (the stand-in's 1 GiB); brute force. */
function truth(limitBytes = 2 ** 30): number {
  const fits = (b: number) => 64 * MiB + 64 * Math.floor((b * 64 * 1024 + b * b * 256) / 64) <= limitBytes;
  let b = 1;
  while (fits(b + 1)) b++;
  return b;
}

function findMax(
  mode: 'warm' | 'fresh',
  o: { budget?: string; env?: Record<string, string> } = {},
): { report: FindMaxReport; db: string } {
  const db = join(TMP, `${mode}-${Object.keys(o.env ?? {}).join('-')}.db`);
  const args = ['find-max', '--cmd', `${TEST_PYTHON} '${FAKE_JAX}'`, '--budget-on', 'reported'];
  const r = runCli(
    [...args, '--memory-budget', o.budget ?? '4GiB', ...(mode === 'warm' ? ['--warm'] : []), '--json', '--db', db],
    { env: o.env ?? ENV, timeoutMs: 240_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout) as FindMaxReport, db };
}

const trace = (r: FindMaxReport): string =>
  r.probes.map((p) => `${p.batch}:${p.kind}${p.peakAtMost ? '(bound)' : ''}`).join(',');

test('find-max --warm over the JAX helper: bounds bracket but draw no line, and are shown as bounds; within 3% below, never above', (t) => {
  const { report, db } = findMax('warm');
  const why = `answer ${report.answer.batch}, truth ${truth()}, probes ${trace(report)}`;
  t.diagnostic(why);
  assert.equal(report.search.strategy, 'limit');
  assert.match(report.prediction.note, /cap of 1 GiB on its allocator, which binds first/);
  assert.ok(report.answer.batch <= truth(), `never above: ${why}`);
  assert.ok(report.answer.batch >= truth() / 1.03, `within 3%: ${why}`);
  const bounds = report.probes.filter((p) => p.peakAtMost);
  assert.ok(bounds.length > 0, `a probe below the mark an out-of-memory raised: ${why}`);
  for (const p of bounds) {
    assert.ok(p.ok && p.phase === 'search', why);
    assert.match(p.reason, /peak at most: the high-water mark set before it/);
  }
  const firstOom = report.probes.findIndex((p) => p.kind === 'oom');
  assert.ok(firstOom >= 0 && firstOom < report.probes.indexOf(bounds[0] as (typeof report.probes)[number]), why);
  const verify = report.probes.at(-1);
  assert.ok(
    verify?.phase === 'verify' && verify.ok && !verify.peakAtMost,
    'the fresh verification measures its own peak',
  );
  assert.ok(report.probes.length <= 14, `at most 14 probes: ${why}`);
  // The stored experiment says which peaks were bounds.
  const shown = runCli(['show', '1', '--db', db]);
  assert.equal(shown.code, 0, shown.stderr);
  const row = shown.stdout
    .split('\n')
    .find((l) => new RegExp(`^\\s*${bounds[0]?.index}\\s+search\\s+${bounds[0]?.batch}\\s`).test(l));
  assert.match(row ?? '', /<= \d+/, shown.stdout);
});

test('find-max with fresh processes over the JAX helper: the cap its trials state steers the search; every peak is its own', (t) => {
  const { report } = findMax('fresh');
  const why = `answer ${report.answer.batch}, truth ${truth()}, probes ${trace(report)}`;
  t.diagnostic(why);
  assert.match(report.prediction.note, /cap of 1 GiB on its allocator, which binds first/);
  assert.ok(report.answer.batch <= truth() && report.answer.batch >= truth() / 1.03, why);
  assert.ok(
    report.probes.every((p) => !p.peakAtMost),
    `a fresh process's peak is its own: ${why}`,
  );
});

test("find-max --warm over the JAX helper on a CPU device: the process's resident memory, a peak of its own per probe", (t) => {
  const { report } = findMax('warm', { budget: '600MiB', env: { FAKE_XLA_ON_CPU: '1' } });
  const one = report.probes.find((p) => p.batch === 1)?.peakBytes as number;
  // B x 1 MiB on top of what the process held at B = 1 (its 1 MiB included), up to the limit after the margin.
  const estimate = (report.answer.limitBytes - (one - MiB)) / MiB;
  const why = `answer ${report.answer.batch}, about ${Math.floor(estimate)} fit, probes ${trace(report)}`;
  t.diagnostic(why);
  assert.ok(report.answer.peakBytes <= report.answer.limitBytes, why);
  assert.ok(report.answer.batch >= 0.95 * estimate && report.answer.batch <= 1.02 * estimate, why);
  assert.ok(
    report.probes.every((p) => !p.peakAtMost),
    why,
  );
});

test('find-max --warm over the JAX helper under a budget below the cap: a bound above the limit is measured again in a new process, not counted as over', (t) => {
  const pids = join(TMP, 'pids-budget');
  const { report } = findMax('warm', { budget: '600MiB', env: { ...ENV, FAKE_PIDS_FILE: pids } });
  const limit = report.answer.limitBytes; // 600 MiB less the 10% margin
  const why = `answer ${report.answer.batch}, truth ${truth(limit)}, probes ${trace(report)}`;
  t.diagnostic(why);
  assert.ok(report.answer.batch <= truth(limit) && report.answer.batch >= truth(limit) / 1.03, why);
  assert.ok(!report.probes.some((p) => p.kind === 'over-budget' && p.peakAtMost), `no bound counted as over: ${why}`);
  const warm = readFileSync(pids, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(' warm'));
  assert.ok(warm.length >= 2, `the mark an out-of-memory raised was left behind with its process: ${why}`);
});

test('find-max --warm over the JAX helper when the start-up set the mark above the small probes: they stand in, and the search runs', (t) => {
  const { report } = findMax('warm', { env: { FAKE_STARTUP_BYTES: String(32 * MiB) } });
  // Linear memory (1 MiB a sample) under the 1 GiB cap: 960 fit.
  const why = `answer ${report.answer.batch}, probes ${trace(report)}`;
  t.diagnostic(why);
  assert.ok(
    report.probes.filter((p) => p.phase === 'analytic').every((p) => p.peakAtMost),
    why,
  );
  assert.ok(report.answer.batch <= 960 && report.answer.batch >= 960 / 1.03, why);
});
