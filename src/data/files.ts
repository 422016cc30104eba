/** File reading shared by the file-based loaders. */
import { readFileSync } from 'node:fs';
import { DataFileError } from '../core/errors.js';

/** Reads a whole file; a missing or unreadable file is a DataFileError naming it and the OS reason. */
export function readDataFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new DataFileError(file, `cannot read file (${reason}); check the path`);
  }
}
