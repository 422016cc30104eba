/**
 * CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"): files
 * data_batch_1.bin .. data_batch_5.bin and test_batch.bin, each a sequence of 3073-byte records:
 * 1 label byte (0..9), then 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, each a 32x32 image in
 * row-major order. Output is NHWC [32, 32, 3], pixels scaled to [0, 1].
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataFileError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import { readDataFile } from './files.js';
import { PIXEL_MAX } from './pixels.js';
import { deriveSeed } from '../core/random.js';
import { gatherSplit, stratifiedSplitIndices } from './split.js';
import type { Dataset, Split } from './types.js';
import { requireTrainingSamples } from './validate.js';

const CIFAR_SIDE = 32;
const CIFAR_CHANNELS = 3;
/** Pixels per channel plane (32 x 32). */
const CIFAR_PLANE = CIFAR_SIDE * CIFAR_SIDE;
/** Bytes per image (3 planes). */
const CIFAR_IMAGE_BYTES = CIFAR_PLANE * CIFAR_CHANNELS;
/** Bytes per record: label + image. */
export const CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;
const CIFAR_CLASSES = 10;
/** Class names by id, from the data set's batches.meta.txt. */
export const CIFAR_CLASS_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/**
 * Decodes the records of one CIFAR-10 binary file. Pixel (row r, col c, channel ch) of record i is
 * byte 1 + ch*1024 + r*32 + c of the record; it goes to x[((i*32 + r)*32 + c)*3 + ch] / 255.
 * Throws DataFileError for a length that is not a multiple of 3073 or a label above 9.
 */
export function parseCifarBatch(bytes: Uint8Array, file: string): Split {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD_BYTES !== 0) {
    throw new DataFileError(
      file,
      `length ${bytes.length} bytes is not a positive multiple of ${CIFAR_RECORD_BYTES} (1 label byte + 3072 pixel bytes per CIFAR-10 record); the file is truncated or not CIFAR-10 binary`,
    );
  }
  const count = bytes.length / CIFAR_RECORD_BYTES;
  const x = new Float32Array(count * CIFAR_IMAGE_BYTES);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const rec = i * CIFAR_RECORD_BYTES;
    if (bytes[rec] >= CIFAR_CLASSES) {
      throw new DataFileError(file, `record ${i} (byte ${rec}) has label ${bytes[rec]}; CIFAR-10 labels are 0..9`);
    }
    y[i] = bytes[rec];
    const out = i * CIFAR_IMAGE_BYTES;
    for (let ch = 0; ch < CIFAR_CHANNELS; ch++) {
      const plane = rec + 1 + ch * CIFAR_PLANE;
      for (let p = 0; p < CIFAR_PLANE; p++) x[out + p * CIFAR_CHANNELS + ch] = bytes[plane + p] / PIXEL_MAX;
    }
  }
  return { x, y, count };
}

/** Concatenates splits (same per-sample sizes) in order. */
function concatSplits(parts: Split[]): Split {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const x = new Float32Array(count * CIFAR_IMAGE_BYTES);
  const y = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at * CIFAR_IMAGE_BYTES);
    y.set(p.y, at);
    at += p.count;
  }
  return { x, y, count };
}

/** data_batch_*.bin files of `dir`, in numeric order, and its test_batch.bin. */
function cifarDirFiles(dir: string): { trainFiles: string[]; testFile: string } {
  const names = readdirSync(dir);
  const batchNumber = (n: string) => Number(/^data_batch_(\d+)\.bin$/.exec(n)?.[1] ?? NaN);
  const trainNames = names
    .filter((n) => Number.isFinite(batchNumber(n)))
    .sort((a, b) => batchNumber(a) - batchNumber(b));
  if (trainNames.length === 0 || !names.includes('test_batch.bin')) {
    throw new DataFileError(
      dir,
      `expected CIFAR-10 binary files data_batch_1.bin .. data_batch_5.bin and test_batch.bin, found: ${escapeControl(names.join(', ')) || 'nothing'}`,
    );
  }
  return { trainFiles: trainNames.map((n) => join(dir, n)), testFile: join(dir, 'test_batch.bin') };
}

/** Reads and decodes one CIFAR-10 binary file. */
function readCifarFile(file: string): Split {
  return parseCifarBatch(readDataFile(file), file);
}

/**
 * The `cifar10` dataset. `file` a directory: its data_batch_*.bin files are the training split and
 * test_batch.bin the held-out split. `file` one .bin file: a seeded stratified held-out split of
 * `testFraction` (stream deriveSeed(seed, 'split')).
 */
export function loadCifar10(opts: { file: string; seed: number; testFraction: number }): Dataset {
  let train: Split;
  let test: Split;
  let splitRule: string;
  if (isDirectory(opts.file)) {
    const files = cifarDirFiles(opts.file);
    train = concatSplits(files.trainFiles.map(readCifarFile));
    test = readCifarFile(files.testFile);
    splitRule = `${files.trainFiles.length} data_batch files / test_batch.bin`;
  } else {
    const all = readCifarFile(opts.file);
    const idx = stratifiedSplitIndices(all.y, {
      testFraction: opts.testFraction,
      seed: deriveSeed(opts.seed, 'split'),
    });
    const sizes = { xSize: CIFAR_IMAGE_BYTES, ySize: 1 };
    train = gatherSplit(all, idx.trainIndices, sizes);
    test = gatherSplit(all, idx.testIndices, sizes);
    splitRule = `seeded stratified held-out split, testFraction ${opts.testFraction}`;
  }
  return requireTrainingSamples(
    {
      name: 'cifar10',
      task: 'classification',
      inputShape: [CIFAR_SIDE, CIFAR_SIDE, CIFAR_CHANNELS],
      numClasses: CIFAR_CLASSES,
      targetDim: 1,
      train,
      test,
      info: { source: opts.file, split: splitRule, seed: opts.seed, classes: CIFAR_CLASS_NAMES.join(', ') },
    },
    opts.file,
  );
}

/** True when `path` is an existing directory (a missing path is reported later by the file read). */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
