// A worker that dies is classified with the same OOM table as external commands (engine/oom.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyCrash } from '../../src/lab/child.js';
import { isAllocationFailure } from '../../src/lab/worker.js';

test('a crashed worker: V8 heap and ArrayBuffer failures are OOM, SIGKILL is OOM, anything else is an error', () => {
  const base = { exitCode: 134, signal: null, interrupted: false } as const;
  assert.equal(
    classifyCrash({
      ...base,
      stderrTail: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
    }).status,
    'oom',
  );
  assert.equal(classifyCrash({ ...base, stderrTail: 'RangeError: Array buffer allocation failed' }).status, 'oom');
  assert.equal(classifyCrash({ ...base, signal: 'SIGKILL', stderrTail: '' }).status, 'oom');
  assert.equal(classifyCrash({ ...base, stderrTail: 'TypeError: x is not a function' }).status, 'error');
  assert.equal(classifyCrash({ ...base, stderrTail: '', interrupted: true }).status, 'interrupted');
});

test('errors thrown inside a run: allocation failures are OOM, others are not', () => {
  assert.equal(isAllocationFailure(new RangeError('Array buffer allocation failed')), true);
  assert.equal(isAllocationFailure(new RangeError('Invalid typed array length: 9007199254740991')), true);
  assert.equal(isAllocationFailure(new RangeError('Invalid typed array length: -1')), false);
  assert.equal(isAllocationFailure(new Error('std::bad_alloc')), true);
  assert.equal(isAllocationFailure(new Error('shapes [3] and [4] are incompatible')), false);
});
