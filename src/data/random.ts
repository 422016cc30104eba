/**
 * Seeded randomness for src/data. The generator itself is the project's one seeded RNG,
 * src/core/random.ts (sfc32 seeded through splitmix32, Box-Muller normals with the second normal of
 * each pair cached); this module adds what data needs on top: derived seeds for independent purposes
 * and index permutations as Int32Arrays.
 */
import type { Rng } from '../core/random.js';

export { createRng, type Rng } from '../core/random.js';

/**
 * Derives an independent-looking uint32 seed from a base seed and a purpose label, so that e.g. the
 * held-out split and the `limit` subset of one seed do not reuse the same stream.
 * Formula: FNV-1a 32-bit hash of `label`, xor the base seed (mod 2^32), then murmur3's fmix32 finalizer.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5; // FNV offset basis
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193); // FNV prime
  }
  h ^= seed >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Shuffles `values` in place with Fisher-Yates: for i = length-1 down to 1, swap i with j = rng.randInt(i + 1). */
export function shuffleIndices(values: Int32Array | number[], rng: Rng): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.randInt(i + 1);
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
}

/** A uniformly random permutation of 0..n-1 (identity, then shuffleIndices). */
export function permutation(n: number, rng: Rng): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  shuffleIndices(perm, rng);
  return perm;
}
