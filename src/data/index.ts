/** Public API of src/data: datasets as plain typed arrays. */
export type { Dataset, DatasetInfo, LoadOptions, Split, Task } from './types.js';
export { DATASET_NAMES, DEFAULT_SEED, DEFAULT_TEST_FRACTION, listDatasets, loadDataset } from './registry.js';
export { createRng, deriveSeed, permutation, shuffleInPlace, type Rng } from '../core/random.js';
export {
  applyLimit,
  featureSize,
  gatherSplit,
  randomSplitIndices,
  stratifiedSplitIndices,
  type SplitIndices,
} from './split.js';
export { applyStandardization, fitStandardization, type Standardization } from './standardize.js';
export { parseIdx, readIdxFile, type IdxTensor } from './idx.js';
export { parseCsv } from './csv.js';
export { parseCifarBatch } from './cifar.js';
