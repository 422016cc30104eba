import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Float32Pool } from './buffer-pool.js';

test('a released array of a tracked size is handed out again, at most once', () => {
  const pool = new Float32Pool({ minBytes: 1024 });
  const a = pool.take(1000);
  assert.equal(a.length, 1000);
  assert.equal(a.byteLength, a.buffer.byteLength, 'the array owns its whole buffer (no other view of it exists)');
  pool.release(a);
  assert.equal(pool.stats().pooledBytes, 4000);
  const b = pool.take(1000);
  assert.equal(b, a);
  assert.notEqual(pool.take(1000), a, 'handed out once');
  assert.deepEqual(pool.stats(), { reused: 1, allocated: 2, pooledBytes: 0 });
  // Another length never gets it.
  pool.release(b);
  assert.notEqual(pool.take(999), b);
  assert.equal(pool.take(1000), b);
});

test('small arrays are plain zeroed allocations, never tracked', () => {
  const pool = new Float32Pool({ minBytes: 1024 });
  const a = pool.take(255);
  assert.ok(a.every((v) => v === 0));
  assert.equal(pool.isOwned(a), false);
  pool.release(a);
  assert.equal(pool.stats().pooledBytes, 0);
  assert.notEqual(pool.take(255), a);
});

test('an escaped array, or one the pool never handed out, is never recycled', () => {
  const pool = new Float32Pool({ minBytes: 0 });
  const a = pool.take(64);
  pool.escape(a);
  pool.release(a);
  assert.notEqual(pool.take(64), a);
  const foreign = new Float32Array(64);
  pool.release(foreign);
  assert.notEqual(pool.take(64), foreign);
  // A released array is no longer owned: releasing it twice does not put it in the pool twice.
  const b = pool.take(32);
  pool.release(b);
  pool.release(b);
  assert.equal(pool.take(32), b);
  assert.notEqual(pool.take(32), b);
});

test('maxBytes bounds what the free lists hold; clear() empties them', () => {
  const pool = new Float32Pool({ minBytes: 0, maxBytes: 10_000 });
  const arrays = [pool.take(1000), pool.take(1000), pool.take(1000)];
  for (const a of arrays) pool.release(a);
  assert.equal(pool.stats().pooledBytes, 8000, 'the third (4000 bytes) would pass 10,000: dropped');
  pool.clear();
  assert.deepEqual(pool.stats(), { reused: 0, allocated: 0, pooledBytes: 0 });
  assert.ok(!arrays.includes(pool.take(1000)));
});

test('contents: unspecified by default, NaN with poison, zero on request', () => {
  const poisoned = new Float32Pool({ minBytes: 0, poison: true });
  const a = poisoned.take(100);
  assert.ok(a.every(Number.isNaN));
  a.fill(7);
  poisoned.release(a);
  assert.ok(poisoned.take(100).every(Number.isNaN), 'a recycled array is poisoned again');
  const small = new Float32Pool({ minBytes: 1 << 20, poison: true });
  assert.ok(small.take(10).every(Number.isNaN), 'untracked small arrays are poisoned too');
  const plain = new Float32Pool({ minBytes: 0 });
  const b = plain.take(100);
  b.fill(3);
  plain.release(b);
  assert.ok(plain.take(100, true).every((v) => v === 0));
});
