/**
 * Checks every file-based loader applies, so that a file that parses but cannot be trained on is refused
 * with a DataFileError naming the file, not by a crash later (a class id of 10^9 once made the one-hot
 * targets fail with "Invalid typed array length", which find-max then took for an out-of-memory).
 */
import { DataFileError } from '../core/errors.js';
import type { Dataset } from './types.js';

/**
 * Most classes a dataset read from a file may have. The model's output layer and the one-hot targets are
 * numClasses wide, so a class id far above the number of samples is a typo or a numeric target, not a class.
 */
export const MAX_CLASSES = 65_536;

/** Why `id` cannot be a class id, or undefined when it can (an integer in [0, MAX_CLASSES)). */
export function classIdProblem(id: number): string | undefined {
  if (!Number.isInteger(id) || id < 0) return 'is not a class id (an integer >= 0)';
  if (id >= MAX_CLASSES)
    return `is above ${MAX_CLASSES - 1}, the largest class id batchlab accepts (class ids run 0..K-1 for K classes)`;
  return undefined;
}

/** The training split must hold at least one sample after the held-out split was taken. */
export function requireTrainingSamples<T extends Pick<Dataset, 'train' | 'test'>>(ds: T, file: string): T {
  if (ds.train.count >= 1) return ds;
  const total = ds.train.count + ds.test.count;
  throw new DataFileError(
    file,
    `holds ${total} sample${total === 1 ? '' : 's'}, which leaves none for training after the held-out split; ` +
      'add samples or pass a smaller test fraction',
  );
}
