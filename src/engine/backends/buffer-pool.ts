/**
 * Recycles the Float32Array outputs of batchlab-native's kernels.
 *
 * Why: a training step allocates the same large outputs every step (the gathered rows, activations,
 * their gradients). A fresh `new Float32Array(n)` is zeroed and, for megabytes, page-faulted in from
 * fresh memory, and V8 hands the old one back only at a garbage collection: at B = 1024 the MLP's
 * 3.2 MB row gather cost ~1 ms of a 4.4 ms step, almost all of it allocation. Kernels that own
 * their output write every element (the addon clears what it accumulates into), so a recycled array
 * needs no zeroing.
 *
 * Safety: only arrays this pool handed out are recycled, and only while nobody else can hold them.
 * An array *escapes* (is never recycled) when its values are read out of the backend (dataSync,
 * data, bufferSync hand out the storage itself, not a copy) or when a kernel returned a view of it
 * (the cpu backend's Slice returns a subarray). The backend calls escape() on those paths and
 * release() when the storage of a tensor is freed.
 */

/** Options of a Float32Pool. */
export interface Float32PoolOptions {
  /** Arrays smaller than this many bytes are plain allocations, never tracked (cheap anyway). Default 64 KiB. */
  minBytes?: number;
  /** Most bytes held in free lists; a release beyond it is dropped for the garbage collector. Default 1 GiB. */
  maxBytes?: number;
  /** Fill every array handed out with NaN (tests: a kernel that reads its output before writing it shows up). */
  poison?: boolean;
}

export const DEFAULT_POOL_MIN_BYTES = 64 * 1024;
export const DEFAULT_POOL_MAX_BYTES = 2 ** 30;

/** Counters of a pool's use since it was made (or cleared). */
export interface PoolStats {
  /** Arrays handed out that came from a free list. */
  reused: number;
  /** Arrays handed out that were freshly allocated (tracked sizes only). */
  allocated: number;
  /** Bytes now held in free lists. */
  pooledBytes: number;
}

export class Float32Pool {
  private readonly minBytes: number;
  private readonly maxBytes: number;
  private readonly poison: boolean;
  /** Arrays handed out, not yet released, that have not escaped. */
  private readonly owned = new WeakSet<Float32Array>();
  /** Free arrays by length, most recently released last. */
  private readonly free = new Map<number, Float32Array[]>();
  private pooledBytes = 0;
  private reused = 0;
  private allocated = 0;

  constructor(options: Float32PoolOptions = {}) {
    this.minBytes = options.minBytes ?? DEFAULT_POOL_MIN_BYTES;
    this.maxBytes = options.maxBytes ?? DEFAULT_POOL_MAX_BYTES;
    this.poison = options.poison ?? false;
  }

  /**
   * An array of `length` elements whose contents are unspecified (NaN with `poison`): the caller must
   * write every element, or pass `zero` for a cleared one.
   */
  take(length: number, zero = false): Float32Array {
    let arr: Float32Array | undefined;
    if (length * 4 < this.minBytes) {
      arr = new Float32Array(length); // zeroed by the engine; small enough not to matter
      return this.poison && !zero ? arr.fill(NaN) : arr;
    }
    arr = this.free.get(length)?.pop();
    if (arr !== undefined) {
      this.pooledBytes -= arr.byteLength;
      this.reused++;
    } else {
      // Uninitialized memory: zeroing it here would be wasted on kernels that write every element.
      const bytes = Buffer.allocUnsafeSlow(length * 4);
      arr = new Float32Array(bytes.buffer, bytes.byteOffset, length);
      this.allocated++;
    }
    this.owned.add(arr);
    if (zero) arr.fill(0);
    else if (this.poison) arr.fill(NaN);
    return arr;
  }

  /** The storage of a freed tensor: kept for reuse when the pool handed it out and it never escaped. */
  release(arr: unknown): void {
    if (!(arr instanceof Float32Array) || !this.owned.has(arr)) return;
    this.owned.delete(arr);
    if (this.pooledBytes + arr.byteLength > this.maxBytes) return;
    const list = this.free.get(arr.length);
    if (list === undefined) this.free.set(arr.length, [arr]);
    else list.push(arr);
    this.pooledBytes += arr.byteLength;
  }

  /** Someone outside the backend may hold `arr` (or a view of it): never recycle it. */
  escape(arr: unknown): void {
    if (arr instanceof Float32Array) this.owned.delete(arr);
  }

  /** Whether `arr` would be recycled when released (tests). */
  isOwned(arr: Float32Array): boolean {
    return this.owned.has(arr);
  }

  /** Drops every free array (the garbage collector takes them) and resets the counters. */
  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
    this.reused = 0;
    this.allocated = 0;
  }

  stats(): PoolStats {
    return { reused: this.reused, allocated: this.allocated, pooledBytes: this.pooledBytes };
  }
}
