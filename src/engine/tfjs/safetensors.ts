/**
 * The safetensors container (huggingface/safetensors, "Format" in its README), which batchlab's TF.js
 * checkpoints use, so any safetensors reader (Python's `safetensors`, a few lines of any language) can
 * open them:
 *
 *   8 bytes    N, the header's length, unsigned little-endian 64-bit
 *   N bytes    a UTF-8 JSON object: for each tensor name { "dtype": "F32" | "I32", "shape": [...],
 *              "data_offsets": [begin, end] } (byte offsets into the data, end exclusive), and an optional
 *              "__metadata__" object of string values; padded with spaces to a multiple of 8 bytes
 *   the data   every tensor's bytes, little-endian, back to back, in the order of the header
 *
 * Pure bytes in and out; a file that is not one is a DataFileError naming what is wrong.
 */
import { DataFileError } from '../../core/errors.js';

/** The tensor types batchlab writes: fp32 values and int32 indices. */
export type TensorArray = Float32Array | Int32Array;

/** A named tensor: its values and shape. */
export interface NamedTensor {
  name: string;
  shape: number[];
  values: TensorArray;
}

/** What a safetensors file holds. */
export interface SafetensorsContent {
  tensors: NamedTensor[];
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';
/** Bytes of the length prefix. */
const PREFIX_BYTES = 8;
/** The header's length is padded to this (safetensors aligns the data it points into). */
const HEADER_ALIGN = 8;
/** A header above this is not a checkpoint of batchlab's (safetensors itself refuses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

interface HeaderEntry {
  dtype: 'F32' | 'I32';
  shape: number[];
  data_offsets: [number, number];
}

/** Encodes tensors and string metadata as one safetensors file. */
export function encodeSafetensors(content: SafetensorsContent): Uint8Array {
  const header: Record<string, HeaderEntry | Record<string, string>> = { [METADATA_KEY]: content.metadata };
  let offset = 0;
  for (const t of content.tensors) {
    if (t.name === METADATA_KEY || Object.hasOwn(header, t.name))
      throw new Error(`tensor name ${t.name} is reserved or used twice`);
    const bytes = t.values.byteLength;
    header[t.name] = {
      dtype: t.values instanceof Float32Array ? 'F32' : 'I32',
      shape: t.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const unpadded = new TextEncoder().encode(json).length;
  json += ' '.repeat((HEADER_ALIGN - (unpadded % HEADER_ALIGN)) % HEADER_ALIGN);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(PREFIX_BYTES + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, PREFIX_BYTES);
  let at = PREFIX_BYTES + headerBytes.length;
  for (const t of content.tensors) {
    out.set(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), at);
    at += t.values.byteLength;
  }
  return out;
}

/** Decodes a safetensors file (F32 and I32 tensors only); `file` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsContent {
  const bad = (why: string) => new DataFileError(file, `not a batchlab checkpoint (safetensors): ${why}`);
  if (bytes.length < PREFIX_BYTES) throw bad(`only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || PREFIX_BYTES + headerLength > bytes.length)
    throw bad(`header length ${headerLength} does not fit the ${bytes.length}-byte file`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw bad('the header is not UTF-8 JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('the header is not an object');
  const data = bytes.subarray(PREFIX_BYTES + headerLength);
  const tensors: NamedTensor[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = checkedMetadata(entry, bad);
    else tensors.push(decodeTensor(name, entry, data, bad));
  }
  return { tensors, metadata };
}

function checkedMetadata(entry: unknown, bad: (why: string) => Error): Record<string, string> {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw bad('__metadata__ is not an object');
  for (const [k, v] of Object.entries(entry)) if (typeof v !== 'string') throw bad(`metadata ${k} is not a string`);
  return entry as Record<string, string>;
}

/** One tensor's entry checked against the data (dtype, shape, offsets), its values copied out. */
function decodeTensor(name: string, entry: unknown, data: Uint8Array, bad: (why: string) => Error): NamedTensor {
  const e = entry as Partial<HeaderEntry> | null;
  const shape = e?.shape;
  const offsets = e?.data_offsets;
  if (e === null || (e.dtype !== 'F32' && e.dtype !== 'I32')) throw bad(`tensor ${name}: dtype must be F32 or I32`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw bad(`tensor ${name}: shape must be a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0))
    throw bad(`tensor ${name}: data_offsets must be [begin, end]`);
  const [begin, end] = offsets as [number, number];
  const count = shape.reduce((a, b) => a * b, 1);
  if (end - begin !== count * 4 || end > data.length)
    throw bad(`tensor ${name}: ${end - begin} bytes at ${begin} do not hold shape [${shape.join(', ')}]`);
  // Copied into a fresh (aligned) buffer: the data section need not start at a multiple of 4 in memory,
  // and a Node Buffer's slice() would share (and expose) the whole file's memory instead of copying.
  const buffer = new Uint8Array(data.subarray(begin, end)).buffer;
  return { name, shape, values: e.dtype === 'F32' ? new Float32Array(buffer) : new Int32Array(buffer) };
}
