/**
 * The study's orchestration (lab/study) on a simulated task (./study-sim.ts: steps to the target follow a
 * known curve in B and LR). What is checked: every trial is a run with its LR and the plan's step limit,
 * a resumed study ends with exactly the trials and summary of an uninterrupted one, a failed trial stops
 * its batch size only, and resume refuses other settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStudy } from '../../src/lab/study/study.js';
import { openStore } from '../../src/store/index.js';
import { B_CRIT, bestLr, simulate, simulatedExecute, simulatedSettings } from './study-sim.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-study-'));
/** The trials of a study as stored: key, LR, step limit, status, steps-to-target, in run order. */
function storedTrials(dbPath: string, id: number): unknown[] {
  const store = openStore(dbPath, { readonly: true });
  try {
    return store
      .runsOf(id)
      .map((r) => [
        r.key,
        r.lr,
        (r.settings as { budget: { maxSteps: number } }).budget.maxSteps,
        r.status,
        (r.summary as { target?: { steps?: number } } | null)?.target?.steps ?? null,
      ]);
  } finally {
    store.close();
  }
}

test('a study runs each trial at its LR and step limit, cuts losing trials, and fits the simulated curve', async () => {
  const dbPath = join(TMP, 'plain.db');
  const { execute, calls } = simulatedExecute({});
  const result = await runStudy({ dbPath, settings: simulatedSettings() }, { execute });
  assert.equal(result.status, 'done');
  const s = result.summary;
  assert.equal(s.batches.length, 5);
  // Every batch size found the grid LR nearest the simulated best (the grid is a factor 2 apart: within sqrt(2)).
  for (const b of s.batches) {
    assert.equal(b.result?.outcome, 'found', `${b.batchSize}: ${b.result?.text}`);
    const miss = Math.abs(Math.log(b.result!.bestLr! / bestLr(b.batchSize)));
    assert.ok(miss <= Math.log(2) / 2 + 1e-9, `${b.batchSize}: ${b.result!.bestLr} vs ${bestLr(b.batchSize)}`);
  }
  // Early stopping: search trials after the first are capped at the best steps so far; replicates run uncut.
  assert.ok(s.cutTrials > 0, 'some losing trials were cut');
  assert.ok(calls.some((c) => c.budget.maxSteps! < s.batches[0]!.maxSteps));
  assert.equal(
    s.computeSamples,
    calls.reduce((sum, c) => sum + simulate(c).steps * c.batchSize, 0),
  );
  // The fit recovers the simulated B_crit (the evaluation grid rounds steps up, so within 15%).
  assert.ok(s.fit !== null && s.fit.status === 'ok');
  assert.ok(Math.abs(s.fit.bCrit.estimate / B_CRIT - 1) < 0.15, `B_crit ${s.fit.bCrit.estimate}`);
  assert.ok(s.fit.bCrit.low < B_CRIT && B_CRIT < s.fit.bCrit.high);
  assert.ok(s.lrRelation !== null && s.lrRelation.n === 5, 'the best LR of every batch size is fitted against B');
  assert.ok(s.findings.some((f) => f.text === s.lrRelation!.text));
  assert.ok(s.findings.some((f) => /B_crit = E_min \/ S_min/.test(f.text)));
});

test('a resumed study ends with the same trials and summary as an uninterrupted one', async () => {
  const whole = join(TMP, 'whole.db');
  const a = await runStudy({ dbPath: whole, settings: simulatedSettings() }, { execute: simulatedExecute({}).execute });
  for (const interruptCall of [1, 7, 15]) {
    const dbPath = join(TMP, `resumed-${interruptCall}.db`);
    const controller = new AbortController();
    const first = await runStudy(
      { dbPath, settings: simulatedSettings() },
      { execute: simulatedExecute({ interruptCall, controller }).execute, signal: controller.signal },
    );
    assert.equal(first.status, 'interrupted');
    assert.ok(first.summary.batches.length < 5 || first.summary.batches.some((b) => b.result === undefined));
    const b = await runStudy({ dbPath, resumeId: first.experiment.id }, { execute: simulatedExecute({}).execute });
    assert.equal(b.status, 'done');
    assert.deepEqual(storedTrials(dbPath, b.experiment.id), storedTrials(whole, a.experiment.id));
    const { wallMs: _a, ...sa } = a.summary;
    const { wallMs: _b, ...sb } = b.summary;
    assert.deepEqual(
      JSON.parse(JSON.stringify(sb)),
      JSON.parse(JSON.stringify(sa)),
      `interrupted at call ${interruptCall}`,
    );
  }
});

test('a failed trial (out of memory) ends its batch size only, and the study says so', async () => {
  const dbPath = join(TMP, 'oom.db');
  const { execute } = simulatedExecute({ oomAt: { batchSize: 1024, lr: 0 } });
  const result = await runStudy({ dbPath, settings: simulatedSettings() }, { execute });
  assert.equal(result.status, 'done');
  const last = result.summary.batches.at(-1)!;
  assert.match(last.failure ?? '', /oom: out of memory \(simulated\)/);
  assert.equal(last.trials.length, 0);
  assert.deepEqual(result.summary.unreached, [1024]);
  assert.ok(result.summary.fit !== null, 'the other four batch sizes still fit');
});

test('resume refuses other settings and experiments of another kind', async () => {
  const dbPath = join(TMP, 'refuse.db');
  const done = await runStudy({ dbPath, settings: simulatedSettings() }, { execute: simulatedExecute({}).execute });
  await assert.rejects(
    runStudy({ dbPath, resumeId: done.experiment.id, settings: simulatedSettings({ gridPoints: 7 }) }),
    /was started with other settings \(gridPoints differ\)/,
  );
  const store = openStore(dbPath);
  const other = store.createExperiment({ kind: 'noise', settings: {}, env: {} });
  store.close();
  await assert.rejects(runStudy({ dbPath, resumeId: other.id }), /is a noise, not a study/);
});
