/**
 * Bad input files give a typed error (BatchlabError, exit 2) naming the file and the value, never a
 * stack: the classes of issue 12 ("Bad input"), each with a case that failed before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchlabError } from '../../src/core/errors.js';
import { decodeIdxPair } from '../../src/data/idx-dataset.js';
import { parseIdx } from '../../src/data/idx.js';
import { loadDataset } from '../../src/data/registry.js';
import { MAX_CLASSES } from '../../src/data/validate.js';
import { idxBytes, tempDir, thrown } from './helpers.js';

/** A one-line BATCHLAB_BAD_DATA_FILE error (exit 2) whose message matches `pattern`. */
function badFile(err: Error & { code?: string }, pattern: RegExp): void {
  assert.ok(err instanceof BatchlabError, `expected a BatchlabError, got ${err.stack}`);
  assert.equal(err.code, 'BATCHLAB_BAD_DATA_FILE');
  assert.equal(err.exitCode, 2);
  assert.ok(!/[\n\r]/.test(err.message), `one line: ${err.message}`);
  assert.match(err.message, pattern);
}

function withFile<T>(name: string, content: string | Uint8Array, fn: (file: string) => T): T {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, name);
    writeFileSync(file, content);
    return fn(file);
  } finally {
    cleanup();
  }
}

describe('CSV', () => {
  it('a huge class label is refused by name, not "Invalid typed array length"', () => {
    withFile('data.csv', '1,0\n2,1\n3,1000000000\n4,0\n', (file) => {
      badFile(
        thrown(() => loadDataset('csv', { file })),
        new RegExp(`line 3: label "1000000000" is above ${MAX_CLASSES - 1}, the largest class id batchlab accepts`),
      );
    });
    withFile('data.csv', `1,0\n2,${MAX_CLASSES - 1}\n3,1\n4,0\n5,1\n`, (file) => {
      assert.equal(loadDataset('csv', { file }).numClasses, MAX_CLASSES, 'the largest accepted id still loads');
    });
  });

  it('a label that is not an integer says how to load a numeric target, naming no flag that does not exist', () => {
    withFile('data.csv', '1,0\n2,1.5\n', (file) => {
      const err = thrown(() => loadDataset('csv', { file }));
      badFile(err, /line 2: label "1\.5" is not a class id \(an integer >= 0\); .*task: 'regression'/);
      assert.ok(!err.message.includes('--task'));
    });
  });

  it('a feature that overflows a 32-bit float is not a number', () => {
    withFile('data.csv', '1,0\n1e39,1\n', (file) => {
      badFile(
        thrown(() => loadDataset('csv', { file })),
        /line 2, column 1: "1e39" is not a number/,
      );
    });
  });

  it('control characters of a cell are escaped in the message', () => {
    withFile('data.csv', 'a,b\n1,0\n\u001b[2Jx,1\n', (file) => {
      badFile(
        thrown(() => loadDataset('csv', { file })),
        /"\\x1b\[2Jx" is not a number/,
      );
    });
  });

  it('too few rows to leave one for training after the held-out split', () => {
    withFile('data.csv', '1,0\n', (file) => {
      badFile(
        thrown(() => loadDataset('csv', { file, testFraction: 0.9 })),
        /holds 1 sample, which leaves none for training .*smaller test fraction/,
      );
    });
  });
});

describe('IDX', () => {
  const images = parseIdx(idxBytes(0x08, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]), 'images');
  const pair = (labels: Uint8Array) =>
    decodeIdxPair({ images, imagesFile: 'images', labels: parseIdx(labels, 'labels'), labelsFile: 'labels' });

  it('an int label of 2^31 - 1 is refused by name', () => {
    badFile(
      thrown(() => pair(idxBytes(0x0c, [2], [0, 2 ** 31 - 1]))),
      /^labels: label 1 is 2147483647, which is above 65535/,
    );
    badFile(
      thrown(() => pair(idxBytes(0x0c, [2], [0, -3]))),
      /label 1 is -3, which is not a class id/,
    );
  });

  it('a NaN input or target, and a dimension of 0', () => {
    const nanImages = parseIdx(idxBytes(0x0d, [1, 2, 2], [0, Number.NaN, 0, 0]), 'f');
    badFile(
      thrown(() =>
        decodeIdxPair({
          images: nanImages,
          imagesFile: 'f',
          labels: parseIdx(idxBytes(0x08, [1], [0]), 'l'),
          labelsFile: 'l',
        }),
      ),
      /^f: value 1 is NaN; every value must be a finite number/,
    );
    badFile(
      thrown(() => pair(idxBytes(0x0d, [2], [0.5, Number.POSITIVE_INFINITY]))),
      /target 1 is Infinity/,
    );
    const empty = parseIdx(idxBytes(0x08, [0, 28, 28], []), 'e');
    badFile(
      thrown(() =>
        decodeIdxPair({
          images: empty,
          imagesFile: 'e',
          labels: parseIdx(idxBytes(0x08, [0], []), 'l'),
          labelsFile: 'l',
        }),
      ),
      /holds no values: dims \[0, 28, 28\] include a 0/,
    );
  });

  it('a corrupt file: a wrong magic, a short header, a wrong length', () => {
    badFile(
      thrown(() => parseIdx(new Uint8Array([1, 2, 3, 4, 5]), 'x')),
      /not an IDX file/,
    );
    badFile(
      thrown(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0]), 'x')),
      /IDX header truncated/,
    );
    badFile(
      thrown(() => parseIdx(idxBytes(0x08, [4], [1, 2, 3, 4]).subarray(0, 9), 'x')),
      /need 4 data bytes .* found 1/,
    );
  });
});
