import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, parseBytes, parsePositiveInt } from './units.js';
import { BatchlabError } from './errors.js';

test('parseBytes: binary, decimal and bare units', () => {
  assert.equal(parseBytes('4GiB'), 4 * 2 ** 30);
  assert.equal(parseBytes('512MB'), 512 * 10 ** 6);
  assert.equal(parseBytes('1.5G'), 1.5 * 2 ** 30);
  assert.equal(parseBytes('1073741824'), 2 ** 30);
  assert.equal(parseBytes('2 kib'), 2048);
  assert.equal(parseBytes('3KB'), 3000);
  assert.equal(parseBytes('10m'), 10 * 2 ** 20);
  assert.equal(parseBytes('1TiB'), 2 ** 40);
  assert.equal(parseBytes('100B'), 100);
  assert.equal(parseBytes('.5K'), 512);
  assert.equal(parseBytes(4096), 4096);
});

test('parseBytes rejects 0, negatives, words and unknown units with BATCHLAB_BAD_BUDGET', () => {
  for (const bad of ['0', '0GiB', '-1GiB', 'lots', '4XB', '', '1.2.3G', 'GiB', 0, -5, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => parseBytes(bad),
      (err: unknown) => {
        assert.ok(err instanceof BatchlabError);
        assert.equal(err.code, 'BATCHLAB_BAD_BUDGET');
        assert.ok(err.message.includes(`"${bad}"`), err.message);
        assert.ok(err.message.includes('4GiB'), 'shows valid examples');
        return true;
      },
      `input ${String(bad)}`,
    );
  }
  assert.throws(() => parseBytes('4XB'), /unknown unit "XB"/);
  assert.throws(() => parseBytes('0', '--gpu-budget'), /--gpu-budget must be at least 1 byte, got "0"/);
});

test('formatBytes uses binary units with 3 significant digits', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(4 * 2 ** 30), '4 GiB');
  assert.equal(formatBytes(1.2 * 2 ** 30), '1.2 GiB');
  assert.equal(formatBytes(123456789), '118 MiB'); // 117.74 MiB
  assert.equal(formatBytes(-3 * 2 ** 20), '-3 MiB');
  // Round trip through parseBytes within the 3-digit rounding.
  for (const n of [1000, 77777, 5e8, 3.3e9]) {
    const back = parseBytes(formatBytes(n).replace(' ', ''));
    assert.ok(Math.abs(back - n) / n < 0.005, `${n} -> ${formatBytes(n)} -> ${back}`);
  }
});

test('parsePositiveInt accepts integers and names bad values', () => {
  assert.equal(parsePositiveInt('64', 'batch size'), 64);
  assert.equal(parsePositiveInt(' +8 ', 'batch size'), 8);
  assert.equal(parsePositiveInt(1, 'steps'), 1);
  for (const bad of ['abc', '', '0', '-1', '1.5', '1e3', '0x10', 0, -1, 1.5, Number.NaN, 2 ** 60]) {
    assert.throws(
      () => parsePositiveInt(bad, 'batch size', { code: 'BATCHLAB_BAD_BATCH_SIZE', example: '--batch-size 64' }),
      (err: unknown) => {
        assert.ok(err instanceof BatchlabError);
        assert.equal(err.code, 'BATCHLAB_BAD_BATCH_SIZE');
        const shown = typeof bad === 'number' ? String(bad) : `"${bad}"`;
        assert.equal(err.message, `batch size must be a positive integer, got ${shown}; pass e.g. --batch-size 64`);
        return true;
      },
    );
  }
  assert.throws(
    () => parsePositiveInt('x', 'steps'),
    (e: unknown) => e instanceof BatchlabError && e.code === 'BATCHLAB_BAD_ARGUMENT',
  );
});
