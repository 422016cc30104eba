/**
 * Locates and loads the compiled `batchlab-native` Node-API addon
 * (native/build/Release/batchlab_native.node). Never throws: a missing or broken build is
 * reported as a reason string so callers can fall back to another backend.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The functions the addon exports; all arrays are Float32Arrays, shapes are plain numbers. */
export interface NativeAddon {
  matmul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    strideA: number,
    strideB: number,
    bias: Float32Array | null,
    act: number,
  ): void;
  conv2d(
    x: Float32Array,
    w: Float32Array,
    y: Float32Array,
    bias: Float32Array | null,
    act: number,
    ...p: number[]
  ): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, ...p: number[]): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, ...p: number[]): void;
  maxPool(x: Float32Array, y: Float32Array, ...p: number[]): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, ...p: number[]): void;
  binary(op: number, mode: number, a: Float32Array, b: Float32Array, out: Float32Array, n: number, inner: number): void;
  unary(op: number, x: Float32Array, out: Float32Array, n: number, alpha: number): void;
  /** out = dy * step(x): the relu gradient in one pass. */
  reluGrad(dy: Float32Array, x: Float32Array, out: Float32Array, n: number): void;
  reduceSum(x: Float32Array, out: Float32Array, outer: number, inner: number, overOuter: boolean): void;
  /** Sum of squares of every element of every array (accumulated in double, in a fixed order). */
  sumSquares(xs: Float32Array[]): number;
  sgdUpdate(w: Float32Array, g: Float32Array, wOut: Float32Array, n: number, lr: number): void;
  momentumUpdate(
    w: Float32Array,
    buf: Float32Array,
    g: Float32Array,
    wOut: Float32Array,
    bufOut: Float32Array,
    n: number,
    lr: number,
    mu: number,
  ): void;
  adamUpdate(
    w: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    wOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    c1: number,
    c2: number,
    eps: number,
  ): void;
  /** Fills `probs` with softmax(logits) row by row; returns the mean softmax cross-entropy. */
  /** Rows idx of src ([srcRows, rowSize]) into out, in order; -1, or the position of the first index outside [0, srcRows) (then nothing is copied). */
  gatherRows(
    src: Float32Array,
    srcRows: number,
    idx: Int32Array,
    count: number,
    rowSize: number,
    out: Float32Array,
  ): number;
  softmaxXent(logits: Float32Array, labels: Int32Array, probs: Float32Array, rows: number, classes: number): number;
  softmaxXentGrad(
    probs: Float32Array,
    labels: Int32Array,
    dy: number,
    dlogits: Float32Array,
    rows: number,
    classes: number,
  ): void;
  info(): { simd: string; threads: number };
  setThreads(n: number): number;
  setSimd(name: string): boolean;
  memoryBytes(): number;
  releaseScratch(): void;
}

const ADDON_RELATIVE = join('native', 'build', 'Release', 'batchlab_native.node');

/**
 * The package root: the nearest ancestor of this file holding native/binding.gyp. Works from
 * src/engine/backends (tsx) and dist/engine/backends (compiled) alike.
 */
function findPackageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Loads the addon; `BATCHLAB_NATIVE_ADDON` may point at a .node file elsewhere. */
export function loadNativeAddon(): { ok: true; addon: NativeAddon } | { ok: false; reason: string } {
  const override = process.env['BATCHLAB_NATIVE_ADDON'];
  const root = findPackageRoot();
  const path = override ?? (root === undefined ? undefined : join(root, ADDON_RELATIVE));
  if (path === undefined) return { ok: false, reason: 'batchlab-native: package root (native/binding.gyp) not found' };
  if (!existsSync(path)) {
    return {
      ok: false,
      reason: `batchlab-native addon not built (${path} missing); run: npx node-gyp rebuild --directory native`,
    };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon.matmul !== 'function')
      return { ok: false, reason: `batchlab-native: ${path} is not the expected addon` };
    // The newest function: without it the .node file predates this source (an old build left in place).
    if (typeof addon.reluGrad !== 'function')
      return {
        ok: false,
        reason: `batchlab-native: ${path} is an older build; run: npx node-gyp rebuild --directory native`,
      };
    return { ok: true, addon };
  } catch (e) {
    return { ok: false, reason: `batchlab-native addon failed to load from ${path}: ${(e as Error).message}` };
  }
}
