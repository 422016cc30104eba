/**
 * A dataset is plain typed arrays: no tensors, no engine import. Trainers turn batches of these into
 * whatever their engine wants.
 */

export type Task = 'classification' | 'regression';

/** One split of a dataset. Sample i's input is x[i*F .. (i+1)*F) with F = prod(inputShape). */
export interface Split {
  x: Float32Array;
  /** Classification: Int32Array of `count` class ids. Regression: Float32Array of count*targetDim. */
  y: Int32Array | Float32Array;
  count: number;
}

export interface Dataset {
  name: string;
  task: Task;
  /** Per-sample input shape, e.g. [28, 28, 1] for images (NHWC, channels last), [4] for iris. */
  inputShape: number[];
  /** Classes for classification; 0 for regression. */
  numClasses: number;
  /** Target width for regression (1 for linreg); 1 for classification (one int label per sample). */
  targetDim: number;
  /** x has count*prod(inputShape) floats; y has count labels (Int32Array) or count*targetDim floats. */
  train: Split;
  /** Held-out split, always present. */
  test: Split;
  /** Free-form facts for `batchlab datasets` and reports (source, split rule, seed, ...). */
  info: Record<string, string | number>;
  /** For linreg only: the true weights w*, and noise sigma, so tests can compute exact gradient statistics. */
  truth?: { weights: Float32Array; bias: number; noiseSigma: number };
}

/** What `batchlab datasets` lists; cheap to produce (no data is read). */
export interface DatasetInfo {
  name: string;
  task: Task;
  /** Training samples with default options; null when it depends on the user's file. */
  trainCount: number | null;
  /** Held-out samples with default options; null when it depends on the user's file. */
  testCount: number | null;
  /** Per-sample input shape; null when it depends on the user's file. */
  inputShape: number[] | null;
  /** Classes (0 for regression); null when it depends on the user's file. */
  numClasses: number | null;
  /** True when `file` must be given. */
  needsFile: boolean;
  description: string;
}

/**
 * Options for `loadDataset`. Every field is optional; a field a dataset does not use is rejected by
 * name (UsageError) so a typo'd or misplaced option is never silently ignored.
 */
export interface LoadOptions {
  /** Keep only the first `limit` training samples after a seeded shuffle (see registry.ts for the test cap). */
  limit?: number;
  /** Seed for splits, subsets and synthetic data (any integer; default DEFAULT_SEED = 0). */
  seed?: number;
  /** Held-out fraction where batchlab makes the split (fashion-mnist, iris, csv, idx, one cifar10 file). */
  testFraction?: number;
  /** csv / idx / cifar10: the data file (cifar10 also takes a directory). */
  file?: string;
  /** idx: the labels file (default: `file` with "images" -> "labels" and "idx3" -> "idx1"). */
  labelsFile?: string;
  /** idx: optional held-out images file; when given, no split is made. */
  testFile?: string;
  /** idx: labels for `testFile` (default derived from it as for `labelsFile`). */
  testLabelsFile?: string;
  /** csv: the label/target column, a 0-based index (negative counts from the end) or a header name. Default: last. */
  labelColumn?: number | string;
  /** csv: 'regression' for a float target; default 'classification'. */
  task?: Task;
  /** csv: whether line 1 is a header; default: yes when none of its cells is a number. */
  header?: boolean;
  /** Synthetic: training samples (default 4096). */
  trainCount?: number;
  /** Synthetic: held-out samples (default 1024). */
  testCount?: number;
  /** linreg: input dimension d (default 10). */
  dim?: number;
  /** Synthetic noise standard deviation (linreg default 0.5, spiral 0.05, gauss 1). */
  noiseSigma?: number;
  /** spiral: number of arms = classes (default 3). */
  numClasses?: number;
}
