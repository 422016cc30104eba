import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataFileError } from '../../src/core/errors.js';
import { scanFashionJson } from '../../src/data/fashion.js';
import { loadDataset } from '../../src/data/registry.js';
import { thrown } from './helpers.js';

const CLOTHES_DIR = join(
  dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')),
  'src',
  'clothes',
);
/** Generous bound for a busy machine; typical loads take ~0.7-1.2 s. */
const FASHION_LOAD_BUDGET_MS = 5000;

test('scanFashionJson matches JSON.parse on a real class file, dropping the empty rows', () => {
  const file = join(CLOTHES_DIR, '0.json');
  const bytes = readFileSync(file);
  const reference = (JSON.parse(bytes.toString('utf8')) as { data: number[][] }).data;
  const nonEmpty = reference.filter((row) => row.length > 0);
  assert.equal(reference.length - nonEmpty.length, 2); // the package's two empty rows are in 0.json
  const { pixels, count } = scanFashionJson(bytes, file);
  assert.equal(count, nonEmpty.length);
  assert.deepEqual(pixels, Uint8Array.from(nonEmpty.flat()));
});

test('scanFashionJson rejects short rows, big values, stray characters and truncation', () => {
  const scan = (text: string) => thrown(() => scanFashionJson(Buffer.from(text), 'c.json'));
  const row = new Array(784).fill(1).join(',');
  assert.match(scan(`{"data":[[${row}],[1,2,3]]}`).message, /image row has 3 pixels, expected 784/);
  assert.match(scan(`{"data":[[256${row.slice(1)}]]}`).message, /pixel value 256 is above 255/);
  assert.match(scan(`{"data":[[1.5,${row}]]}`).message, /unexpected character "\."/);
  const truncated = scan(`{"data":[[${row}`);
  assert.ok(truncated instanceof DataFileError);
  assert.match(truncated.message, /^c\.json: line 1 .*truncated/);
});

test('fashion-mnist loads 60000/10000 with a stratified test split (1000 per class)', (t) => {
  const start = performance.now();
  const ds = loadDataset('fashion-mnist');
  t.diagnostic(`fashion-mnist loaded in ${(performance.now() - start).toFixed(0)} ms`);
  assert.ok(performance.now() - start < FASHION_LOAD_BUDGET_MS);
  assert.equal(ds.train.count, 60000);
  assert.equal(ds.test.count, 10000);
  assert.deepEqual(ds.inputShape, [28, 28, 1]);
  assert.equal(ds.train.x.length, 60000 * 784);
  const testCounts = new Array(10).fill(0);
  for (const v of ds.test.y) testCounts[v]++;
  assert.deepEqual(testCounts, new Array(10).fill(1000));
  const trainCounts = new Array(10).fill(0);
  for (const v of ds.train.y) trainCounts[v]++;
  assert.deepEqual(trainCounts, new Array(10).fill(6000));
  // No empty (all-zero) images slipped in, and pixels are in [0, 1].
  for (let i = 0; i < ds.test.count; i++) {
    const img = ds.test.x.subarray(i * 784, (i + 1) * 784);
    assert.ok(
      img.some((v) => v > 0),
      `test image ${i} is blank`,
    );
    assert.ok(img.every((v) => v >= 0 && v <= 1));
  }
  // The training split is shuffled, not sorted by class: neighbours usually differ (9 in 10 by chance).
  let changes = 0;
  for (let i = 1; i < 1000; i++) if (ds.train.y[i] !== ds.train.y[i - 1]) changes++;
  assert.ok(changes > 800, `only ${changes} label changes in the first 1000 training samples`);
});

test('fashion-mnist split depends on the seed only', () => {
  const a = loadDataset('fashion-mnist', { seed: 1, limit: 100 });
  const b = loadDataset('fashion-mnist', { seed: 1, limit: 100 });
  const c = loadDataset('fashion-mnist', { seed: 2, limit: 100 });
  assert.deepEqual(a.train.y, b.train.y);
  assert.deepEqual(a.train.x, b.train.x);
  assert.notDeepEqual(a.train.x, c.train.x);
});
