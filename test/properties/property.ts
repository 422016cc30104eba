/**
 * The property every parser and validator must have (issue 12, "Prove it in CI"): any input either
 * parses to a valid value, or throws a BatchlabError with exit code 2 whose message is one line with no
 * raw control character. Nothing else may be thrown.
 *
 * Every property runs with the fixed seed PROPERTY_SEED and a stated numRuns, and reports how many
 * generated inputs it tried, how many parsed and how many were refused (t.diagnostic). It also checks
 * that its generator reaches both outcomes, so a generator that only ever makes junk cannot pass vacuously.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import fc from 'fast-check';
import { BatchlabError } from '../../src/core/errors.js';
import { isControlChar } from '../../src/core/text.js';

/** The seed of every property run: a failure is reproduced by running the file again. */
export const PROPERTY_SEED = 20_251_129;

export interface Tally {
  tried: number;
  parsed: number;
  refused: number;
}

/** Throws unless `err` is a BatchlabError with exit code 2 and a one-line message free of control characters. */
export function assertTypedRefusal(err: unknown): asserts err is BatchlabError {
  if (!(err instanceof BatchlabError)) {
    throw new assert.AssertionError({
      message: `threw something other than a BatchlabError: ${(err as Error)?.stack ?? String(err)}`,
    });
  }
  assert.equal(err.exitCode, 2, `exit code of ${err.code}: ${err.message}`);
  for (const ch of err.message) {
    assert.ok(
      !isControlChar(ch.codePointAt(0) as number),
      `raw control character U+${ch.codePointAt(0)!.toString(16)} in: ${JSON.stringify(err.message)}`,
    );
  }
}

/**
 * Runs the property over `numRuns` inputs of `arbitrary`: `parse(input)` returns a value that `valid`
 * accepts (it throws an assertion error otherwise), or throws a typed refusal. Returns the tally.
 */
export function checkParser<T, V>(
  t: TestContext,
  opts: {
    arbitrary: fc.Arbitrary<T>;
    numRuns: number;
    parse: (input: T) => V;
    valid: (value: V, input: T) => void;
  },
): Tally {
  const tally: Tally = { tried: 0, parsed: 0, refused: 0 };
  fc.assert(
    fc.property(opts.arbitrary, (input) => {
      tally.tried++;
      let value: V;
      try {
        value = opts.parse(input);
      } catch (err) {
        assertTypedRefusal(err);
        tally.refused++;
        return;
      }
      opts.valid(value, input);
      tally.parsed++;
    }),
    { seed: PROPERTY_SEED, numRuns: opts.numRuns },
  );
  t.diagnostic(
    `property inputs tried: ${tally.tried} [${t.name.split(':')[0]}] (${tally.parsed} parsed, ${tally.refused} refused)`,
  );
  assert.ok(tally.parsed > 0 && tally.refused > 0, `the generator reaches both outcomes: ${JSON.stringify(tally)}`);
  return tally;
}

/** Characters worth mixing into user text: separators, signs, digits, quotes, controls, bidi marks, non-ASCII. */
const NASTY_CHARS = [
  ',',
  '=',
  ':',
  '.',
  '-',
  '+',
  ' ',
  '\t',
  '\n',
  '\r',
  '"',
  "'",
  '\\',
  '/',
  '{',
  '}',
  '$',
  '0',
  '1',
  '9',
  'e',
  'E',
  'x',
  'k',
  'K',
  'i',
  'B',
  'G',
  'M',
  '\u0000',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u202e',
  '\u2028',
  'é',
  '日',
  '🙂',
];

/** Short strings mixing NASTY_CHARS with any Unicode text. */
export function nastyString(maxLength = 24): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: fc.constantFrom(...NASTY_CHARS), maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ maxLength }),
  );
}

/** Text of a number as a user might type it: integers, decimals, exponents, signs, huge digit runs, junk. */
export function numberText(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: -10, max: 5000 }).map(String),
    fc.double({ noNaN: false }).map(String),
    fc.double({ min: 0, max: 2, noNaN: true }).map((v) => v.toFixed(3)),
    fc.constantFrom(
      '0',
      '1',
      '01',
      '+8',
      '1e3',
      '1.',
      '.5',
      '0x10',
      '1_000',
      'NaN',
      'Infinity',
      '',
      ' 7 ',
      '9'.repeat(40),
    ),
    nastyString(6),
  );
}
