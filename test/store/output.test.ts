/**
 * Output files: never onto the store in use (however the path reaches it), atomic (temp file + fsync +
 * rename), and one-line typed errors for the usual mistakes and faults.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/main.js';
import { writeReport } from '../../src/report/index.js';
import {
  exportExperimentToFile,
  openStore,
  OutputFileError,
  writeOutputFile,
  type OutputFs,
} from '../../src/store/index.js';
import { makeRunSummary, makeSteps, tempDir } from './helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

/** A folder holding a database with one finished run, kept open (so its -wal and -shm exist). */
function seededFolder(): { dir: string; db: string; close: () => void; experimentId: number } {
  const dir = join(tmp.dir, `case-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const db = join(dir, 'batchlab.db');
  const store = openStore(db);
  const exp = store.createExperiment({ kind: 'sweep', settings: {}, env: {} });
  const run = store.upsertRun({ experimentId: exp.id, key: 'b=8', batchSize: 8, seed: 1, lr: 0.1 });
  store.startRun(run.id);
  store.appendSteps(run.id, makeSteps(1, 20));
  store.finishRun(run.id, { status: 'done', summary: makeRunSummary({ batchSize: 8 }) });
  return { dir, db, close: () => store.close(), experimentId: exp.id };
}

/** The database still holds its experiment and passes SQLite's own integrity check. */
function assertDbIntact(db: string): void {
  const raw = new Database(db, { readonly: true });
  try {
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(raw.prepare('SELECT count(*) FROM steps').pluck().get(), 20);
  } finally {
    raw.close();
  }
}

function outputError(reason: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof OutputFileError, `expected OutputFileError, got ${String(err)}`);
    assert.equal(err.code, 'BATCHLAB_OUTPUT');
    assert.equal(err.exitCode, 2);
    assert.equal(err.reason, reason);
    assert.ok(!/[\n\r]/.test(err.message), 'one line');
    assert.match(err.message, pattern);
    return true;
  };
}

/** Names in `dir` that look like a leftover temporary file. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.tmp'));
}

describe('writeOutputFile refuses the store in use', () => {
  it('the database, its -wal, -shm and -journal, by any spelling, symlink or hard link', () => {
    const { dir, db, close } = seededFolder();
    try {
      symlinkSync(db, join(dir, 'link.db'));
      linkSync(db, join(dir, 'hard.db'));
      mkdirSync(join(dir, 'sub'));
      symlinkSync(dir, join(dir, 'sub', 'up'));
      const targets = [
        db,
        relative(process.cwd(), db),
        join(dir, 'sub', '..', 'batchlab.db'),
        join(dir, 'link.db'),
        join(dir, 'hard.db'),
        join(dir, 'sub', 'up', 'batchlab.db'),
        `${db}-wal`,
        `${db}-shm`,
        `${db}-journal`, // does not exist now: refused by name
        join(dir, 'sub', 'up', 'batchlab.db-journal'),
      ];
      assert.ok(fs.existsSync(`${db}-wal`) && fs.existsSync(`${db}-shm`), 'the open store has its side files');
      for (const path of targets) {
        assert.throws(
          () => writeOutputFile({ path, data: 'oops', storePath: db }),
          outputError('STORE', /refusing to write .*: it is the database.* pass another output path/),
          path,
        );
      }
      // The store opened through a symlink: its real file is refused too.
      assert.throws(
        () => writeOutputFile({ path: db, data: 'x', storePath: join(dir, 'link.db') }),
        outputError('STORE', /the database in use/),
      );
      assert.deepEqual(leftovers(dir), []);
    } finally {
      close();
    }
    assertDbIntact(db);
  });

  it('export --output and report -o onto the store exit 2 with one line, and the store survives', async () => {
    const { dir, db, close } = seededFolder();
    close();
    const lines: string[] = [];
    const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t), errStream: process.stderr };
    for (const args of [
      ['export', '1', '--db', db, '--output', db],
      ['export', '1', '--db', db, '--format', 'csv', '--output', `${db}-wal`],
      ['report', '1', '--db', db, '-o', join(dir, '.', 'batchlab.db')],
    ]) {
      lines.length = 0;
      assert.equal(await main(args, io), 2, args.join(' '));
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^error \[BATCHLAB_OUTPUT\]: refusing to write /);
    }
    assertDbIntact(db);
    const store = openStore(db, { readonly: true });
    try {
      assert.throws(() => writeReport(store, 1, `${db}-shm`), outputError('STORE', /shared-memory file/));
      assert.throws(
        () => exportExperimentToFile(store, 1, { format: 'json', path: db }),
        outputError('STORE', /the database in use/),
      );
      const out = exportExperimentToFile(store, 1, { format: 'json', path: join(dir, 'export.json') });
      assert.equal(JSON.parse(readFileSync(out, 'utf8')).format, 'batchlab-export');
    } finally {
      store.close();
    }
  });
});

describe('writeOutputFile writes atomically', () => {
  it('replaces an existing file in one step, keeps its mode, and leaves no temporary file', () => {
    const dir = join(tmp.dir, 'atomic');
    mkdirSync(dir);
    const path = join(dir, 'report.html');
    writeFileSync(path, 'old');
    chmodSync(path, 0o640);
    assert.equal(writeOutputFile({ path, data: 'new content' }), path);
    assert.equal(readFileSync(path, 'utf8'), 'new content');
    assert.equal(statSync(path).mode & 0o777, 0o640);
    writeOutputFile({ path: join(dir, 'bytes.bin'), data: new Uint8Array([1, 2, 3]) });
    assert.deepEqual([...readFileSync(join(dir, 'bytes.bin'))], [1, 2, 3]);
    assert.deepEqual(leftovers(dir), []);
  });

  it('a full disk (ENOSPC, injected) leaves the previous good file intact and no temporary file', () => {
    const dir = join(tmp.dir, 'full');
    mkdirSync(dir);
    const path = join(dir, 'export.csv');
    writeFileSync(path, 'the good export');
    let writes = 0;
    const fullDisk: OutputFs = {
      ...fs,
      writeSync: ((fd: number, buffer: Uint8Array, offset?: number) => {
        if (writes++ > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        return fs.writeSync(fd, buffer, offset, 5); // the first write gets 5 bytes through, then the disk is full
      }) as OutputFs['writeSync'],
    };
    assert.throws(
      () => writeOutputFile({ path, data: 'a much longer new export', fs: fullDisk }),
      outputError('ENOSPC', /cannot write .*export\.csv: the disk is full; free some space .*unchanged/),
    );
    assert.equal(readFileSync(path, 'utf8'), 'the good export');
    assert.deepEqual(leftovers(dir), []);
    assert.ok(writes >= 2, 'the failure happened after the temporary file was partly written');
  });

  it('a failed rename or fsync also removes the temporary file', () => {
    const dir = join(tmp.dir, 'rename');
    mkdirSync(dir);
    const failing = (name: 'renameSync' | 'fsyncSync', code: string): OutputFs => ({
      ...fs,
      [name]: () => {
        throw Object.assign(new Error(`${code}: ${name}`), { code });
      },
    });
    assert.throws(
      () => writeOutputFile({ path: join(dir, 'a.txt'), data: 'x', fs: failing('renameSync', 'EIO') }),
      outputError('EIO', /I\/O error/),
    );
    assert.throws(
      () => writeOutputFile({ path: join(dir, 'b.txt'), data: 'x', fs: failing('fsyncSync', 'EDQUOT') }),
      outputError('EDQUOT', /quota/),
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('writeOutputFile errors name the path and the fix', () => {
  it('a missing folder, a folder, a name too long, a file used as a folder', () => {
    const dir = join(tmp.dir, 'errors');
    mkdirSync(dir);
    writeFileSync(join(dir, 'plain'), '');
    const cases: [string, string, RegExp][] = [
      [join(dir, 'no', 'such', 'r.html'), 'ENOENT', /folder .*no\/such does not exist; create it \(mkdir -p /],
      [dir, 'IS_FOLDER', /it is a folder; pass the path of a file/],
      [join(dir, `${'n'.repeat(300)}.html`), 'ENAMETOOLONG', /the name is too long .*pass a shorter path/],
      [join(dir, 'plain', 'r.html'), 'ENOTDIR', /a part of the path is a file, not a folder/],
      ['  ', 'EMPTY', /the output path is empty/],
    ];
    for (const [path, reason, pattern] of cases) {
      assert.throws(() => writeOutputFile({ path, data: 'x' }), outputError(reason, pattern), path);
    }
    assert.deepEqual(leftovers(dir), []);
  });

  it('a read-only place (EROFS injected; EACCES for real when not root)', (t) => {
    const dir = join(tmp.dir, 'readonly');
    mkdirSync(dir);
    const readOnlyFs: OutputFs = {
      ...fs,
      openSync: (() => {
        throw Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
      }) as OutputFs['openSync'],
    };
    assert.throws(
      () => writeOutputFile({ path: join(dir, 'r.html'), data: 'x', fs: readOnlyFs }),
      outputError('EROFS', /is on a read-only file system; pass a path on a writable disk/),
    );
    if (process.getuid?.() === 0) {
      t.diagnostic('running as root: permissions do not stop root, so the real EACCES case is not checked');
      return;
    }
    chmodSync(dir, 0o555);
    try {
      assert.throws(
        () => writeOutputFile({ path: join(dir, 'r.html'), data: 'x' }),
        outputError('EACCES', /no permission to write in .*pass a path in a folder you can write to/),
      );
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('control characters in the path are escaped in the message', () => {
    assert.throws(
      () => writeOutputFile({ path: join(tmp.dir, 'missing\u001b[31m', 'r\n.html'), data: 'x' }),
      outputError('ENOENT', /missing\\x1b\[31m\/r\\n\.html/),
    );
  });
});
