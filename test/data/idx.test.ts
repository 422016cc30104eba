import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataFileError } from '../../src/core/errors.js';
import { parseIdx, readIdxFile } from '../../src/data/idx.js';
import { labelsFileFor } from '../../src/data/idx-dataset.js';
import { loadDataset } from '../../src/data/registry.js';
import { idxBytes, tempDir, thrown } from './helpers.js';

test('parseIdx reads every standard element type big-endian', () => {
  const cases: [number, string, number[]][] = [
    [0x08, 'ubyte', [0, 1, 200, 255]],
    [0x09, 'byte', [-128, -1, 0, 127]],
    [0x0b, 'short', [-32768, -2, 258, 32767]],
    [0x0c, 'int', [-2147483648, -3, 65536 + 7, 2147483647]],
    [0x0d, 'float', [-1.5, 0, 0.25, 2 ** 40]],
    [0x0e, 'double', [-1e-300, 0, Math.PI, 1e300]],
  ];
  for (const [type, name, values] of cases) {
    const t = parseIdx(idxBytes(type, [2, 2], values), 'x.idx');
    assert.equal(t.type, name);
    assert.deepEqual(t.dims, [2, 2]);
    assert.deepEqual(Array.from(t.data), values, name);
  }
});

test('parseIdx reads MNIST-shaped ubyte images and labels', () => {
  const images = parseIdx(
    idxBytes(
      0x08,
      [3, 2, 2],
      Array.from({ length: 12 }, (_, i) => i * 20),
    ),
    'img',
  );
  assert.deepEqual(images.dims, [3, 2, 2]);
  assert.equal(images.data[11], 220);
  const labels = parseIdx(idxBytes(0x08, [3], [7, 0, 9]), 'lab');
  assert.deepEqual(Array.from(labels.data), [7, 0, 9]);
});

test('readIdxFile inflates gzip-compressed files', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'labels-idx1-ubyte.gz');
    writeFileSync(file, gzipSync(idxBytes(0x08, [4], [1, 2, 3, 4])));
    assert.deepEqual(Array.from(readIdxFile(file).data), [1, 2, 3, 4]);
  } finally {
    cleanup();
  }
});

/** Asserts that parsing `bytes` throws a DataFileError whose message matches every pattern. */
function assertBad(bytes: Uint8Array, ...patterns: RegExp[]): void {
  const err = thrown(() => parseIdx(bytes, '/tmp/bad.idx'));
  assert.ok(err instanceof DataFileError, `expected DataFileError, got ${err}`);
  assert.equal(err.code, 'BATCHLAB_BAD_DATA_FILE');
  assert.match(err.message, /^\/tmp\/bad\.idx: /);
  for (const p of patterns) assert.match(err.message, p);
}

test('corrupt IDX files throw DataFileError saying what was expected and found', () => {
  assertBad(new Uint8Array([0, 0, 8]), /too short/, /found 3 bytes/);
  const wrongMagic = idxBytes(0x08, [2], [1, 2]);
  wrongMagic[0] = 0x12;
  assertBad(wrongMagic, /expected magic/, /found 0x12000801/);
  const badType = idxBytes(0x08, [2], [1, 2]);
  badType[2] = 0x07;
  assertBad(badType, /found 0x00000701/);
  assertBad(
    idxBytes(0x08, [3, 4], new Array(12).fill(0)).subarray(0, 10),
    /header truncated/,
    /expected 12 header bytes/,
  );
  assertBad(idxBytes(0x08, [3, 4], new Array(11).fill(0)), /dims \[3, 4\] of ubyte need 12 data bytes/, /found 11/);
  assertBad(idxBytes(0x0c, [2], [1, 2, 3]), /need 8 data bytes/, /found 12/);
});

test('a missing file is a DataFileError naming the path', () => {
  const err = thrown(() => readIdxFile('/nonexistent/train-images-idx3-ubyte'));
  assert.ok(err instanceof DataFileError);
  assert.match(err.message, /\/nonexistent\/train-images-idx3-ubyte: cannot read file \(ENOENT\)/);
});

