import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchlabError } from './errors.js';
import { MAX_REPLICATES, parseBatchList, parseBudget, parseSeeds, parseTarget, replicateSeeds } from './parse.js';

function refused(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof BatchlabError, `expected BatchlabError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  };
}

test('parseBatchList: sorted, without duplicates, each within the training set', () => {
  assert.deepEqual(parseBatchList('64, 16,32,16', 1000), [16, 32, 64]);
  assert.deepEqual(parseBatchList('+8', 8), [8]);
  assert.throws(() => parseBatchList('', 10), refused('BATCHLAB_BAD_BATCH_SIZE', /batch list "" is empty/));
  assert.throws(() => parseBatchList('16,,32', 100), refused('BATCHLAB_BAD_BATCH_SIZE', /has an empty entry/));
  assert.throws(() => parseBatchList('16,abc', 100), refused('BATCHLAB_BAD_BATCH_SIZE', /got "abc"/));
  assert.throws(() => parseBatchList('0', 100), refused('BATCHLAB_BAD_BATCH_SIZE', /positive integer, got "0"/));
  assert.throws(
    () => parseBatchList('16,512', 100),
    refused('BATCHLAB_BAD_BATCH_SIZE', /batch size 512 is above the training-set size 100/),
  );
  assert.throws(() => parseBatchList('1\u001b[2J', 100), refused('BATCHLAB_BAD_BATCH_SIZE', /got "1\\x1b\[2J"/));
});

test('parseTarget: accuracy in (0, 1], a finite held-out or training loss', () => {
  assert.deepEqual(parseTarget('acc:0.97'), { metric: 'accuracy', value: 0.97 });
  assert.deepEqual(parseTarget('train-loss:0.25'), { metric: 'train-loss', value: 0.25 });
  assert.deepEqual(parseTarget(' accuracy:1 '), { metric: 'accuracy', value: 1 });
  assert.deepEqual(parseTarget('loss:0.1'), { metric: 'loss', value: 0.1 });
  assert.equal(parseTarget(undefined), undefined);
  for (const bad of [
    'acc:0',
    'acc:1.5',
    'loss:',
    'loss:1.2.3',
    'mse:0.1',
    `loss:${'9'.repeat(400)}`,
    'acc:-1',
    'train-loss:x',
  ]) {
    assert.throws(() => parseTarget(bad), refused('BATCHLAB_BAD_ARGUMENT', /target must look like acc:0\.97/), bad);
  }
});

test('parseBudget: the four kinds, the default, and an accuracy target only for classification', () => {
  const opts = { trainCount: 600, maxEpochs: 10, task: 'classification' };
  assert.deepEqual(parseBudget(undefined, opts), { kind: 'samples', value: 600 });
  assert.deepEqual(parseBudget('epochs=3', opts), { kind: 'epochs', value: 3 });
  assert.deepEqual(parseBudget('steps=500', opts), { kind: 'steps', value: 500 });
  assert.deepEqual(parseBudget('samples=12000', opts), { kind: 'samples', value: 12000 });
  assert.deepEqual(parseBudget('target=acc:0.9', opts), {
    kind: 'target',
    target: { metric: 'accuracy', value: 0.9 },
    maxEpochs: 10,
  });
  assert.deepEqual(parseBudget('target=train-loss:0.3', { ...opts, task: 'regression' }), {
    kind: 'target',
    target: { metric: 'train-loss', value: 0.3 },
    maxEpochs: 10,
  });
  assert.throws(() => parseBudget('hours=2', opts), refused('BATCHLAB_BAD_ARGUMENT', /unknown budget "hours=2"/));
  assert.throws(
    () => parseBudget('epochs=0', opts),
    refused('BATCHLAB_BAD_ARGUMENT', /budget epochs must be a positive/),
  );
  assert.throws(
    () => parseBudget('target=acc:0.9', { ...opts, task: 'regression' }),
    refused('BATCHLAB_BAD_ARGUMENT', /needs accuracy, but this dataset is regression; use target=loss:X/),
  );
  assert.throws(
    () => parseBudget('target=loss:0.1', { ...opts, maxEpochs: 0 }),
    refused('BATCHLAB_BAD_ARGUMENT', /max epochs must be a positive integer, got 0; pass e\.g\. --max-epochs 10/),
  );
});

test('parseSeeds: integers >= 0 in the order given, duplicates dropped', () => {
  assert.deepEqual(parseSeeds('3, 1,2,1'), [3, 1, 2]);
  assert.deepEqual(parseSeeds('0'), [0]);
  for (const bad of ['', '1,', '-1', '1.5', 'one', '99999999999999999999']) {
    assert.throws(() => parseSeeds(bad), refused('BATCHLAB_BAD_ARGUMENT', /seed must be an integer >= 0/), bad);
  }
});

test('replicateSeeds: --replicates N is seeds 1..N', () => {
  assert.deepEqual(replicateSeeds(3), [1, 2, 3]);
  assert.deepEqual(replicateSeeds(1), [1]);
  for (const bad of [0, -2, 1.5]) {
    assert.throws(() => replicateSeeds(bad), refused('BATCHLAB_BAD_ARGUMENT', /replicates must be a positive integer/));
  }
  assert.throws(
    () => replicateSeeds(MAX_REPLICATES + 1),
    refused('BATCHLAB_BAD_ARGUMENT', /replicates must be at most 1000, got 1001/),
  );
});
