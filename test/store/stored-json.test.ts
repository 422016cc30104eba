/**
 * Stored JSON is validated when it is read (a row with a wrong shape fails at the door with
 * BATCHLAB_STORE, naming the row and the field) and when it is written (batchlab never stores what it
 * could not read back).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { BatchlabError } from '../../src/core/errors.js';
import { renderReport } from '../../src/report/index.js';
import type { Finding, SweepSummary } from '../../src/core/summary.js';
import { exportExperiment, openStore } from '../../src/store/index.js';
import { makeRunSummary, makeSweepSummary, tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

/** A sweep with one finished run and a summary; returns the path and ids. */
function seeded(): { path: string; experimentId: number; runId: number } {
  const path = tmp.db();
  const store = openStore(path);
  try {
    const exp = store.createExperiment({ kind: 'sweep', settings: { batchSizes: [16] }, env: { node: 'v22' } });
    const run = store.upsertRun({ experimentId: exp.id, key: 'b=16,seed=1', batchSize: 16, seed: 1, lr: 0.1 });
    store.startRun(run.id);
    store.finishRun(run.id, { status: 'done', summary: makeRunSummary({ batchSize: 16 }) });
    store.setExperimentSummary(exp.id, makeSweepSummary());
    return { path, experimentId: exp.id, runId: run.id };
  } finally {
    store.close();
  }
}

/** Changes the file behind the store's back, as another program (or a hand edit) would. */
function edit(path: string, sql: string, ...params: unknown[]): void {
  const db = new Database(path);
  db.prepare(sql).run(...params);
  db.close();
}

/** A one-line BATCHLAB_STORE error (exit 2) whose message matches every pattern. */
function storeError(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof BatchlabError, `expected a BatchlabError, got ${String(err)}`);
    assert.equal(err.code, 'BATCHLAB_STORE');
    assert.equal(err.exitCode, 2);
    assert.ok(!/[\n\r]/.test(err.message), `one line: ${err.message}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

describe('stored JSON read back from the file', () => {
  it('a run summary of the wrong shape fails at the door, also for the report and the export', () => {
    const { path, experimentId, runId } = seeded();
    edit(path, 'UPDATE runs SET summary = ? WHERE id = ?', JSON.stringify({ ...makeRunSummary(), final: 3 }), runId);
    const store = openStore(path, { readonly: true });
    try {
      const expected = storeError(
        new RegExp(
          `the summary of run ${runId} does not match batchlab's schema version \\d+ \\(final: expected object, received number\\)`,
        ),
        /restore it from a copy or pass --db PATH/,
      );
      assert.throws(() => store.getRun(runId), expected);
      assert.throws(() => store.runsOf(experimentId), expected);
      assert.throws(() => renderReport(store, experimentId), expected, 'not a TypeError inside the report');
      assert.throws(() => exportExperiment(store, experimentId, { format: 'csv', table: 'runs' }), expected);
    } finally {
      store.close();
    }
  });

  it('names the field of a nested mismatch and escapes what it quotes', () => {
    const { path, experimentId } = seeded();
    const bad = makeSweepSummary({
      findings: [{ effect: 'speed\u001b[31m' as 'speed', claim: 'none', text: 'x', verdict: null }],
    });
    edit(path, 'UPDATE experiments SET summary = ? WHERE id = ?', JSON.stringify(bad), experimentId);
    const store = openStore(path, { readonly: true });
    try {
      assert.throws(
        () => store.getExperiment(experimentId),
        storeError(/summary of experiment \d+ .*findings\.0\.effect/),
      );
      assert.throws(() => store.listExperiments(), storeError(/findings\.0\.effect/));
    } finally {
      store.close();
    }
  });

  it('text that is not JSON, a settings field of the wrong type, an env that is not an object', () => {
    const cases: [string, string, RegExp][] = [
      ['UPDATE runs SET settings = ?', '{"batchSize": 16,', /the settings of run \d+ is not valid JSON/],
      ['UPDATE runs SET settings = ?', '{"batchSize": "sixteen"}', /settings of run \d+ .*batchSize: expected number/],
      ['UPDATE experiments SET settings = ?', '{"batchSizes": "16,32"}', /settings of experiment \d+ .*batchSizes/],
      ['UPDATE experiments SET env = ?', '[1, 2]', /env of experiment \d+ .*expected object, received array/],
      ['UPDATE experiments SET env = ?', 'null', /env of experiment \d+ .*expected object, received null/],
    ];
    for (const [sql, text, pattern] of cases) {
      const { path, experimentId, runId } = seeded();
      edit(path, sql, text);
      const store = openStore(path);
      try {
        assert.throws(
          () => store.runsOf(experimentId).length + store.getExperiment(experimentId).id + store.getRun(runId).id,
          storeError(pattern),
          `${sql} ${text}`,
        );
      } finally {
        store.close();
      }
    }
  });

  it('an unknown status or kind is a store error, not a value passed on', () => {
    const { path, experimentId, runId } = seeded();
    edit(path, "UPDATE runs SET status = 'paused' WHERE id = ?", runId);
    edit(path, "UPDATE experiments SET kind = 'tune' WHERE id = ?", experimentId);
    const store = openStore(path);
    try {
      assert.throws(() => store.getRun(runId), storeError(/runs\.status of row \d+ is "paused"/));
      assert.throws(() => store.getExperiment(experimentId), storeError(/experiments\.kind of row \d+ is "tune"/));
    } finally {
      store.close();
    }
  });

  it('null numbers (a NaN or Infinity that JSON could not hold) read back as NaN', () => {
    const { path, runId } = seeded();
    const summary = { ...makeRunSummary(), samplesPerSec: null, gap: { accuracy: null, loss: 0.1 } };
    edit(path, 'UPDATE runs SET summary = ? WHERE id = ?', JSON.stringify(summary), runId);
    const store = openStore(path);
    try {
      const got = store.getRun(runId).summary!;
      assert.ok(Number.isNaN(got.samplesPerSec));
      assert.ok(Number.isNaN(got.gap.accuracy));
      assert.equal(got.gap.loss, 0.1);
    } finally {
      store.close();
    }
  });
});

