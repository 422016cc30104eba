import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyTrial, matchOom, OOM_PATTERNS, type FailureEvidence } from '../../src/engine/oom.js';

const base: FailureEvidence = { exitCode: 1, signal: null, interrupted: false };

// One test per row of the table: its real message is recognised, by that row.
for (const row of OOM_PATTERNS) {
  test(`OOM pattern "${row.name}" (${row.source}) recognises its real message`, () => {
    assert.equal(matchOom(row.example)?.name, row.name);
    const line = row.example.split('\n').find((l) => row.pattern.test(l)) as string;
    assert.equal(classifyTrial({ ...base, oom: { pattern: row, line } }).outcome, 'oom');
  });
}

test('ordinary failures are never read as OOM', () => {
  for (const text of [
    "KeyError: 'label'",
    'RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x784 and 100x10)',
    "FileNotFoundError: [Errno 2] No such file or directory: 'out_of_memory.csv'",
    'RuntimeError: CUDA error: device-side assert triggered',
    'ValueError: memory_limit must be positive',
    "Error: Cannot find module '@tensorflow/tfjs-node'",
    'sh: 1: pyhton: not found',
  ])
    assert.equal(matchOom(text), undefined, text);
  assert.equal(classifyTrial(base).outcome, 'error');
  assert.equal(
    classifyTrial({ ...base, exitCode: 127 }).reason,
    'the command exited with status 127; see its stderr below',
  );
});

test('a SIGKILL batchlab did not send reads as the kernel OOM killer, directly or through sh (status 137)', () => {
  assert.equal(classifyTrial({ ...base, exitCode: null, signal: 'SIGKILL' }).outcome, 'oom');
  assert.match(classifyTrial({ ...base, exitCode: 137 }).reason, /OOM killer/);
  assert.equal(classifyTrial({ ...base, exitCode: null, signal: 'SIGSEGV' }).outcome, 'error');
});

test("batchlab's own kills decide first: interrupt, then timeout, then budget", () => {
  const oom = { pattern: OOM_PATTERNS[0]!, line: 'CUDA out of memory' };
  const all: FailureEvidence = {
    ...base,
    signal: 'SIGTERM',
    exitCode: null,
    interrupted: true,
    timedOutAfterMs: 5,
    overBudget: 'over',
    oom,
  };
  assert.equal(classifyTrial(all).outcome, 'interrupted');
  assert.equal(classifyTrial({ ...all, interrupted: false }).outcome, 'timeout');
  assert.equal(classifyTrial({ ...all, interrupted: false, timedOutAfterMs: undefined }).outcome, 'over-budget');
  assert.equal(classifyTrial({ ...base, exitCode: 0 }).outcome, 'ok');
});

test('under an rlimit an allocator failure is "over-budget", not a real OOM', () => {
  const oom = { pattern: OOM_PATTERNS.find((p) => p.name === 'python')!, line: 'MemoryError' };
  const r = classifyTrial({ ...base, oom, rlimitBytesText: '512 MiB' });
  assert.equal(r.outcome, 'over-budget');
  assert.match(r.reason, /address-space limit of 512 MiB/);
});

/** The message V8 throws for `new Float32Array(length)`. */
function typedArrayMessage(length: number): string {
  try {
    new Float32Array(length);
  } catch (err) {
    return String(err);
  }
  throw new Error(`new Float32Array(${length}) did not throw`);
}

test('a negative typed-array length is a bug in the input, not out of memory; a length past what V8 allows is', () => {
  // V8 throws the same words for both; only the length tells them apart.
  assert.equal(matchOom(typedArrayMessage(-4)), undefined, typedArrayMessage(-4));
  assert.equal(matchOom('RangeError: Invalid typed array length'), undefined);
  assert.equal(matchOom(typedArrayMessage(2 ** 40))?.name, 'v8-typed-array-length', typedArrayMessage(2 ** 40));
});
