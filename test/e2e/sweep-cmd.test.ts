// `batchlab sweep --cmd`: a sweep of a user's own training command (the PyTorch example), with B_simple
// from the script's own gradient norms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { RunSummary } from '../../src/core/summary.js';
import { openStore } from '../../src/store/index.js';
import { runCli, TEST_PYTHON, torchMissing } from './harness.js';

const PYTHON = TEST_PYTHON;

test('sweep --cmd runs the PyTorch example at each batch size and measures B_simple from its gradient norms', (t) => {
  const missing = torchMissing();
  if (missing !== undefined) return t.skip(missing);
  const db = join(mkdtempSync(join(tmpdir(), 'batchlab-cmd-')), 'cmd.db');
  const cmd = `${PYTHON} examples/pytorch/train.py --batch-size {batch} --accum {accum} --lr {lr} --max-steps {max_steps} --seed {seed} --device cpu`;
  const r = runCli([
    'sweep',
    '--cmd',
    cmd,
    '--batch-sizes',
    '32,128',
    '--accum',
    '2',
    '--budget',
    'samples=6400',
    '--db',
    db,
    '--report',
    join(dirname(db), 'cmd-report.html'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /What this sweep shows, claim by claim of the usual advice/);
  // The report shows B_simple from the script's own gradient norms.
  const html = readFileSync(join(dirname(db), 'cmd-report.html'), 'utf8');
  const data = JSON.parse(/<script type="application\/json" id="batchlab-data">([\s\S]*?)<\/script>/.exec(html)![1]!);
  const series = (data.runs as { summary: RunSummary }[]).map((run) => run.summary.noise.series.length);
  assert.ok(
    series.every((n) => n > 0),
    `B_simple series in the report: ${series}`,
  );
  const store = openStore(db, { readonly: true });
  try {
    const runs = store.runsOf(store.latestExperiment()!.id);
    assert.deepEqual(
      runs.map((x) => [x.batchSize, x.microBatchSize, x.accumSteps, x.status]),
      [
        [32, 16, 2, 'done'],
        [128, 64, 2, 'done'],
      ],
    );
    assert.deepEqual(
      runs.map((x) => store.stepsOf(x.id).length),
      [200, 50],
    );
    for (const run of runs) {
      const s = run.summary as unknown as RunSummary;
      assert.ok(
        s.noise.measuredSteps > 0 && s.noise.bSimple! > 0,
        `B_simple from the script's norms: ${JSON.stringify(s.noise)}`,
      );
      assert.ok(s.final.test.accuracy! > 0.5);
    }
  } finally {
    store.close();
  }
});

test('sweep --cmd needs a steps or samples budget', () => {
  const r = runCli(['sweep', '--cmd', 'true', '--batch-sizes', '8']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /BATCHLAB_BAD_ARGUMENT.*--budget steps=N or samples=N/);
});
