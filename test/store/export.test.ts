import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchlabError } from '../../src/core/errors.js';
import {
  csvField,
  EVALS_CSV_COLUMNS,
  exportExperiment,
  openStore,
  PROBES_CSV_COLUMNS,
  RUNS_CSV_COLUMNS,
  STEPS_CSV_COLUMNS,
  type Store,
} from '../../src/store/index.js';
import { makeEval, makeRunSummary, makeStep, makeSteps, tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

/** Minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF) to check the writer independently. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += c;
  }
  assert.equal(field + row.join(''), '', 'the text ends with CRLF');
  return rows;
}

/** The summary of the first run: the stored shape plus a field holding a comma and quotes. */
const SUMMARY_A = { ...makeRunSummary({ batchSize: 16 }), notes: 'ok, "fine"' };

/** An experiment with two runs (keys holding commas and quotes), steps, evals and one probe. */
function seeded(): { store: Store; id: number } {
  const store = openStore(tmp.db());
  const exp = store.createExperiment({ kind: 'sweep', settings: { model: 'mlp' }, env: { backend: 'cpu' } });
  const a = store.upsertRun({ experimentId: exp.id, key: 'b=16,seed=1', batchSize: 16, seed: 1, lr: 0.01 });
  const b = store.upsertRun({
    experimentId: exp.id,
    key: 'b=64,"big"',
    batchSize: 64,
    microBatchSize: 32,
    seed: 1,
    lr: 0.04,
  });
  store.appendSteps(a.id, makeSteps(1, 3));
  store.appendSteps(b.id, [makeStep(1), makeStep(2, { loss: Number.NaN })]);
  store.appendEvals(a.id, [makeEval(3, 'test', 0.75)]);
  store.finishRun(a.id, { status: 'done', summary: SUMMARY_A });
  store.finishRun(b.id, { status: 'diverged', reason: 'loss became NaN at step 2, lr 0.04' });
  store.addProbe({
    experimentId: exp.id,
    batchSize: 64,
    ok: false,
    kind: 'oom',
    message: 'OOM, "killed"',
    phase: 'search',
  });
  return { store, id: exp.id };
}

describe('exportExperiment', () => {
  it('JSON parses back to the experiment, runs, steps, evals and probes', () => {
    const { store, id } = seeded();
    try {
      const doc = JSON.parse(exportExperiment(store, id, { format: 'json' }));
      assert.equal(doc.format, 'batchlab-export');
      assert.deepEqual(doc.experiment, store.getExperiment(id));
      assert.deepEqual(
        doc.runs.map((r: { key: string; steps: unknown[]; evals: unknown[] }) => [
          r.key,
          r.steps.length,
          r.evals.length,
        ]),
        [
          ['b=16,seed=1', 3, 1],
          ['b=64,"big"', 2, 0],
        ],
      );
      assert.deepEqual(doc.runs[0].steps, store.stepsOf(store.runsOf(id)[0]!.id));
      assert.equal(doc.runs[1].steps[1].loss, null, 'NaN is written as null');
      assert.deepEqual(doc.probes, store.probesOf(id));
    } finally {
      store.close();
    }
  });

  it('steps CSV has the documented header, one row per step, and quotes commas and quotes', () => {
    const { store, id } = seeded();
    try {
      const text = exportExperiment(store, id, { format: 'csv' });
      assert.ok(text.startsWith('experiment_id,run_id,run_key,run_batch_size,'));
      assert.ok(text.includes(',"b=16,seed=1",16,') && text.includes(',"b=64,""big""",64,'), text);
      const rows = parseCsv(text);
      assert.deepEqual(rows[0], [...STEPS_CSV_COLUMNS]);
      assert.equal(rows.length, 1 + 5);
      assert.ok(rows.every((r) => r.length === STEPS_CSV_COLUMNS.length));
      const col = (name: string) => STEPS_CSV_COLUMNS.indexOf(name as (typeof STEPS_CSV_COLUMNS)[number]);
      assert.deepEqual(
        rows.slice(1).map((r) => r[col('run_key')]),
        ['b=16,seed=1', 'b=16,seed=1', 'b=16,seed=1', 'b=64,"big"', 'b=64,"big"'],
      );
      assert.deepEqual(
        rows.slice(1).map((r) => r[col('run_status')]),
        ['done', 'done', 'done', 'diverged', 'diverged'],
      );
      assert.equal(rows[5]![col('loss')], 'NaN');
      assert.equal(rows[1]![col('loss')], String(2.3));
      assert.equal(rows[4]![col('run_micro_batch_size')], '32');
    } finally {
      store.close();
    }
  });

  it('runs, evals and probes CSVs', () => {
    const { store, id } = seeded();
    try {
      const runs = parseCsv(exportExperiment(store, id, { format: 'csv', table: 'runs' }));
      const summaryKeys = Object.keys(SUMMARY_A).sort();
      assert.deepEqual(runs[0], [...RUNS_CSV_COLUMNS, ...summaryKeys.map((k) => `summary.${k}`)]);
      assert.equal(runs.length, 3);
      const at = (name: string) => runs[0]!.indexOf(name);
      assert.equal(runs[1]![at('summary.notes')], 'ok, "fine"');
      assert.equal(runs[1]![at('summary.gap')], '{"accuracy":0.05,"loss":0.1}');
      assert.equal(runs[1]![at('summary.samplesPerSec')], '2560');
      assert.ok(runs[2]!.slice(RUNS_CSV_COLUMNS.length).every((v) => v === ''));
      assert.equal(runs[2]![RUNS_CSV_COLUMNS.indexOf('reason')], 'loss became NaN at step 2, lr 0.04');

      const evals = parseCsv(exportExperiment(store, id, { format: 'csv', table: 'evals' }));
      assert.deepEqual(evals[0], [...EVALS_CSV_COLUMNS]);
      assert.deepEqual(evals[1]!.slice(-5), ['3', '192', 'test', '0.5', '0.75']);

      const probes = parseCsv(exportExperiment(store, id, { format: 'csv', table: 'probes' }));
      assert.deepEqual(probes[0], [...PROBES_CSV_COLUMNS]);
      assert.deepEqual(probes[1]!.slice(2), ['search', '64', 'false', 'oom', '', '', '', 'OOM, "killed"', 'false']);
    } finally {
      store.close();
    }
  });

  it('an unknown experiment id is BATCHLAB_NOT_FOUND', () => {
    const { store } = seeded();
    try {
      for (const format of ['json', 'csv'] as const) {
        assert.throws(
          () => exportExperiment(store, 404, { format }),
          (err: unknown) => err instanceof BatchlabError && err.code === 'BATCHLAB_NOT_FOUND',
        );
      }
    } finally {
      store.close();
    }
  });

  it('csvField quotes exactly the fields RFC 4180 requires', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField(null), '');
    assert.equal(csvField(undefined), '');
    assert.equal(csvField(0.1), '0.1');
    assert.equal(csvField(Number.POSITIVE_INFINITY), 'Infinity');
  });
});