describe('sweep summaries stored before verdicts', () => {
  it('an old finding (agreesWithSeed, an endpoint comparison) reads back as not tested, never as agreeing', () => {
    const { path, experimentId } = seeded();
    const old = {
      findings: [
        { effect: 'memory', text: 'memory grew 3.81x from B=16 to B=1024', agreesWithSeed: true },
        { effect: 'generalization', text: 'the gap did not grow', agreesWithSeed: false },
      ],
      saturationBatch: 1024,
      wallMs: 46_000,
    };
    edit(path, 'UPDATE experiments SET summary = ? WHERE id = ?', JSON.stringify(old), experimentId);
    const store = openStore(path, { readonly: true });
    try {
      const findings = (store.getExperiment(experimentId).summary as unknown as SweepSummary).findings;
      assert.deepEqual(
        findings.map((f) => [f.verdict, f.claim, f.predatesVerdicts]),
        [
          [null, 'none', true],
          [null, 'none', true],
        ],
      );
      assert.equal(
        (findings[0] as unknown as { agreesWithSeed: boolean }).agreesWithSeed,
        true,
        'the old field is kept',
      );
      assert.match(renderReport(store, experimentId), /memory grew 3\.81x/);
    } finally {
      store.close();
    }
  });

  it('a new finding round-trips with its verdict, statistic, interval and what it rests on', () => {
    const store = openStore(tmp.db());
    try {
      const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      const finding: Finding = {
        effect: 'speed',
        claim: 'step-time',
        verdict: 'inconclusive',
        text: 'A larger batch takes longer per step? Inconclusive: ...',
        statistic: { name: 't', value: 1.2, df: 17 },
        pValue: 0.25,
        interval: { scale: 'log', estimate: 1.02, low: 0.98, high: 1.06, confidence: 0.95 },
        toSettle: { seeds: 12 },
        restsOn: {
          seeds: 3,
          batchSizes: [16, 64, 256],
          runs: 9,
          test: 'least-squares trend',
          confidence: 0.95,
          noise: 'spread between runs',
        },
      };
      const summary = makeSweepSummary({ findings: [finding] });
      store.setExperimentSummary(exp.id, summary);
      assert.deepEqual(store.getExperiment(exp.id).summary, summary);
    } finally {
      store.close();
    }
  });
});

describe('stored JSON written by the store', () => {
  it('a run summary that could not be read back is refused before anything is written', () => {
    const store = openStore(tmp.db());
    try {
      const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      const run = store.upsertRun({ experimentId: exp.id, key: 'k', batchSize: 8, seed: 1, lr: 0.1 });
      store.startRun(run.id);
      const { final: _dropped, ...noFinal } = makeRunSummary();
      assert.throws(
        () => store.finishRun(run.id, { status: 'done', summary: noFinal }),
        (err: unknown) =>
          err instanceof BatchlabError &&
          err.code === 'BATCHLAB_BAD_ARGUMENT' &&
          /run summary does not match the store's schema version \d+ \(final: expected object/.test(err.message),
      );
      assert.equal(store.getRun(run.id).status, 'running', 'the run was not finished with a bad summary');
      assert.throws(
        () => store.setExperimentSummary(exp.id, { findings: 'none' }),
        /summary of a sweep does not match/,
      );
      assert.throws(
        () => store.createExperiment({ kind: 'sweep', settings: { seeds: 'one' }, env: {} }),
        /experiment settings does not match .*seeds/,
      );
      assert.equal(store.listExperiments().length, 1, 'no experiment row was created for bad settings');
    } finally {
      store.close();
    }
  });

  it('unknown fields are kept, so a summary with extra facts round-trips', () => {
    const store = openStore(tmp.db());
    try {
      const exp = store.createExperiment({
        kind: 'sweep',
        settings: { note: 'x', base: { extra: 1 } },
        env: { gpu: 'none' },
      });
      const summary = { ...makeSweepSummary(), recommendation: { batch: 64 } };
      store.setExperimentSummary(exp.id, summary);
      const got = store.getExperiment(exp.id);
      assert.deepEqual(got.summary, summary);
      assert.deepEqual(got.settings, { note: 'x', base: { extra: 1 } });
      assert.deepEqual(got.env, { gpu: 'none' });
    } finally {
      store.close();
    }
  });
});
