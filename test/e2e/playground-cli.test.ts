/** `batchlab playground` through the real binary: prints where the built page is, copies it for hosting. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BatchlabError } from '../../src/core/errors.js';
import { PLAYGROUND_DIR, PLAYGROUND_FILES, playgroundIndex } from '../../src/report/playground.js';
import { runCli } from './harness.js';

const built = existsSync(join(PLAYGROUND_DIR, 'index.html'));

describe('batchlab playground', { skip: !built && 'run npm run build first' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-playground-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the path and the file:// URL of the built page', () => {
    const r = runCli(['playground']);
    assert.equal(r.code, 0, r.stderr);
    const index = join(PLAYGROUND_DIR, 'index.html');
    assert.deepEqual(r.stdout.trim().split('\n'), [index, pathToFileURL(index).href]);
  });

  it('--json prints the same path and URL as one object', () => {
    const r = runCli(['playground', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const index = join(PLAYGROUND_DIR, 'index.html');
    assert.deepEqual(JSON.parse(r.stdout), { index, url: pathToFileURL(index).href });
  });

  it('a folder without the built page is BATCHLAB_NOT_BUILT (exit 1), naming the missing file', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    assert.throws(
      () => playgroundIndex(empty),
      (err: unknown) =>
        err instanceof BatchlabError &&
        err.code === 'BATCHLAB_NOT_BUILT' &&
        err.exitCode === 1 &&
        err.message.startsWith(join(empty, 'index.html')),
    );
  });

  it('--out copies every file of the page into a new folder, byte for byte', () => {
    const out = join(dir, 'site', 'playground');
    const r = runCli(['playground', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n')[0], join(out, 'index.html'));
    for (const name of PLAYGROUND_FILES) {
      assert.ok(readFileSync(join(out, name)).equals(readFileSync(join(PLAYGROUND_DIR, name))), name);
    }
  });

  it('an unexpected argument is one line and exit 2', () => {
    const r = runCli(['playground', 'now']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[BATCHLAB_BAD_ARGUMENT\]: unexpected argument "now" for "batchlab playground"/);
  });
});
