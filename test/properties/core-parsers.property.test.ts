/** Property tests of the value parsers: byte sizes, batch lists, budgets, targets, seeds, placeholders. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseBatchList, parseBudget, parseSeeds, parseTarget } from '../../src/core/parse.js';
import { BYTE_UNITS, parseBytes } from '../../src/core/units.js';
import { expandCommand, PLACEHOLDERS, resolveValues } from '../../src/engine/external/template.js';
import { checkParser, nastyString, numberText } from './property.js';

/** A comma-separated list of number-ish entries. */
const listText = fc.oneof(
  nastyString(),
  fc.array(numberText(), { minLength: 1, maxLength: 6 }).map((a) => a.join(',')),
  fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }).map((a) => a.join(', ')),
);

function assertTarget(t: { metric: string; value: number }): void {
  assert.ok(t.metric === 'accuracy' || t.metric === 'loss');
  assert.ok(Number.isFinite(t.value));
  if (t.metric === 'accuracy') assert.ok(t.value > 0 && t.value <= 1, `accuracy ${t.value}`);
  else assert.ok(t.value >= 0);
}

describe('value parsers (fast-check, fixed seed)', () => {
  it('parseBytes: a whole number of bytes >= 1, or BATCHLAB_BAD_BUDGET (2000 runs)', (t) => {
    const units = Object.keys(BYTE_UNITS);
    const typed = fc
      .tuple(numberText(), fc.constantFrom(...units, 'XB', 'gb ', 'Gib', 'ZiB'), fc.constantFrom('', ' '))
      .map(([n, u, s]) => `${n}${s}${u}`);
    checkParser(t, {
      arbitrary: fc.oneof(typed, nastyString(), fc.double(), fc.integer()),
      numRuns: 2000,
      parse: (v) => parseBytes(v),
      valid: (bytes) => assert.ok(Number.isSafeInteger(bytes) && bytes >= 1, `bytes ${bytes}`),
    });
  });

  it('parseBatchList: ascending distinct batch sizes within the training set (2000 runs)', (t) => {
    checkParser(t, {
      arbitrary: fc.tuple(listText, fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constant(100_000))),
      numRuns: 2000,
      parse: ([text, trainCount]) => parseBatchList(text, trainCount),
      valid: (sizes, [, trainCount]) => {
        assert.ok(sizes.length >= 1);
        sizes.forEach((b, i) => {
          assert.ok(Number.isSafeInteger(b) && b >= 1 && b <= trainCount, `batch ${b}`);
          if (i > 0) assert.ok(b > (sizes[i - 1] as number));
        });
      },
    });
  });

  it('parseTarget: accuracy in (0, 1] or a finite loss >= 0 (2000 runs)', (t) => {
    const typed = fc
      .tuple(
        fc.constantFrom('acc', 'accuracy', 'loss', 'mse', 'ACC', ''),
        fc.constantFrom(':', ':', ':', '=', ''),
        fc.oneof(
          numberText(),
          fc.double({ min: 0, max: 1.2, noNaN: true }).map((v) => v.toFixed(4)),
        ),
      )
      .map(([m, s, v]) => `${m}${s}${v}`);
    checkParser(t, {
      arbitrary: fc.oneof(typed, nastyString()),
      numRuns: 2000,
      parse: (text) => parseTarget(text),
      valid: (target) => assertTarget(target as { metric: string; value: number }),
    });
  });

  it('parseBudget: one of the four kinds with valid numbers, or a typed refusal (2000 runs)', (t) => {
    const typed = fc
      .tuple(
        fc.constantFrom('epochs', 'steps', 'samples', 'target', 'hours', 'Epochs'),
        fc.oneof(numberText(), fc.constantFrom('acc:0.9', 'loss:0.2', 'acc:2')),
      )
      .map(([k, v]) => `${k}=${v}`);
    const opts = fc.record({
      trainCount: fc.integer({ min: 1, max: 100_000 }),
      maxEpochs: fc.integer({ min: -2, max: 50 }),
      task: fc.constantFrom('classification', 'regression'),
    });
    checkParser(t, {
      arbitrary: fc.tuple(fc.oneof(typed, nastyString(), fc.constant(undefined)), opts),
      numRuns: 2000,
      parse: ([text, o]) => parseBudget(text, o),
      valid: (budget, [, o]) => {
        if (budget.kind === 'target') {
          assertTarget(budget.target);
          assert.ok(budget.target.metric === 'loss' || o.task === 'classification');
          assert.ok(Number.isSafeInteger(budget.maxEpochs) && budget.maxEpochs >= 1);
        } else {
          assert.ok(['epochs', 'steps', 'samples'].includes(budget.kind));
          assert.ok(Number.isSafeInteger(budget.value) && budget.value >= 1);
        }
      },
    });
  });

  it('parseSeeds: distinct integers >= 0 (2000 runs)', (t) => {
    checkParser(t, {
      arbitrary: listText,
      numRuns: 2000,
      parse: (text) => parseSeeds(text),
      valid: (seeds) => {
        assert.ok(seeds.length >= 1);
        assert.equal(new Set(seeds).size, seeds.length);
        for (const s of seeds) assert.ok(Number.isSafeInteger(s) && s >= 0, `seed ${s}`);
      },
    });
  });

  it('resolveValues: batch = micro-batch x accumulation, every size a positive integer (2000 runs)', (t) => {
    const size = fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: -2, max: 300 }),
      fc.double(),
    );
    checkParser(t, {
      arbitrary: fc.record({
        batch: fc.oneof(fc.integer({ min: 1, max: 256 }), fc.integer({ min: -2, max: 300 }), fc.double()),
        microBatch: size,
        accum: size,
        lr: fc.oneof(fc.constant(undefined), fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.double()),
        maxSteps: size,
        seed: fc.oneof(fc.integer(), fc.double(), fc.constant(undefined)),
      }),
      numRuns: 2000,
      parse: (v) => resolveValues(v),
      valid: (r) => {
        for (const n of [r.batch, r.microBatch, r.accum]) assert.ok(Number.isInteger(n) && n >= 1);
        assert.equal(r.microBatch * r.accum, r.batch);
        if (r.lr !== undefined) assert.ok(Number.isFinite(r.lr) && r.lr > 0);
      },
    });
  });

  it('expandCommand: every {placeholder} filled with its number, shell syntax left alone (2000 runs)', (t) => {
    const piece = fc.oneof(
      fc.constantFrom(...Object.keys(PLACEHOLDERS)).map((n) => `{${n}}`),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, on purpose
      fc.constantFrom('{batch_size}', '{x}', '${HOME}', '\\{batch}', '{a,b}', '{', '}', ' --lr ', 'python t.py'),
      nastyString(8),
    );
    const values = fc.record({
      batch: fc.integer({ min: 1, max: 512 }),
      lr: fc.oneof(fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.constant(undefined)),
      maxSteps: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(undefined)),
      seed: fc.oneof(fc.integer({ min: 0, max: 99 }), fc.constant(undefined)),
    });
    checkParser(t, {
      arbitrary: fc.tuple(
        fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join('')),
        values,
      ),
      numRuns: 2000,
      parse: ([template, v]) => expandCommand(template, resolveValues(v)),
      valid: (cmd, [template]) => {
        assert.ok(template.trim() !== '');
        // No placeholder is left (docs/protocol.md: `{identifier}` not preceded by `$` or `\`): each was
        // known, had a value, and was replaced by a number, which holds no brace.
        assert.doesNotMatch(cmd, /(?<![$\\])\{[A-Za-z_][A-Za-z0-9_]*\}/);
      },
    });
  });
});
