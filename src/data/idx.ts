/**
 * Reader for IDX files, the format of MNIST (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
 *   bytes 0-1  zero
 *   byte  2    element type: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
 *   byte  3    number of dimensions r
 *   then r big-endian uint32 sizes, then prod(sizes) elements, big-endian, row-major.
 * So MNIST images start 0x00000803 (ubyte, 3 dims) and labels 0x00000801 (ubyte, 1 dim).
 * A gzip-compressed file (.gz, magic 1f 8b) is inflated first.
 */
import { gunzipSync } from 'node:zlib';
import { DataFileError } from '../core/errors.js';
import { readDataFile } from './files.js';

export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
export type IdxTypeName = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';

/** A parsed IDX file. For ubyte, `data` is a view on the file's bytes (no copy). */
export interface IdxTensor {
  type: IdxTypeName;
  dims: number[];
  data: IdxArray;
}

interface IdxType {
  name: IdxTypeName;
  bytes: number;
  /** Reads `count` big-endian elements starting at `offset` of `view`. */
  read: (view: DataView, offset: number, count: number) => IdxArray;
}

/** Fills a typed array of `count` elements with `get(offset + k * bytes)`. */
function readBigEndian<T extends IdxArray>(out: T, bytes: number, get: (off: number) => number, offset: number): T {
  for (let k = 0; k < out.length; k++) out[k] = get(offset + k * bytes);
  return out;
}

/** The standard IDX element types by their type byte. */
const IDX_TYPES: ReadonlyMap<number, IdxType> = new Map<number, IdxType>([
  [0x08, { name: 'ubyte', bytes: 1, read: (v, o, n) => new Uint8Array(v.buffer, v.byteOffset + o, n) }],
  [0x09, { name: 'byte', bytes: 1, read: (v, o, n) => new Int8Array(v.buffer, v.byteOffset + o, n) }],
  [0x0b, { name: 'short', bytes: 2, read: (v, o, n) => readBigEndian(new Int16Array(n), 2, (p) => v.getInt16(p), o) }],
  [0x0c, { name: 'int', bytes: 4, read: (v, o, n) => readBigEndian(new Int32Array(n), 4, (p) => v.getInt32(p), o) }],
  [
    0x0d,
    { name: 'float', bytes: 4, read: (v, o, n) => readBigEndian(new Float32Array(n), 4, (p) => v.getFloat32(p), o) },
  ],
  [
    0x0e,
    { name: 'double', bytes: 8, read: (v, o, n) => readBigEndian(new Float64Array(n), 8, (p) => v.getFloat64(p), o) },
  ],
]);

/** Formats a magic number as 0x0000TTRR. */
function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

/** Reads the 4-byte magic and the dimension sizes; returns the element type, dims and data offset. */
function parseIdxHeader(bytes: Uint8Array, file: string): { type: IdxType; dims: number[]; offset: number } {
  if (bytes.length < 4) {
    throw new DataFileError(
      file,
      `IDX file too short: expected at least a 4-byte magic number, found ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = IDX_TYPES.get(bytes[2]);
  if (bytes[0] !== 0 || bytes[1] !== 0 || type === undefined || bytes[3] === 0) {
    throw new DataFileError(
      file,
      `not an IDX file: expected magic 0x0000TTRR (TT = type 08/09/0b/0c/0d/0e, RR = dims >= 1, e.g. 0x00000803 for images), found ${hex32(magic)}`,
    );
  }
  const rank = bytes[3];
  const offset = 4 + 4 * rank;
  if (bytes.length < offset) {
    throw new DataFileError(
      file,
      `IDX header truncated: expected ${offset} header bytes for ${rank} dims, found ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) dims.push(view.getUint32(4 + 4 * d));
  return { type, dims, offset };
}

/**
 * Parses an IDX file's bytes. Throws DataFileError (naming `file`) for a short file, a wrong magic
 * number, or a data length that is not prod(dims) * element size.
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxTensor {
  const { type, dims, offset } = parseIdxHeader(bytes, file);
  const count = dims.reduce((a, b) => a * b, 1);
  const expectedBytes = count * type.bytes;
  const foundBytes = bytes.length - offset;
  if (foundBytes !== expectedBytes) {
    throw new DataFileError(
      file,
      `IDX dims [${dims.join(', ')}] of ${type.name} need ${expectedBytes} data bytes after the ${offset}-byte header, found ${foundBytes}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { type: type.name, dims, data: type.read(view, offset, count) };
}

/** Reads and parses an IDX file, inflating it first if it is gzip-compressed (magic 1f 8b). */
export function readIdxFile(file: string): IdxTensor {
  let bytes = readDataFile(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new DataFileError(file, `gzip data is corrupt (${(err as Error).message})`);
    }
  }
  return parseIdx(bytes, file);
}
