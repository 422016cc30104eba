import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchlabError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import {
  colorForBatch,
  findBudgetBytes,
  jsonForScript,
  loadReportData,
  readAsset,
  renderReport,
  writeReport,
} from '../../src/report/index.js';
import { reportCommand } from '../../src/cli/commands/report.js';
import { writeSyntheticSweep } from './synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'batchlab-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), errStream: process.stderr },
    out,
    err,
  };
}

describe('colorForBatch', () => {
  it('gives each power of two its own colour, the same in every sweep', () => {
    const colors = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048].map(colorForBatch);
    assert.equal(new Set(colors).size, 12);
    assert.equal(colorForBatch(64), colorForBatch(64));
    assert.equal(colorForBatch(60), colorForBatch(64), 'non powers of two round to the nearest');
  });
});

describe('loadReportData', () => {
  const db = join(dir, 'data.db');
  const store = openStore(db);
  const sweep = writeSyntheticSweep(store, {
    batchSizes: [16, 64, 256],
    stepsPerRun: 5000,
    oomBatchSize: 1024,
    probes: true,
  });
  after(() => store.close());

  it('downsamples each run to maxPointsPerRun while keeping the last step and the wall time', () => {
    const data = loadReportData(store, sweep.experimentId, { maxPointsPerRun: 500 });
    assert.equal(data.runs.length, 4);
    const run = data.runs[0]!;
    assert.equal(run.stepCount, 5000);
    assert.ok(run.steps.step.length <= 500 && run.steps.step.length > 400, `kept ${run.steps.step.length}`);
    assert.equal(run.steps.step.at(-1), 5000);
    assert.equal(run.lastStep, 5000);
    const fullWallS = store.stepsOf(run.id).reduce((a, s) => a + s.stepMs, 0) / 1000;
    assert.ok(Math.abs(run.lastWallS - fullWallS) < 1e-9);
    assert.equal(run.steps.wallS.at(-1), run.lastWallS);
    const maxLoss = Math.max(...store.stepsOf(run.id).map((s) => s.loss));
    assert.equal(
      Math.max(...run.steps.loss.map((l) => l ?? -Infinity)),
      maxLoss,
      'the highest loss survives downsampling',
    );
  });

  it('marks failed runs as not charted and finds the memory budget', () => {
    const data = loadReportData(store, sweep.experimentId);
    const oom = data.runs.find((r) => r.status === 'oom')!;
    assert.equal(oom.charted, false);
    assert.match(oom.reason!, /out of memory/);
    assert.equal(data.budgetBytes, 120e6);
    assert.equal(data.probes.length, 5);
    assert.equal(data.runs[1]!.color, colorForBatch(64));
    assert.equal(findBudgetBytes({ budget: 5, memoryBudgetBytes: 'x', budgetBytes: 7 }), 7);
    assert.equal(findBudgetBytes({ memory: { budgetBytes: 9, marginBytes: 1 } }), 9);
    assert.equal(findBudgetBytes({ memory: { budgetBytes: null } }), null);
  });

  it('refuses an unknown experiment with BATCHLAB_NOT_FOUND', () => {
    assert.throws(
      () => loadReportData(store, 999),
      (e: unknown) => e instanceof BatchlabError && e.code === 'BATCHLAB_NOT_FOUND',
    );
  });
});

describe('renderReport', () => {
  const db = join(dir, 'render.db');
  const store = openStore(db);
  const { experimentId } = writeSyntheticSweep(store, { batchSizes: [16, 32] });
  store.createExperiment({ kind: 'train', settings: { note: '</script><script>alert(1)</script>' }, env: {} });
  after(() => store.close());

  it('inlines uPlot, the page code and the data, and forbids network access', () => {
    const html = renderReport(store, experimentId);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.match(html, /uPlot/);
    assert.ok(html.includes(readAsset('report.js').slice(0, 200)), 'the page bundle is inlined');
    assert.doesNotMatch(html, /<script[^>]+src=/i, 'no external script');
    assert.doesNotMatch(html, /<link[^>]+href=/i, 'no external stylesheet');
    assert.doesNotMatch(
      html,
      /(src|href)\s*=\s*["']?https?:|url\(\s*["']?https?:|@import/i,
      'no URL the page could load',
    );
  });

  it('escapes data so a setting cannot close the script element', () => {
    const html = renderReport(store, experimentId + 1);
    assert.doesNotMatch(html, /<\/script><script>alert/);
    assert.equal(JSON.parse(jsonForScript({ a: '</script>' }).replace(/\\u003c/g, '<')).a, '</script>');
    assert.equal(JSON.parse(jsonForScript({ a: '</script>' })).a, '</script>');
  });

  it('writeReport writes the file and the CLI prints its path', async () => {
    const path = join(dir, 'r.html');
    writeReport(store, experimentId, path);
    assert.match(readFileSync(path, 'utf8'), /^<!doctype html>/);
    const cap = captureIo();
    const out = join(dir, 'cli.html');
    assert.equal(await reportCommand([String(experimentId), '-o', out, '--db', db], cap.io), 0);
    assert.deepEqual(cap.out, [out]);
    assert.match(readFileSync(out, 'utf8'), /batchlab report: experiment 1 \(sweep\)/);
  });

  it('the CLI accepts "latest" and refuses a bad id by value', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const cap = captureIo();
      assert.equal(await reportCommand(['latest', '--db', db], cap.io), 0);
      assert.equal(cap.out[0], join(dir, `batchlab-report-${experimentId + 1}.html`));
    } finally {
      process.chdir(cwd);
    }
    await assert.rejects(reportCommand(['abc', '--db', db], captureIo().io), /positive integer or "latest", got "abc"/);
    await assert.rejects(
      reportCommand(['42', '--db', db], captureIo().io),
      (e: unknown) => e instanceof BatchlabError && e.code === 'BATCHLAB_NOT_FOUND',
    );
    await assert.rejects(reportCommand([], captureIo().io), /pass its id or "latest"/);
  });
});