test('labelsFileFor follows the MNIST naming convention', () => {
  assert.equal(labelsFileFor('/d/train-images-idx3-ubyte'), '/d/train-labels-idx1-ubyte');
  assert.equal(labelsFileFor('/d/t10k-images.idx3-ubyte.gz'), '/d/t10k-labels.idx1-ubyte.gz');
  assert.equal(thrown(() => labelsFileFor('/d/pics.idx')).code, 'BATCHLAB_BAD_ARGUMENT');
});

test('the idx dataset loads an images/labels pair with a seeded stratified split', () => {
  const { dir, cleanup } = tempDir();
  try {
    const n = 20;
    const images = Array.from({ length: n * 4 }, (_, i) => (i * 7) % 256);
    const labels = Array.from({ length: n }, (_, i) => i % 2);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxBytes(0x08, [n, 2, 2], images));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxBytes(0x08, [n], labels));
    const ds = loadDataset('idx', { file: join(dir, 'train-images-idx3-ubyte'), testFraction: 0.2, seed: 3 });
    assert.deepEqual(ds.inputShape, [2, 2, 1]);
    assert.equal(ds.numClasses, 2);
    assert.equal(ds.train.count, 16);
    assert.equal(ds.test.count, 4);
    assert.deepEqual(Array.from(ds.test.y).sort(), [0, 0, 1, 1]);
    // Every test sample is one of the originals, with its own label and pixels scaled by 1/255.
    for (let k = 0; k < ds.test.count; k++) {
      const i = images.indexOf(Math.round(ds.test.x[k * 4] * 255));
      assert.ok(i >= 0 && i % 4 === 0);
      assert.equal(ds.test.y[k], labels[i / 4]);
      assert.ok(Math.abs(ds.test.x[k * 4 + 3] - images[i + 3] / 255) < 1e-7);
    }
  } finally {
    cleanup();
  }
});

test('the idx dataset rejects a labels file with a different sample count', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'a-images'), idxBytes(0x08, [3, 2, 2], new Array(12).fill(1)));
    writeFileSync(join(dir, 'a-labels'), idxBytes(0x08, [4], [0, 1, 2, 3]));
    const err = thrown(() => loadDataset('idx', { file: join(dir, 'a-images') }));
    assert.ok(err instanceof DataFileError);
    assert.match(err.message, /a-labels: holds 4 labels but .*a-images holds 3 images/);
  } finally {
    cleanup();
  }
});

test('the idx dataset takes a held-out pair from testFile, and float labels as regression targets', () => {
  const { dir, cleanup } = tempDir();
  try {
    const f = (name: string) => join(dir, name);
    writeFileSync(f('tr-images'), idxBytes(0x0d, [3, 2], [0.5, 1, 1.5, 2, 2.5, 3]));
    writeFileSync(f('tr-labels'), idxBytes(0x0d, [3], [10, 20, 30]));
    writeFileSync(f('te-images'), idxBytes(0x0d, [1, 2], [7, 8]));
    writeFileSync(f('te-labels'), idxBytes(0x0d, [1], [40]));
    const ds = loadDataset('idx', { file: f('tr-images'), testFile: f('te-images') });
    assert.equal(ds.task, 'regression');
    assert.deepEqual(ds.inputShape, [2]);
    assert.deepEqual(Array.from(ds.train.x), [0.5, 1, 1.5, 2, 2.5, 3]); // floats are kept, not scaled
    assert.deepEqual(Array.from(ds.train.y), [10, 20, 30]);
    assert.deepEqual(Array.from(ds.test.y), [40]);
    writeFileSync(f('te-images'), idxBytes(0x0d, [1, 3], [7, 8, 9]));
    writeFileSync(f('te-labels'), idxBytes(0x0d, [1], [40]));
    assert.match(
      thrown(() => loadDataset('idx', { file: f('tr-images'), testFile: f('te-images') })).message,
      /held-out samples have shape \[3\]/,
    );
  } finally {
    cleanup();
  }
});
