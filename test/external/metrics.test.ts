import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LineSplitter,
  MAX_MALFORMED_SAMPLES,
  MetricsCollector,
  parseMetricLine,
  stepRate,
  type ExternalStep,
} from '../../src/engine/external/metrics.js';
import { resolveValues } from '../../src/engine/external/template.js';

function collector(now = { ms: 0 }): MetricsCollector {
  return new MetricsCollector({
    defaults: resolveValues({ batch: 32, microBatch: 8, lr: 0.1 }),
    clockMs: () => now.ms,
  });
}

test('a metrics line maps to a StepRecord-like step, defaults from the trial values', () => {
  const c = collector();
  c.addFileLine(
    '{"step": 1, "loss": 2.5, "grad_sq_norm": 4, "micro_grad_sq_norm": 9, "peak_mem_bytes": 1000, "step_ms": 12}',
  );
  assert.deepEqual(c.steps[0], {
    step: 1,
    evals: {},
    receivedMs: 0,
    batchSize: 32,
    microBatchSize: 8,
    accumSteps: 4,
    samples: 32,
    lr: 0.1,
    loss: 2.5,
    gradSqNorm: 4,
    microGradSqNorm: 9,
    peakBytes: 1000,
    stepMs: 12,
  });
  assert.equal(c.reportedPeakBytes, 1000);
});

test('samples accumulate from the per-step batch unless reported; per-step batch overrides the default', () => {
  const c = collector();
  c.addFileLine('{"step": 1}');
  c.addFileLine('{"step": 2, "batch": 16, "micro_batch": 16, "accum": 1}');
  c.addFileLine('{"step": 3, "samples": 1000}');
  assert.deepEqual(
    c.steps.map((s) => [s.samples, s.batchSize, s.microBatchSize]),
    [
      [32, 32, 8],
      [48, 16, 16],
      [1000, 32, 8],
    ],
  );
});

test('lines of the same step merge: evaluation metrics land in evals, unknown fields stay in the raw objects', () => {
  const c = collector();
  c.addStdoutLine('batchlab: {"step": 5, "loss": 1, "my_thing": "x"}');
  c.addFileLine('{"step": 5, "eval_loss": 0.7, "test_accuracy": 0.91, "train_accuracy": 0.95}');
  assert.equal(c.steps.length, 1);
  assert.deepEqual(c.steps[0]?.evals, { eval_loss: 0.7, test_accuracy: 0.91, train_accuracy: 0.95 });
  assert.deepEqual(c.finalEvals(), { eval_loss: 0.7, test_accuracy: 0.91, train_accuracy: 0.95 });
  assert.equal(c.raw[0]?.my_thing, 'x');
});

test("stdout lines without the prefix are the program's own output, not metrics", () => {
  const c = collector();
  c.addStdoutLine('Epoch 1/3 loss 2.3');
  c.addStdoutLine('  batchlab: {"step": 1}');
  assert.equal(c.steps.length, 1);
  assert.equal(c.malformedLines, 0);
});

test('malformed lines are counted with a reason, never fatal; the first few are kept', () => {
  const c = collector();
  const bad = [
    '{"step": 1',
    '[1, 2]',
    '{"loss": 1}',
    '{"step": -1}',
    '{"step": 1.5}',
    '{"step": 2, "loss": "low"}',
    'null',
  ];
  bad.forEach((l) => c.addFileLine(l));
  c.addStdoutLine('batchlab: not json');
  c.addFileLine('{"step": 3}');
  assert.equal(c.malformedLines, bad.length + 1);
  assert.equal(c.malformedSamples.length, MAX_MALFORMED_SAMPLES);
  assert.deepEqual(
    c.malformedSamples.map((m) => m.reason),
    [
      'not JSON',
      'not a JSON object',
      '"step" must be an integer >= 0, got nothing',
      '"step" must be an integer >= 0, got -1',
      '"step" must be an integer >= 0, got 1.5',
    ],
  );
  assert.equal(parseMetricLine('{"step": 2, "loss": "low"}').ok, false);
  assert.deepEqual(
    c.steps.map((s) => s.step),
    [3],
  );
});

test("Python's bare NaN and Infinity are read as numbers (a diverged loss must not vanish)", () => {
  const r = parseMetricLine(
    '{"step": 4, "loss": NaN, "grad_sq_norm": Infinity, "x": -Infinity, "note": "NaN stays a string"}',
  );
  assert.ok(r.ok);
  assert.ok(Number.isNaN(r.record.loss));
  assert.equal(r.record.grad_sq_norm, Infinity);
  assert.equal(r.record.x, -Infinity);
  assert.equal(r.record.note, 'NaN stays a string');
});

test('stepRate prefers the median reported step_ms after the first step, else arrival times', () => {
  const s = (step: number, receivedMs: number, stepMs?: number): ExternalStep => ({
    step,
    receivedMs,
    evals: {},
    stepMs,
  });
  assert.deepEqual(stepRate([s(1, 0, 900), s(2, 0, 10), s(3, 0, 30), s(4, 0, 20)]), {
    stepsPerSec: 50,
    source: 'step_ms',
  });
  assert.deepEqual(stepRate([s(1, 0), s(2, 1000), s(3, 1500), s(4, 2000)]), { stepsPerSec: 2, source: 'arrival' });
  assert.equal(stepRate([s(1, 0), s(2, 10), s(3, 10)]), undefined, 'all at once: buffered output, no rate');
  assert.equal(stepRate([s(1, 0), s(2, 10)]), undefined);
});

test('LineSplitter joins chunks, handles CRLF and UTF-8 split across chunks', () => {
  const sp = new LineSplitter();
  const euro = Buffer.from('€');
  assert.deepEqual(sp.push(Buffer.concat([Buffer.from('a\r\nb'), euro.subarray(0, 1)])), ['a']);
  assert.deepEqual(sp.push(Buffer.concat([euro.subarray(1), Buffer.from('\nrest')])), ['b€']);
  assert.deepEqual(sp.end(), ['rest']);
});
