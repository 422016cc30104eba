import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataFileError } from '../../src/core/errors.js';
import { parseCifarBatch } from '../../src/data/cifar.js';
import { loadDataset } from '../../src/data/registry.js';
import { cifarRecord, concatBytes, tempDir, thrown } from './helpers.js';

/** A distinct byte for pixel p of channel ch of image `seed`. */
const pixelOf = (seed: number) => (p: number, ch: number) => (p * 7 + ch * 50 + seed * 13) % 256;

test('parseCifarBatch turns planar RGB records into NHWC floats in [0, 1]', () => {
  const bytes = concatBytes([cifarRecord(3, pixelOf(0)), cifarRecord(9, pixelOf(1))]);
  const split = parseCifarBatch(bytes, 'b.bin');
  assert.equal(split.count, 2);
  assert.deepEqual(Array.from(split.y), [3, 9]);
  for (const [i, r, c, ch] of [
    [0, 0, 0, 0],
    [0, 0, 1, 2],
    [1, 31, 31, 1],
    [1, 5, 17, 2],
  ]) {
    const p = r * 32 + c;
    assert.equal(split.x[i * 3072 + p * 3 + ch], Math.fround(pixelOf(i)(p, ch) / 255), `image ${i} (${r},${c},${ch})`);
  }
});

test('a CIFAR file whose length is not a multiple of 3073 throws DataFileError', () => {
  const bytes = concatBytes([cifarRecord(1, pixelOf(0)), new Uint8Array(100)]);
  const err = thrown(() => parseCifarBatch(bytes, '/d/data_batch_1.bin'));
  assert.ok(err instanceof DataFileError);
  assert.equal(err.code, 'BATCHLAB_BAD_DATA_FILE');
  assert.match(err.message, /^\/d\/data_batch_1\.bin: length 3173 bytes is not a positive multiple of 3073/);
  assert.match(thrown(() => parseCifarBatch(new Uint8Array(0), 'e.bin')).message, /length 0 bytes/);
});

test('a CIFAR label above 9 throws DataFileError naming the record', () => {
  const bytes = concatBytes([cifarRecord(1, pixelOf(0)), cifarRecord(10, pixelOf(1))]);
  const err = thrown(() => parseCifarBatch(bytes, 'b.bin'));
  assert.ok(err instanceof DataFileError);
  assert.match(err.message, /record 1 \(byte 3073\) has label 10; CIFAR-10 labels are 0\.\.9/);
});

test('cifar10 from a directory uses data_batch_* as train and test_batch as test', () => {
  const { dir, cleanup } = tempDir();
  try {
    const batches = join(dir, 'cifar-10-batches-bin');
    mkdirSync(batches);
    // Files written out of order: data_batch_10 must come after data_batch_2.
    writeFileSync(join(batches, 'data_batch_10.bin'), concatBytes([cifarRecord(7, pixelOf(7))]));
    writeFileSync(
      join(batches, 'data_batch_2.bin'),
      concatBytes([cifarRecord(2, pixelOf(2)), cifarRecord(3, pixelOf(3))]),
    );
    writeFileSync(join(batches, 'test_batch.bin'), concatBytes([cifarRecord(5, pixelOf(5))]));
    writeFileSync(join(batches, 'batches.meta.txt'), 'airplane\n');
    const ds = loadDataset('cifar10', { file: batches });
    assert.deepEqual(ds.inputShape, [32, 32, 3]);
    assert.deepEqual(Array.from(ds.train.y), [2, 3, 7]);
    assert.deepEqual(Array.from(ds.test.y), [5]);
    assert.equal(ds.train.x[2 * 3072 + 1], Math.fround(pixelOf(7)(0, 1) / 255));
  } finally {
    cleanup();
  }
});

test('cifar10 from one file makes a seeded stratified split', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'data_batch_1.bin');
    writeFileSync(file, concatBytes(Array.from({ length: 20 }, (_, i) => cifarRecord(i % 2, pixelOf(i)))));
    const ds = loadDataset('cifar10', { file, seed: 1 });
    assert.equal(ds.train.count, 16);
    assert.deepEqual(Array.from(ds.test.y).sort(), [0, 0, 1, 1]);
  } finally {
    cleanup();
  }
});

test('cifar10 on a directory without the batch files says which files it expects', () => {
  const { dir, cleanup } = tempDir();
  try {
    const err = thrown(() => loadDataset('cifar10', { file: dir }));
    assert.ok(err instanceof DataFileError);
    assert.match(err.message, /expected CIFAR-10 binary files data_batch_1\.bin/);
  } finally {
    cleanup();
  }
});
