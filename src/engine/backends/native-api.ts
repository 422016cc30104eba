/**
 * The functions of the `batchlab-native` addon, as a type only: code that runs in the browser too
 * (native-ops.ts) names the addon without importing the Node-only loader (native-addon.ts).
 */
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
