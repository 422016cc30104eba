/**
 * Conversions of 8-bit pixel bytes to floats in [0, 1]. A 256-entry lookup table gives the exact
 * float32 of v / 255 for every byte and avoids a division per pixel.
 */

/** Largest 8-bit pixel value: pixels are scaled by 1 / PIXEL_MAX to [0, 1]. */
export const PIXEL_MAX = 255;

/** LUT[v] = fround(v / 255) for v = 0..255. */
function unitLut(): Float32Array {
  const lut = new Float32Array(PIXEL_MAX + 1);
  for (let v = 0; v <= PIXEL_MAX; v++) lut[v] = v / PIXEL_MAX;
  return lut;
}

/** All bytes of `bytes` as floats v / 255, in the same order. */
export function bytesToUnitFloats(bytes: Uint8Array): Float32Array {
  const lut = unitLut();
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = lut[bytes[i]];
  return out;
}

/**
 * Rows `indices` (each `rowSize` bytes, row i at bytes[i*rowSize ..]) of `bytes`, in that order, as
 * floats v / 255.
 */
export function gatherUnitFloats(bytes: Uint8Array, indices: ArrayLike<number>, rowSize: number): Float32Array {
  const lut = unitLut();
  const out = new Float32Array(indices.length * rowSize);
  for (let k = 0; k < indices.length; k++) {
    const src = indices[k] * rowSize;
    const dst = k * rowSize;
    for (let j = 0; j < rowSize; j++) out[dst + j] = lut[bytes[src + j]];
  }
  return out;
}
