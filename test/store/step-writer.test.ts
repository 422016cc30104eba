import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StepRecord } from '../../src/core/types.js';
import { openStore, StepWriter, type StepSink, type Store } from '../../src/store/index.js';
import { makeStep, makeSteps, tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

/** A store with one run, and a sink that counts appendSteps calls (= transactions) and batch sizes. */
function setup(): { store: Store; runId: number; sink: StepSink; batches: number[] } {
  const store = openStore(tmp.db());
  const exp = store.createExperiment({ kind: 'train', settings: {}, env: {} });
  const runId = store.upsertRun({ experimentId: exp.id, key: 'k', batchSize: 64, seed: 0, lr: 0.1 }).id;
  const batches: number[] = [];
  const sink: StepSink = {
    appendSteps: (id: number, steps: readonly StepRecord[]) => {
      batches.push(steps.length);
      return store.appendSteps(id, steps);
    },
  };
  return { store, runId, sink, batches };
}

describe('StepWriter', () => {
  it('writes every maxRows rows in one transaction, and the rest on close', () => {
    const { store, runId, sink, batches } = setup();
    try {
      const writer = new StepWriter(sink, runId, { maxRows: 50, maxDelayMs: 60_000, timer: false });
      for (const s of makeSteps(1, 49)) writer.add(s);
      assert.equal(store.stepsOf(runId).length, 0, 'nothing is written before the batch is full');
      assert.equal(writer.pendingRows, 49);
      writer.add(makeStep(50));
      assert.equal(store.stepsOf(runId).length, 50);
      for (const s of makeSteps(51, 73)) writer.add(s);
      assert.equal(store.stepsOf(runId).length, 100);
      assert.equal(writer.close(), 23);
      assert.deepEqual(batches, [50, 50, 23]);
      assert.deepEqual(store.stepsOf(runId), makeSteps(1, 123));
      assert.equal(writer.writtenCount, 123);
      assert.equal(writer.flush(), 0, 'flushing an empty buffer writes nothing');
      assert.deepEqual(batches, [50, 50, 23]);
      assert.throws(() => writer.add(makeStep(124)), /closed/);
    } finally {
      store.close();
    }
  });

  it('flushes on add when the oldest buffered row is maxDelayMs old', () => {
    const { store, runId, sink, batches } = setup();
    let nowMs = 0;
    try {
      const writer = new StepWriter(sink, runId, { maxRows: 1000, maxDelayMs: 500, nowMs: () => nowMs, timer: false });
      writer.add(makeStep(1));
      nowMs = 300;
      writer.add(makeStep(2));
      assert.deepEqual(batches, []);
      nowMs = 500;
      writer.add(makeStep(3));
      assert.deepEqual(batches, [3]);
      nowMs = 900; // the age counts from the oldest row of the new buffer, added now
      writer.add(makeStep(4));
      assert.deepEqual(batches, [3]);
      assert.equal(store.stepsOf(runId).length, 3);
    } finally {
      store.close();
    }
  });

  it('a timer writes a buffer that no further add arrives for', async () => {
    const { store, runId, sink, batches } = setup();
    try {
      const writer = new StepWriter(sink, runId, { maxRows: 1000, maxDelayMs: 30 });
      writer.add(makeStep(1));
      writer.add(makeStep(2));
      assert.equal(store.stepsOf(runId).length, 0);
      await new Promise((r) => setTimeout(r, 120));
      assert.deepEqual(batches, [2]);
      assert.equal(store.stepsOf(runId).length, 2);
      writer.close();
    } finally {
      store.close();
    }
  });

  it('keeps rows buffered when a flush fails, and writes them on the next flush', () => {
    const { store, runId, batches } = setup();
    let fail = true;
    const sink: StepSink = {
      appendSteps: (id, steps) => {
        if (fail) throw new Error('database is locked');
        batches.push(steps.length);
        return store.appendSteps(id, steps);
      },
    };
    try {
      const writer = new StepWriter(sink, runId, { maxRows: 2, timer: false });
      writer.add(makeStep(1));
      assert.throws(() => writer.add(makeStep(2)), /locked/);
      assert.equal(writer.pendingRows, 2);
      fail = false;
      assert.equal(writer.close(), 2);
      assert.deepEqual(
        store.stepsOf(runId).map((s) => s.step),
        [1, 2],
      );
    } finally {
      store.close();
    }
  });
});
