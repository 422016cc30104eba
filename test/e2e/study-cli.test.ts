/**
 * `batchlab study` end to end through the real binary on a tiny task (two Gaussian blobs, an MLP of 16,
 * batch sizes 8, 32, 128, a 3-point LR grid): every trial a run of a 'study' experiment with its LR, the
 * table, the fit and what it shows printed; `--resume` of a finished study replays its trials without
 * running any; `show` and `report` read it back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StudySummary } from '../../src/core/study-plan.js';
import { openStore } from '../../src/store/index.js';
import { runCli } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'batchlab-study-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 's.db');
const TINY = ['--dataset', 'gauss', '--model', 'mlp', '--hidden', '16', '--target', 'acc:0.9'];
const PLAN = [
  '--batch-sizes',
  '8,32,128',
  '--lr-grid',
  '3',
  '--max-epochs',
  '2',
  '--base-lr',
  '0.02',
  '--base-batch',
  '8',
];

test('a tiny study end to end: trials stored with their LR, the fit and findings printed, resume replays', () => {
  const r = runCli(['study', ...TINY, ...PLAN, '--db', db, '--no-report'], { timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^trial 1 of ~9: B=8, lr 0\.02, seed 1, up to [\d,]+ steps \(grid point 2 of 3\)$/m);
  assert.match(r.stdout, /steps to accuracy 0\.9 at the best LR of each batch size:/);
  assert.match(r.stdout, /^\s+8\s+0\.02\s+/m);
  assert.match(r.stdout, /What this study shows:/);
  assert.match(r.stdout, /\[speed\] the study processed [\d,]+ training samples/);
  assert.match(r.stdout, /study 1 finished after .* of wall time/);
  const store = openStore(db, { readonly: true });
  let summary: StudySummary;
  let runs: number;
  try {
    const e = store.getExperiment(1);
    assert.deepEqual([e.kind, e.status], ['study', 'done']);
    summary = e.summary as unknown as StudySummary;
    const stored = store.runsOf(1);
    runs = stored.length;
    assert.equal(summary.trials, runs);
    assert.deepEqual(
      summary.batches.map((b) => b.batchSize),
      [8, 32, 128],
    );
    for (const run of stored) {
      assert.match(run.key, /^b=\d+,lr=[\d.e-]+,seed=1$/);
      assert.equal((run.settings as { lr: number }).lr, run.lr, 'each trial stores its LR');
      assert.ok(['done', 'diverged'].includes(run.status), `${run.key}: ${run.status}`);
    }
    const samples = stored.reduce((n, run) => n + ((run.summary as { samples?: number } | null)?.samples ?? 0), 0);
    assert.ok(summary.computeSamples >= samples, 'the compute counts every trial');
  } finally {
    store.close();
  }
  const again = runCli(['study', '--resume', '1', '--db', db, '--no-report', '--json'], { timeoutMs: 120_000 });
  assert.equal(again.code, 0, again.stderr);
  const j = JSON.parse(again.stdout);
  assert.doesNotMatch(again.stderr, /trial \d+ of/, 'a finished study runs no trial on resume');
  const { wallMs: _a, ...before } = summary;
  const { wallMs: _b, ...after } = j.summary as StudySummary;
  assert.deepEqual(after, JSON.parse(JSON.stringify(before)));
  const check = openStore(db, { readonly: true });
  assert.equal(check.runsOf(1).length, runs);
  check.close();

  const show = runCli(['show', '1', '--db', db]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^experiment 1: study, done/m);
  assert.match(show.stdout, /What this study shows:/);
  const out = join(dir, 'study.html');
  const report = runCli(['report', '1', '--db', db, '-o', out]);
  assert.equal(report.code, 0, report.stderr);
  assert.ok(existsSync(out) && /study-steps|batchlab\.study/.test(readFileSync(out, 'utf8')));
});

test('a study needs a target, and an accuracy target needs classification', () => {
  const none = runCli(['study', '--dataset', 'gauss', '--db', db]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /a study runs every trial to a target; pass --target acc:0\.97/);
  const reg = runCli(['study', '--dataset', 'linreg', '--model', 'linear', '--target', 'acc:0.9', '--db', db]);
  assert.equal(reg.code, 2);
  assert.match(reg.stderr, /--target acc:0\.9 needs accuracy, but linreg is regression; pass --target loss:X/);
});
