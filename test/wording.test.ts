/**
 * The claims batchlab checks about batch size are "the usual advice" (or "the claim"), never "the seed": a
 * user reads "seed" as the random seed. This scans every file a user's words come from (the source, the page
 * code and styles, the docs and the README) for phrases that call the advice "the seed", and the old JSON
 * field `agreesWithSeed`, which only the store may name (to read summaries written before verdicts) and the
 * API docs (to say what became of it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCANNED = ['src', 'web/src', 'web/app.css', 'docs', 'README.md'];
const EXTENSIONS = /\.(ts|css|md|html)$/;

/** Phrases that use "seed" for the usual advice. */
const ADVICE_AS_SEED = [
  /\b(?:agree|agrees|agreeing|contradict|contradicts|contradicting)\s+(?:with\s+)?the\s+seed\b/i,
  /\bthe\s+seed(?:'s)?\s+(?:text|claims?|advice|says|describes)\b/i,
  /\bseed[- ](?:text|claims?|advice)\b/i,
  /\beffects?\s+of\s+the\s+seed\b/i,
  /\bseed-en\.md\b/i,
];

/**
 * Files allowed to name the old field: the store reads it from summaries stored before verdicts, and the
 * API docs tell a reader of old JSON what became of it.
 */
const OLD_FIELD_ALLOWED = new Set(['src/store/stored-json.ts', 'docs/api.md']);

function files(path: string): string[] {
  const full = join(ROOT, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full).flatMap((name) => files(join(path, name)));
}

test('no user-facing text calls the usual advice "the seed"; only the store (and its docs) name agreesWithSeed', () => {
  const scanned = SCANNED.flatMap(files).filter((f) => EXTENSIONS.test(f));
  assert.ok(scanned.length > 100, `scanned ${scanned.length} files`);
  const found: string[] = [];
  for (const file of scanned) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const where = `${relative('.', file)}:${i + 1}: ${line.trim()}`;
      if (ADVICE_AS_SEED.some((p) => p.test(line))) found.push(where);
      if (/agreesWithSeed/.test(line) && !OLD_FIELD_ALLOWED.has(file)) found.push(where);
    });
  }
  assert.deepEqual(found, []);
});

test('the scan catches the phrases it is meant to', () => {
  for (const bad of [
    '(contradicts the seed)',
    'agrees with the seed',
    'the seed claims smaller batches generalize better',
    "the seed's claims",
    'a claim of the seed text',
  ]) {
    assert.ok(
      ADVICE_AS_SEED.some((p) => p.test(bad)),
      bad,
    );
  }
  for (const fine of ['each seed runs every batch size', '--seeds 1,2,3', 'the seed of the sample order']) {
    assert.ok(!ADVICE_AS_SEED.some((p) => p.test(fine)), fine);
  }
});
