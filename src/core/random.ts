/**
 * Seeded pseudo-random numbers for reproducible sampling (mini-batch order, bootstrap resamples,
 * synthetic data). Pure: all state lives in the object `createRng` returns, never at module level.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's "Small Fast Counting" generator, PractRand-tested), its
 * 128-bit state filled from the 32-bit seed by splitmix32 so that nearby seeds give unrelated streams.
 */
import { UsageError } from './errors.js';

/** 2^32, the number of distinct outputs of one generator call. */
const TWO_POW_32 = 4294967296;

/** A seeded random stream. Every method advances the same state. */
export interface Rng {
  /** The seed this stream was created from. */
  readonly seed: number;
  /** Uniform in [0, 1), resolution 2^-32. */
  uniform(): number;
  /** Standard normal N(0, 1) by the Box-Muller transform (two normals per pair of uniforms; the second is cached). */
  normal(): number;
  /** Uniform integer in [0, n), unbiased (rejection sampling); n is an integer in [1, 2^32]. */
  randInt(n: number): number;
  /** Raw 32-bit unsigned output. */
  nextUint32(): number;
}

/** splitmix32 step: returns [output, next state]; used only to expand the seed. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

/**
 * Creates a seeded generator. The same seed always gives the same stream.
 * @param seed any finite number; it is reduced to 32 bits (`seed >>> 0` of its integer part).
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) {
    throw new UsageError(`random seed must be a finite number, got ${seed}; pass e.g. --seed 42`);
  }
  let s = Math.trunc(seed) >>> 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [out, next] = splitmix32(s);
    words.push(out);
    s = next;
  }
  let [a, b, c, d] = words as [number, number, number, number];
  let spareNormal: number | undefined;

  /** sfc32 step: a, b, c, d are 32-bit words; d is the counter. */
  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Discard the first outputs so the state is well mixed (as the sfc32 reference does).
  for (let i = 0; i < 12; i++) nextUint32();

  const uniform = (): number => nextUint32() / TWO_POW_32;

  const normal = (): number => {
    if (spareNormal !== undefined) {
      const z = spareNormal;
      spareNormal = undefined;
      return z;
    }
    // Box-Muller: z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2); u1 in (0, 1].
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };

  const randInt = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new UsageError(`randInt needs an integer n in [1, 2^32], got ${n}`);
    }
    // Reject draws at or above the largest multiple of n below 2^32, so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = nextUint32();
      if (x < limit) return x % n;
    }
  };

  return { seed, uniform, normal, randInt, nextUint32 };
}

/**
 * Fisher-Yates (Durstenfeld) shuffle: for i = n-1 down to 1, swap a[i] with a[j], j uniform in [0, i].
 * Every permutation is equally likely. Mutates and returns `arr`.
 */
export function shuffleInPlace<A extends unknown[] | Int32Array>(arr: A, rng: Rng): A {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = rng.randInt(i + 1);
    const tmp = arr[i];
    arr[i] = arr[j]!;
    arr[j] = tmp!;
  }
  return arr;
}

/** A uniformly random permutation of 0..n-1 (the identity, shuffled). */
export function permutation(n: number, rng: Rng): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  return shuffleInPlace(perm, rng);
}

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
