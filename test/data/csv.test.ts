import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataFileError } from '../../src/core/errors.js';
import { classLabels, parseCsv } from '../../src/data/csv.js';
import { loadDataset } from '../../src/data/registry.js';
import { tempDir, thrown } from './helpers.js';

/** Writes `text` to a temp CSV file, runs `fn(path)`, and cleans up. */
function withCsv<T>(text: string, fn: (file: string) => T): T {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'data.csv');
    writeFileSync(file, text);
    return fn(file);
  } finally {
    cleanup();
  }
}

test('parseCsv detects a header, reads features and picks the last column as label', () => {
  const t = parseCsv('a,b,label\n1,2,0\n3.5,-4e-1,1\n\n', { file: 'f.csv' });
  assert.deepEqual(t.columnNames, ['a', 'b', 'label']);
  assert.equal(t.featureCount, 2);
  assert.deepEqual(Array.from(t.x), [1, 2, 3.5, Math.fround(-0.4)]);
  assert.deepEqual(t.labels, ['0', '1']);
  assert.deepEqual(t.lines, [2, 3]);
});

test('parseCsv without a header, with labelColumn by index and by name', () => {
  const t = parseCsv('7,1,2\n8,3,4\n', { file: 'f.csv', labelColumn: 0 });
  assert.equal(t.columnNames, null);
  assert.deepEqual(Array.from(t.x), [1, 2, 3, 4]);
  assert.deepEqual(t.labels, ['7', '8']);
  const named = parseCsv('y,x1\n1,5\n0,6\n', { file: 'f.csv', labelColumn: 'y' });
  assert.deepEqual(Array.from(named.x), [5, 6]);
  assert.equal(
    thrown(() => parseCsv('y,x1\n1,5\n', { file: 'f.csv', labelColumn: 'z' })).code,
    'BATCHLAB_BAD_ARGUMENT',
  );
  assert.equal(thrown(() => parseCsv('1,5\n', { file: 'f.csv', labelColumn: 2 })).code, 'BATCHLAB_BAD_ARGUMENT');
});

test('integer labels give numClasses = max + 1; string labels are ids in sorted order', () => {
  const ints = classLabels(parseCsv('1,0\n2,4\n3,2\n', { file: 'f.csv' }), 'f.csv');
  assert.deepEqual(Array.from(ints.y), [0, 4, 2]);
  assert.equal(ints.numClasses, 5);
  const names = classLabels(parseCsv('1,virginica\n2,setosa\n3,versicolor\n4,setosa\n', { file: 'f.csv' }), 'f.csv');
  assert.deepEqual(Array.from(names.y), [2, 0, 1, 0]);
  assert.deepEqual(names.classNames, ['setosa', 'versicolor', 'virginica']);
});

test('a ragged row throws DataFileError naming the file and 1-based line', () => {
  const err = thrown(() => parseCsv('a,b,c\n1,2,0\n\n3,4\n', { file: '/x/data.csv' }));
  assert.ok(err instanceof DataFileError);
  assert.equal(err.code, 'BATCHLAB_BAD_DATA_FILE');
  assert.match(err.message, /^\/x\/data\.csv: line 4 has 2 cells, expected 3/);
});

test('a non-number cell throws DataFileError with the line, column and the cell', () => {
  const err = thrown(() => parseCsv('a,b,c\n1,2,0\n3,abc,1\n', { file: '/x/data.csv' }));
  assert.ok(err instanceof DataFileError);
  assert.match(err.message, /^\/x\/data\.csv: line 3, column 2 \("b"\): "abc" is not a number/);
  const empty = thrown(() => parseCsv('1,2,0\n3,,1\n', { file: 'f.csv' }));
  assert.match(empty.message, /line 2, column 2: "" is not a number/);
});

test('a fractional label for classification says to use task regression', () => {
  const err = thrown(() => classLabels(parseCsv('1,0\n2,1.5\n', { file: 'f.csv' }), 'f.csv'));
  assert.ok(err instanceof DataFileError);
  assert.match(err.message, /line 2: label "1.5" is not a class id.*regression/);
});

test('csv dataset: stratified seeded split, reproducible by seed', () => {
  const rows = Array.from({ length: 50 }, (_, i) => `${i},${i * 2},${i % 2 === 0 ? 'cat' : 'dog'}`);
  withCsv(`f1,f2,animal\n${rows.join('\n')}\n`, (file) => {
    const a = loadDataset('csv', { file, seed: 5 });
    assert.equal(a.task, 'classification');
    assert.equal(a.numClasses, 2);
    assert.equal(a.train.count, 40);
    assert.equal(a.test.count, 10);
    assert.equal(Array.from(a.test.y).filter((v) => v === 0).length, 5);
    for (let k = 0; k < a.train.count; k++) {
      assert.equal(a.train.x[2 * k + 1], 2 * a.train.x[2 * k]);
      assert.equal(a.train.y[k], a.train.x[2 * k] % 2);
    }
    assert.deepEqual(loadDataset('csv', { file, seed: 5 }).test.x, a.test.x);
    assert.notDeepEqual(loadDataset('csv', { file, seed: 6 }).test.x, a.test.x);
  });
});

test('csv dataset with task regression keeps float targets', () => {
  withCsv('x,y\n1,0.5\n2,1.5\n3,2.5\n4,3.5\n5,4.5\n', (file) => {
    const ds = loadDataset('csv', { file, task: 'regression', testFraction: 0.4 });
    assert.equal(ds.task, 'regression');
    assert.equal(ds.numClasses, 0);
    assert.ok(ds.train.y instanceof Float32Array);
    assert.equal(ds.train.count + ds.test.count, 5);
    for (let k = 0; k < ds.train.count; k++) assert.equal(ds.train.y[k], ds.train.x[k] - 0.5);
  });
  withCsv('x,y\n1,0.5\n2,oops\n', (file) => {
    assert.match(
      thrown(() => loadDataset('csv', { file, task: 'regression' })).message,
      /line 3: target "oops" is not a number/,
    );
  });
});
