/** Helpers for the data tests: temp directories and hand-built IDX / CIFAR files. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory and a cleanup function. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-data-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Element byte sizes and big-endian writers of the IDX types, by type byte. */
const WRITERS: Record<number, [number, (v: DataView, off: number, x: number) => void]> = {
  8: [1, (v, o, x) => v.setUint8(o, x)],
  9: [1, (v, o, x) => v.setInt8(o, x)],
  11: [2, (v, o, x) => v.setInt16(o, x)],
  12: [4, (v, o, x) => v.setInt32(o, x)],
  13: [4, (v, o, x) => v.setFloat32(o, x)],
  14: [8, (v, o, x) => v.setFloat64(o, x)],
};

/** Bytes of an IDX file with type byte `type`, sizes `dims` and elements `values` (big-endian). */
export function idxBytes(type: number, dims: number[], values: ArrayLike<number>): Uint8Array {
  const [size, write] = WRITERS[type];
  const header = 4 + 4 * dims.length;
  const bytes = new Uint8Array(header + values.length * size);
  const view = new DataView(bytes.buffer);
  view.setUint8(2, type);
  view.setUint8(3, dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  for (let i = 0; i < values.length; i++) write(view, header + i * size, values[i]);
  return bytes;
}

/** One CIFAR-10 record: label byte then R, G, B planes where pixel p of channel ch is pixel(p, ch). */
export function cifarRecord(label: number, pixel: (p: number, ch: number) => number): Uint8Array {
  const rec = new Uint8Array(3073);
  rec[0] = label;
  for (let ch = 0; ch < 3; ch++) for (let p = 0; p < 1024; p++) rec[1 + ch * 1024 + p] = pixel(p, ch);
  return rec;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs `fn` and returns the error it throws (fails the test if it does not throw). */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw, but the call returned normally');
}
