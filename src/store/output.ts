/**
 * Writing an output file (a report, an export) so that it can never destroy data:
 * - never onto the database in use or its -wal/-shm/-journal files, however the path reaches them
 *   (the same path, another spelling, a symlink, a hard link): real paths AND device + inode are compared;
 * - atomically: the bytes go to a temporary file in the same folder, which is fsynced and renamed over the
 *   target, so a full disk, a crash or a kill leaves either the old file or the new one, never a truncated
 *   one; the temporary file is removed on any failure;
 * - with one-line errors (OutputFileError, BATCHLAB_OUTPUT, exit 2) naming the path and the fix for a
 *   missing folder, a folder, a name too long, a read-only place and a full disk.
 */
import * as nodeFs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { BatchlabError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';

/** The file-system calls writeOutputFile makes; tests pass one that fails on purpose. */
export type OutputFs = Pick<
  typeof nodeFs,
  'openSync' | 'writeSync' | 'fsyncSync' | 'closeSync' | 'renameSync' | 'unlinkSync' | 'statSync' | 'realpathSync'
>;

export interface WriteOutputOptions {
  /** Where the file goes (relative to the working directory). */
  path: string;
  data: string | Uint8Array;
  /** The database in use, as it was opened; none for ':memory:' or when no store is involved. */
  storePath?: string;
  /** Default node:fs. */
  fs?: OutputFs;
}

/** Files SQLite keeps next to a database, by suffix, as messages name them. */
const STORE_FILES: readonly (readonly [suffix: string, what: string])[] = [
  ['', 'the database in use'],
  ['-wal', "the database's write-ahead log"],
  ['-shm', "the database's shared-memory file"],
  ['-journal', "the database's rollback journal"],
];

/** Why an output file could not be written: `code` is the errno code, or 'STORE' / 'IS_FOLDER'. */
export class OutputFileError extends BatchlabError {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, message: string, cause?: unknown) {
    super('BATCHLAB_OUTPUT', message, { cause });
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Writes `data` to `path` atomically (temp file in the same folder, fsync, rename, fsync of the folder)
 * after checking that `path` is not the store in use. Returns the absolute path written. Keeps the mode
 * of a file it replaces.
 */
export function writeOutputFile(opts: WriteOutputOptions): string {
  const fs = opts.fs ?? nodeFs;
  if (opts.path.trim() === '')
    throw new OutputFileError(opts.path, 'EMPTY', 'the output path is empty; pass a file path');
  const target = resolve(opts.path);
  refuseStoreFiles(fs, target, opts);
  const existing = statOrUndefined(fs, target, opts.path);
  if (existing?.isDirectory()) {
    throw new OutputFileError(
      opts.path,
      'IS_FOLDER',
      `cannot write ${shown(opts.path)}: it is a folder; pass the path of a file (a new name inside it, for example)`,
    );
  }
  const temp = join(dirname(target), `.batchlab-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const bytes = typeof opts.data === 'string' ? Buffer.from(opts.data, 'utf8') : opts.data;
  let created = false;
  try {
    writeFully(fs, temp, bytes, existing === undefined ? 0o666 : existing.mode & 0o7777, () => {
      created = true;
    });
    fs.renameSync(temp, target);
    created = false;
  } catch (err) {
    if (created) removeQuietly(fs, temp);
    throw outputError(opts.path, err);
  }
  syncFolder(fs, dirname(target));
  return target;
}

/** Creates `temp` exclusively, writes every byte, fsyncs and closes it; `onCreated` runs once it exists. */
function writeFully(fs: OutputFs, temp: string, bytes: Uint8Array, mode: number, onCreated: () => void): void {
  const fd = fs.openSync(temp, 'wx', mode);
  onCreated();
  try {
    for (let offset = 0; offset < bytes.length; ) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Refuses a target that is the store or one of its side files. Two tests, because each misses cases:
 * device + inode catches a symlink or hard link to an existing file under any name; the real path
 * catches a side file that does not exist right now (a -wal appears while the store is written).
 */
function refuseStoreFiles(fs: OutputFs, target: string, opts: WriteOutputOptions): void {
  const store = opts.storePath;
  if (store === undefined || store === '' || store === ':memory:' || store.startsWith('file:')) return;
  const targetStat = statOrUndefined(fs, target, opts.path);
  const targetReal = realPathOf(fs, target);
  const storeBases = [...new Set([resolve(store), realPathOf(fs, resolve(store))])];
  for (const [suffix, what] of STORE_FILES) {
    for (const base of storeBases) {
      const file = base + suffix;
      const fileStat = statOrUndefined(fs, file, file);
      const sameInode =
        targetStat !== undefined &&
        fileStat !== undefined &&
        targetStat.dev === fileStat.dev &&
        targetStat.ino === fileStat.ino;
      if (sameInode || targetReal === realPathOf(fs, file)) {
        throw new OutputFileError(
          opts.path,
          'STORE',
          `refusing to write ${shown(opts.path)}: it is ${what} (${shown(store)}), and writing there would ` +
            'destroy every experiment in it; pass another output path',
        );
      }
    }
  }
}

/**
 * The real path of `file`: realpath of the file when it exists, else realpath of its folder joined with
 * its name (the folder resolves symlinks; a missing folder leaves the path as it is).
 */
function realPathOf(fs: OutputFs, file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    try {
      return join(fs.realpathSync(dirname(file)), basename(file));
    } catch {
      return file;
    }
  }
}

/** stat (following symlinks), or undefined when nothing is there; other errors become OutputFileErrors. */
function statOrUndefined(fs: OutputFs, file: string, shownPath: string): nodeFs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw outputError(shownPath, err);
  }
}

/** Makes the rename durable: fsync of the folder. Some systems cannot fsync a folder; that is not an error. */
function syncFolder(fs: OutputFs, folder: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort: the file's own data was fsynced before the rename
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function removeQuietly(fs: OutputFs, file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // it may never have been created; nothing else to do
  }
}

function shown(path: string): string {
  return escapeControl(path);
}

/** The one-line error for a failed write: what happened to `path`, and what to do. */
export function outputError(path: string, err: unknown): unknown {
  if (err instanceof BatchlabError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return err; // not an OS error: a bug, keep its stack
  const folder = shown(dirname(resolve(path)));
  const at = `cannot write ${shown(path)}`;
  const fix: Record<string, string> = {
    ENOENT: `${at}: folder ${folder} does not exist; create it (mkdir -p ${folder}) or pass another path`,
    ENOTDIR: `${at}: a part of the path is a file, not a folder; check the path`,
    EISDIR: `${at}: it is a folder; pass the path of a file (a new name inside it, for example)`,
    ENAMETOOLONG: `${at}: the name is too long for the file system; pass a shorter path`,
    EACCES: `${at}: no permission to write in ${folder}; pass a path in a folder you can write to`,
    EPERM: `${at}: not permitted to write in ${folder}; pass a path in a folder you can write to`,
    EROFS: `${at}: ${folder} is on a read-only file system; pass a path on a writable disk`,
    ENOSPC: `${at}: the disk is full; free some space or write elsewhere (any earlier file there is unchanged)`,
    EDQUOT: `${at}: the disk quota is used up; free some space or write elsewhere (any earlier file there is unchanged)`,
    EIO: `${at}: the disk reported an I/O error; check the disk or write elsewhere`,
  };
  return new OutputFileError(path, code, fix[code] ?? `${at} (${code}); check the path and the disk`, err);
}
