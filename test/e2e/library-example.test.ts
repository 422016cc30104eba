/**
 * The library example (examples/library/sweep.mjs) runs end to end against the built package, imported
 * as a user imports it (`from 'batchlab'`, through package.json's exports map): a sweep of three runs on
 * the spiral and a find-max, both recorded in the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { REPO_ROOT } from './harness.js';

test('examples/library/sweep.mjs: a sweep and a find-max through the public API', () => {
  const db = join(mkdtempSync(join(tmpdir(), 'batchlab-library-')), 'example.db');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'examples/library/sweep.mjs'), db], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    r.stdout.split('\n').filter((l) => /^B=\d+: /.test(l)),
    ['B=16: done', 'B=64: done', 'B=256: done'],
  );
  assert.match(r.stdout, /^- A larger batch needs more memory\? /m, 'the findings of the sweep');
  const answer = Number(/^largest batch under 256 KiB: (\d+) /m.exec(r.stdout)?.[1]);
  assert.ok(answer >= 1 && answer < 1024, `find-max answered ${answer}: the budget binds below the cap`);
  const store = openStore(db, { readonly: true });
  try {
    const kinds = store.listExperiments().map((e) => [e.kind, e.status]);
    assert.deepEqual(kinds.sort(), [
      ['find-max', 'done'],
      ['sweep', 'done'],
    ]);
  } finally {
    store.close();
  }
});
