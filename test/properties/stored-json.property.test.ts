/**
 * Property test of the stored-JSON validators: whatever text a run-summary or sweep-summary column holds,
 * reading it gives a value whose fields a reader touches have the promised types, or BATCHLAB_STORE
 * (exit 2), never a TypeError later.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readStoredJson } from '../../src/store/index.js';
import { runSummarySchema, sweepSummarySchema } from '../../src/store/stored-json.js';
import { makeRunSummary, makeSweepSummary } from '../store/helpers.js';
import { checkParser, nastyString } from './property.js';

const WHERE = { path: 'batchlab.db', table: 'runs', column: 'summary', id: 1 } as const;

/** `base` with the value at `path` replaced (or deleted when `value` is undefined). */
function mutate(base: unknown, path: readonly string[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (typeof next !== 'object' || next === null) return copy;
    at = next as Record<string, unknown>;
  }
  const last = path[path.length - 1] as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

/** JSON text of `base` with up to 3 fields (from `paths`) replaced by any JSON value or deleted; some junk text. */
function mutated(base: unknown, paths: readonly (readonly string[])[]): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.constantFrom(...paths), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }));
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .array(edit, { maxLength: 3 })
        .map((edits) => JSON.stringify(edits.reduce((b, [p, v]) => mutate(b, p, v), base))),
    },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: nastyString(20) },
  );
}

const isNumber = (v: unknown) => typeof v === 'number';
const optionalNumber = (v: unknown) => v === undefined || typeof v === 'number';

describe('stored JSON validators (fast-check, fixed seed)', () => {
  it('run summaries: what a reader touches has its type, or BATCHLAB_STORE (1500 runs)', (t) => {
    const paths = [
      ['backend'],
      ['samplesPerSec'],
      ['peakBytes'],
      ['stepMs'],
      ['stepMs', 'median'],
      ['noise'],
      ['noise', 'series'],
      ['noise', 'status'],
      ['final'],
      ['final', 'test'],
      ['final', 'test', 'loss'],
      ['final', 'train', 'accuracy'],
      ['gap', 'accuracy'],
      ['target'],
      ['sharpness'],
      ['vmHwmBytes'],
      ['extra'],
    ];
    const base = { ...makeRunSummary(), target: { metric: 'accuracy', value: 0.9, reached: true, steps: 10 } };
    checkParser(t, {
      arbitrary: mutated(base, paths),
      numRuns: 1500,
      parse: (text) => readStoredJson(runSummarySchema, text, WHERE),
      valid: (s) => {
        assert.equal(typeof s.backend, 'string');
        for (const v of [s.samplesPerSec, s.peakBytes, s.stepMs.median, s.stepMs.p90, s.gap.loss, s.lossNoise])
          assert.ok(isNumber(v));
        for (const split of [s.final.train, s.final.test])
          assert.ok(isNumber(split.loss) && optionalNumber(split.accuracy));
        assert.equal(typeof s.noise.status, 'string');
        for (const [step, value] of s.noise.series) assert.ok(isNumber(step) && isNumber(value));
        assert.ok(optionalNumber(s.gap.accuracy) && optionalNumber(s.vmHwmBytes));
        if (s.target !== undefined)
          assert.ok(
            ['accuracy', 'loss', 'train-loss'].includes(s.target.metric) && typeof s.target.reached === 'boolean',
          );
        if (s.sharpness !== undefined) assert.ok(isNumber(s.sharpness.topEigenvalue));
      },
    });
  });

  it('sweep summaries: findings and fits have their types, or BATCHLAB_STORE (1000 runs)', (t) => {
    const paths = [
      ['findings'],
      ['findings', '0'],
      ['findings', '0', 'effect'],
      ['findings', '0', 'verdict'],
      ['findings', '0', 'interval'],
      ['findings', '0', 'statistic'],
      ['memoryFit'],
      ['memoryFit', 'r2'],
      ['wallMs'],
      ['tradeoff'],
    ];
    checkParser(t, {
      arbitrary: mutated(makeSweepSummary(), paths),
      numRuns: 1000,
      parse: (text) => readStoredJson(sweepSummarySchema, text, { ...WHERE, table: 'experiments' }),
      valid: (s) => {
        assert.ok(Array.isArray(s.findings) && isNumber(s.wallMs));
        for (const f of s.findings) {
          assert.ok(['memory', 'speed', 'stability', 'generalization'].includes(f.effect));
          assert.ok(typeof f.text === 'string');
          assert.ok(f.verdict === null || ['agrees', 'contradicts', 'inconclusive'].includes(f.verdict));
          if (f.verdict === null) assert.ok(f.predatesVerdicts === true || f.claim !== undefined);
          if (f.interval !== undefined) assert.ok(['log', 'linear'].includes(f.interval.scale));
        }
        if (s.memoryFit !== undefined) assert.ok(isNumber(s.memoryFit.r2) && isNumber(s.memoryFit.bytesPerSample));
        if (s.tradeoff !== undefined) assert.ok(isNumber(s.tradeoff.sMin) && optionalNumber(s.tradeoff.bCrit));
      },
    });
  });
});
