/**
 * Native overrides of the TF.js CPU kernels that dominate a training step (see
 * bench/profile-step.ts). Each kernel reads the CPU backend's Float32Array storage in place,
 * allocates exactly one output array and lets the addon fill it. Any case a kernel does not
 * handle (other dtypes, NCHW, unusual broadcasts, other activations) is passed to the original
 * `cpu` kernel, so behaviour never differs from tfjs-backend-cpu except for fp32 rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { Float32Pool } from './buffer-pool.js';
import type { NativeAddon } from './native-addon.js';
import { FUSED_KERNELS, type AdamStep } from './native-ops.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];
type Info = tf.TensorInfo;

const ACT_NONE = 0;
const ACT_RELU = 1;
const OP = { Add: 0, Sub: 1, Multiply: 2 } as const;
const MODE = { same: 0, scalarA: 1, scalarB: 2, rowA: 3, rowB: 4 } as const;

function values(backend: MathBackendCPU, t: Info): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/**
 * True when every given tensor is float32 AND stored as a Float32Array. The dtype alone is not enough:
 * the cpu backend's Cast from bool or int32 to float32 shares the source's Uint8Array/Int32Array.
 */
function isF32(backend: MathBackendCPU, ...ts: (Info | undefined | null)[]): boolean {
  return ts.every(
    (t) => t == null || (t.dtype === 'float32' && backend.data.get(t.dataId).values instanceof Float32Array),
  );
}

/**
 * An output array of `length` elements: from the backend's pool under batchlab-native (buffer-pool.ts),
 * so its contents are unspecified and the kernel must write every element (the addon clears what it
 * accumulates into); a plain zeroed array on any other CPU-storage backend.
 */
function alloc(backend: MathBackendCPU, length: number): Float32Array {
  const pool = (backend as Partial<{ pool: Float32Pool }>).pool;
  return pool === undefined ? new Float32Array(length) : pool.take(length);
}

function output(backend: MathBackendCPU, shape: number[], data: Float32Array): Info {
  return backend.makeTensorInfo(shape, 'float32', data);
}

function size(shape: readonly number[]): number {
  return tf.util.sizeFromShape(shape as number[]);
}

/** Activation code for the fused kernels, or undefined when the addon does not fuse it. */
function activationCode(activation: unknown): number | undefined {
  if (activation == null || activation === 'linear') return ACT_NONE;
  if (activation === 'relu') return ACT_RELU;
  return undefined;
}

/** A bias that adds one value per output column (shape [n], [1, n], ...), else undefined. */
function columnBias(backend: MathBackendCPU, bias: Info | undefined, n: number): Float32Array | null | undefined {
  if (bias == null) return null;
  const s = bias.shape;
  if (!isF32(backend, bias) || size(s) !== n || (s.length > 0 && s[s.length - 1] !== n)) return undefined;
  return values(backend, bias);
}

/** Wraps a native kernel: `native` returns undefined when it declines, then the cpu kernel runs. */
function withFallback(
  kernelName: string,
  native: (args: KernelArgs, backend: MathBackendCPU) => Info | undefined,
): KernelFunc {
  const cpu = tf.getKernel(kernelName, 'cpu');
  if (cpu === undefined) throw new Error(`cpu kernel ${kernelName} is not registered`);
  return (args) => native(args, args.backend as MathBackendCPU) ?? (cpu.kernelFunc(args) as Info);
}

// ---------------------------------------------------------------------------------------------
// Matrix multiply

interface MatmulPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** Shapes of a (batched) matmul; undefined if the batch dims need a general broadcast. */
function planMatmul(a: Info, b: Info, transA: boolean, transB: boolean): MatmulPlan | undefined {
  const ra = a.shape.length,
    rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) return undefined; // the cpu kernel raises the proper error
  const outerA = a.shape.slice(0, -2),
    outerB = b.shape.slice(0, -2);
  const batchA = size(outerA),
    batchB = size(outerB);
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return undefined;
  }
  const batch = size(outer);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  return {
    batch,
    m,
    n,
    k,
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
    outShape: [...outer, m, n],
  };
}

function runMatmul(
  addon: NativeAddon,
  backend: MathBackendCPU,
  a: Info,
  b: Info,
  transA: boolean,
  transB: boolean,
  bias: Info | undefined,
  activation: unknown,
): Info | undefined {
  if (!isF32(backend, a, b)) return undefined;
  const plan = planMatmul(a, b, transA, transB);
  const act = activationCode(activation);
  if (plan === undefined || act === undefined) return undefined;
  const biasValues = columnBias(backend, bias, plan.n);
  if (biasValues === undefined) return undefined;
  const out = alloc(backend, plan.batch * plan.m * plan.n);
  addon.matmul(
    values(backend, a),
    values(backend, b),
    out,
    plan.batch,
    plan.m,
    plan.n,
    plan.k,
    transA,
    transB,
    plan.strideA,
    plan.strideB,
    biasValues,
    act,
  );
  return output(backend, plan.outShape, out);
}

function batchMatMul(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.BatchMatMul,
    backendName: '',
    kernelFunc: withFallback(tf.BatchMatMul, ({ inputs, attrs }, backend) => {
      const { a, b } = inputs as { a: Info; b: Info };
      const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
      return runMatmul(addon, backend, a, b, transposeA, transposeB, undefined, 'linear');
    }),
  };
}

function fusedMatMul(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf._FusedMatMul,
    backendName: '',
    kernelFunc: withFallback(tf._FusedMatMul, ({ inputs, attrs }, backend) => {
      const { a, b, bias } = inputs as { a: Info; b: Info; bias?: Info };
      const { transposeA, transposeB, activation } = attrs as unknown as tf._FusedMatMulAttrs;
      return runMatmul(addon, backend, a, b, transposeA, transposeB, bias, activation);
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling

type ConvInfo = tf.backend_util.Conv2DInfo;

/** The 15 geometry numbers the addon's convolution entry points take. */
function convParams(c: ConvInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.filterHeight,
    c.filterWidth,
    c.outChannels,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
    c.outHeight,
    c.outWidth,
  ];
}

function poolParams(c: ConvInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
    c.outHeight,
    c.outWidth,
  ];
}

function channelsLast(dataFormat: unknown): boolean {
  return dataFormat == null || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function conv2dInfo(xShape: number[], filterShape: number[], attrs: tf.Conv2DAttrs): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

function runConv(
  addon: NativeAddon,
  backend: MathBackendCPU,
  x: Info,
  filter: Info,
  attrs: tf.Conv2DAttrs,
  bias: Info | undefined,
  activation: unknown,
): Info | undefined {
  if (!isF32(backend, x, filter) || !channelsLast(attrs.dataFormat) || x.shape.length !== 4) return undefined;
  const act = activationCode(activation);
  if (act === undefined) return undefined;
  const info = conv2dInfo(x.shape, filter.shape, attrs);
  const biasValues = columnBias(backend, bias, info.outChannels);
  if (biasValues === undefined) return undefined;
  const out = alloc(backend, size(info.outShape));
  addon.conv2d(values(backend, x), values(backend, filter), out, biasValues, act, ...convParams(info));
  return output(backend, info.outShape, out);
}

function conv2D(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.Conv2D,
    backendName: '',
    kernelFunc: withFallback(tf.Conv2D, ({ inputs, attrs }, backend) => {
      const { x, filter } = inputs as { x: Info; filter: Info };
      return runConv(addon, backend, x, filter, attrs as unknown as tf.Conv2DAttrs, undefined, 'linear');
    }),
  };
}

function fusedConv2D(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.FusedConv2D,
    backendName: '',
    kernelFunc: withFallback(tf.FusedConv2D, ({ inputs, attrs }, backend) => {
      const { x, filter, bias } = inputs as { x: Info; filter: Info; bias?: Info };
      const a = attrs as unknown as tf.FusedConv2DAttrs;
      return runConv(addon, backend, x, filter, a, bias, a.activation);
    }),
  };
}

function conv2DBackpropInput(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName: '',
    kernelFunc: withFallback(tf.Conv2DBackpropInput, ({ inputs, attrs }, backend) => {
      const { dy, filter } = inputs as { dy: Info; filter: Info };
      const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
      if (!isF32(backend, dy, filter) || !channelsLast(a.dataFormat)) return undefined;
      const info = conv2dInfo(a.inputShape, filter.shape, { ...a, dilations: 1 });
      const dx = alloc(backend, size(a.inputShape));
      addon.conv2dBackpropInput(values(backend, dy), values(backend, filter), dx, ...convParams(info));
      return output(backend, [...a.inputShape], dx);
    }),
  };
}

function conv2DBackpropFilter(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: '',
    kernelFunc: withFallback(tf.Conv2DBackpropFilter, ({ inputs, attrs }, backend) => {
      const { x, dy } = inputs as { x: Info; dy: Info };
      const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      if (!isF32(backend, x, dy) || !channelsLast(a.dataFormat)) return undefined;
      const info = conv2dInfo(x.shape, a.filterShape, { ...a, dilations: 1 });
      const dw = alloc(backend, size(a.filterShape));
      addon.conv2dBackpropFilter(values(backend, x), values(backend, dy), dw, ...convParams(info));
      return output(backend, [...a.filterShape], dw);
    }),
  };
}

function pool2dInfo(xShape: number[], a: tf.MaxPoolAttrs): ConvInfo {
  return tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
}

function maxPool(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.MaxPool,
    backendName: '',
    kernelFunc: withFallback(tf.MaxPool, ({ inputs, attrs }, backend) => {
      const { x } = inputs as { x: Info };
      if (!isF32(backend, x) || x.shape.length !== 4) return undefined;
      const info = pool2dInfo(x.shape, attrs as unknown as tf.MaxPoolAttrs);
      const y = alloc(backend, size(info.outShape));
      addon.maxPool(values(backend, x), y, ...poolParams(info));
      return output(backend, info.outShape, y);
    }),
  };
}

function maxPoolGrad(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.MaxPoolGrad,
    backendName: '',
    kernelFunc: withFallback(tf.MaxPoolGrad, ({ inputs, attrs }, backend) => {
      const { dy, input } = inputs as { dy: Info; input: Info };
      if (!isF32(backend, dy, input) || input.shape.length !== 4) return undefined;
      const info = pool2dInfo(input.shape, attrs as unknown as tf.MaxPoolAttrs);
      const dx = alloc(backend, size(input.shape));
      addon.maxPoolGrad(values(backend, dy), values(backend, input), dx, ...poolParams(info));
      return output(backend, [...input.shape], dx);
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Element-wise and reductions

/** `inner` is a trailing-dims broadcast of `full`: its shape without leading 1s ends `full`. */
function isRowBroadcast(inner: readonly number[], full: readonly number[]): boolean {
  let s = 0;
  while (s < inner.length && inner[s] === 1) s++;
  const tail = inner.slice(s);
  if (tail.length > full.length) return false;
  const off = full.length - tail.length;
  return tail.every((d, i) => d === full[off + i]);
}

function binaryKernel(addon: NativeAddon, kernelName: 'Add' | 'Sub' | 'Multiply'): tf.KernelConfig {
  const op = OP[kernelName];
  return {
    kernelName,
    backendName: '',
    kernelFunc: withFallback(kernelName, ({ inputs }, backend) => {
      const { a, b } = inputs as { a: Info; b: Info };
      if (!isF32(backend, a, b)) return undefined;
      let outShape: number[];
      try {
        outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
      } catch {
        return undefined;
      }
      const n = size(outShape),
        na = size(a.shape),
        nb = size(b.shape);
      let mode: number;
      let inner = 1;
      if (na === n && nb === n) mode = MODE.same;
      else if (nb === 1 && na === n) mode = MODE.scalarB;
      else if (na === 1 && nb === n) mode = MODE.scalarA;
      else if (na === n && nb > 0 && isRowBroadcast(b.shape, outShape)) (mode = MODE.rowB), (inner = nb);
      else if (nb === n && na > 0 && isRowBroadcast(a.shape, outShape)) (mode = MODE.rowA), (inner = na);
      else return undefined;
      const out = alloc(backend, n);
      if (n > 0) addon.binary(op, mode, values(backend, a), values(backend, b), out, n, inner);
      return output(backend, outShape, out);
    }),
  };
}

function reluKernel(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.Relu,
    backendName: '',
    kernelFunc: withFallback(tf.Relu, ({ inputs }, backend) => {
      const { x } = inputs as { x: Info };
      if (!isF32(backend, x)) return undefined;
      const n = size(x.shape),
        out = alloc(backend, n);
      addon.unary(0, values(backend, x), out, n, 0);
      return output(backend, [...x.shape], out);
    }),
  };
}

function stepKernel(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.Step,
    backendName: '',
    kernelFunc: withFallback(tf.Step, ({ inputs, attrs }, backend) => {
      const { x } = inputs as { x: Info };
      if (!isF32(backend, x)) return undefined;
      const n = size(x.shape),
        out = alloc(backend, n);
      addon.unary(1, values(backend, x), out, n, (attrs as unknown as tf.StepAttrs).alpha ?? 0);
      return output(backend, [...x.shape], out);
    }),
  };
}

/** Sum over leading axes (bias gradients) or trailing axes; other axis sets go to the cpu kernel. */
function sumKernel(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.Sum,
    backendName: '',
    kernelFunc: withFallback(tf.Sum, ({ inputs, attrs }, backend) => {
      const { x } = inputs as { x: Info };
      const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
      if (!isF32(backend, x)) return undefined;
      const shape = x.shape,
        rank = shape.length;
      const axes = [...tf.util.parseAxisParam(axis, shape)].sort((p, q) => p - q);
      if (axes.length === 0 || axes.some((v, i) => i > 0 && v === axes[i - 1])) return undefined;
      const leading = axes.every((v, i) => v === i);
      const trailing = axes.every((v, i) => v === rank - axes.length + i);
      if (!leading && !trailing) return undefined;
      const split = leading ? axes.length : rank - axes.length;
      const outer = size(shape.slice(0, split)),
        inner = size(shape.slice(split));
      const kept = shape.filter((_, i) => !axes.includes(i));
      const outShape = keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept;
      const out = alloc(backend, leading ? inner : outer);
      addon.reduceSum(values(backend, x), out, outer, inner, leading);
      return output(backend, outShape, out);
    }),
  };
}

/**
 * GatherV2 along axis 0 (taking batch rows out of a resident dataset). float32 rows with int32
 * indices: one threaded memcpy per row in the addon, into a pooled output (at B = 1024 the MLP's
 * 3.2 MB gather took ~0.8 ms as TypedArray.set per row into a fresh array). Other dtypes: one
 * TypedArray.set per row. The cpu kernel walks the output element by element through index
 * arithmetic (2.2 ms of a 4.4 ms MLP step at B = 64). Other axes and batch dims go to the cpu kernel,
 * and so does a bad index (it reports it).
 */
function gatherRowsKernel(addon: NativeAddon): tf.KernelConfig {
  return {
    kernelName: tf.GatherV2,
    backendName: '',
    kernelFunc: withFallback(tf.GatherV2, ({ inputs, attrs }, backend) => {
      const { x, indices } = inputs as { x: Info; indices: Info };
      const { axis, batchDims } = attrs as unknown as tf.GatherV2Attrs;
      const ax = tf.util.parseAxisParam(axis, x.shape)[0];
      if (ax !== 0 || (batchDims ?? 0) !== 0 || x.dtype === 'string' || x.dtype === 'complex64') return undefined;
      const src = backend.data.get(x.dataId).values as Float32Array | Int32Array | Uint8Array;
      const idx = backend.data.get(indices.dataId).values as Int32Array | Float32Array;
      const rowSize = size(x.shape.slice(1));
      const rows = x.shape[0]!;
      const outShape = [...indices.shape, ...x.shape.slice(1)];
      if (src instanceof Float32Array && idx instanceof Int32Array) {
        const out = alloc(backend, idx.length * rowSize);
        if (addon.gatherRows(src, rows, idx, idx.length, rowSize, out) >= 0) {
          (backend as Partial<{ pool: Float32Pool }>).pool?.release(out);
          return undefined;
        }
        return backend.makeTensorInfo(outShape, x.dtype, out);
      }
      const out = new (src.constructor as Int32ArrayConstructor)(idx.length * rowSize);
      for (let i = 0; i < idx.length; i++) {
        const r = idx[i]!;
        if (r < 0 || r >= rows) return undefined;
        out.set(src.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize);
      }
      return backend.makeTensorInfo(outShape, x.dtype, out);
    }),
  };
}

/**
 * Pack (tf.stack) along axis 0 of float32 tensors of one shape: one TypedArray.set per input. The
 * trainer stacks its per-step scalars (loss, |g|^2) to read them back in one dataSync; the cpu kernel
 * goes through expandDims and concat, ~45 us for three scalars, a tenth of a B = 64 MLP step.
 */
function packKernel(): tf.KernelConfig {
  return {
    kernelName: tf.Pack,
    backendName: '',
    kernelFunc: withFallback(tf.Pack, ({ inputs, attrs }, backend) => {
      const list = inputs as unknown as Info[];
      const { axis } = attrs as unknown as tf.PackAttrs;
      const first = list[0];
      if (first === undefined || axis !== 0 || !isF32(backend, ...list)) return undefined;
      const shape = first.shape;
      if (list.some((t) => !tf.util.arraysEqual(t.shape, shape))) return undefined;
      const n = size(shape);
      const out = alloc(backend, n * list.length);
      list.forEach((t, i) => out.set(values(backend, t), i * n));
      return output(backend, [list.length, ...shape], out);
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Fused training-step kernels (native-ops.ts): no cpu counterpart, so inputs in another storage are
// converted rather than declined.

function f32Of(backend: MathBackendCPU, t: Info): Float32Array {
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

function i32Of(backend: MathBackendCPU, t: Info): Int32Array {
  const v = backend.data.get(t.dataId).values;
  return v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>);
}

function fusedKernel(
  kernelName: string,
  fn: (args: KernelArgs, backend: MathBackendCPU) => Info | Info[],
): tf.KernelConfig {
  return { kernelName, backendName: '', kernelFunc: (args) => fn(args, args.backend as MathBackendCPU) };
}

function fusedKernels(addon: NativeAddon): tf.KernelConfig[] {
  return [
    fusedKernel(FUSED_KERNELS.sumSquares, ({ inputs }, backend) => {
      const xs = Object.values(inputs as Record<string, Info>).map((t) => f32Of(backend, t));
      return output(backend, [], Float32Array.of(addon.sumSquares(xs)));
    }),
    fusedKernel(FUSED_KERNELS.sgd, ({ inputs, attrs }, backend) => {
      const { w, g } = inputs as { w: Info; g: Info };
      const n = size(w.shape),
        out = alloc(backend, n);
      addon.sgdUpdate(f32Of(backend, w), f32Of(backend, g), out, n, (attrs as { lr: number }).lr);
      return output(backend, [...w.shape], out);
    }),
    fusedKernel(FUSED_KERNELS.momentum, ({ inputs, attrs }, backend) => {
      const { w, buf, g } = inputs as { w: Info; buf: Info; g: Info };
      const { lr, mu } = attrs as { lr: number; mu: number };
      const n = size(w.shape),
        wOut = alloc(backend, n),
        bufOut = alloc(backend, n);
      addon.momentumUpdate(f32Of(backend, w), f32Of(backend, buf), f32Of(backend, g), wOut, bufOut, n, lr, mu);
      return [output(backend, [...w.shape], wOut), output(backend, [...w.shape], bufOut)];
    }),
    fusedKernel(FUSED_KERNELS.adam, ({ inputs, attrs }, backend) => {
      const { w, m, v, g } = inputs as { w: Info; m: Info; v: Info; g: Info };
      const k = attrs as unknown as AdamStep;
      const n = size(w.shape),
        wOut = alloc(backend, n),
        mOut = alloc(backend, n),
        vOut = alloc(backend, n);
      addon.adamUpdate(
        f32Of(backend, w),
        f32Of(backend, m),
        f32Of(backend, v),
        f32Of(backend, g),
        wOut,
        mOut,
        vOut,
        n,
        k.lr,
        k.beta1,
        k.beta2,
        k.c1,
        k.c2,
        k.epsilon,
      );
      return [wOut, mOut, vOut].map((d) => output(backend, [...w.shape], d));
    }),
    fusedKernel(FUSED_KERNELS.reluGrad, ({ inputs }, backend) => {
      const { dy, x } = inputs as { dy: Info; x: Info };
      const n = size(x.shape),
        out = alloc(backend, n);
      addon.reluGrad(f32Of(backend, dy), f32Of(backend, x), out, n);
      return output(backend, [...x.shape], out);
    }),
    fusedKernel(FUSED_KERNELS.softmaxXent, ({ inputs }, backend) => {
      const { logits, labels } = inputs as { logits: Info; labels: Info };
      const [rows, classes] = logits.shape as [number, number];
      const probs = alloc(backend, rows * classes);
      const loss = addon.softmaxXent(f32Of(backend, logits), i32Of(backend, labels), probs, rows, classes);
      return [output(backend, [], Float32Array.of(loss)), output(backend, [rows, classes], probs)];
    }),
    fusedKernel(FUSED_KERNELS.softmaxXentGrad, ({ inputs }, backend) => {
      const { dy, probs, labels } = inputs as { dy: Info; probs: Info; labels: Info };
      const [rows, classes] = probs.shape as [number, number];
      const d = alloc(backend, rows * classes);
      addon.softmaxXentGrad(f32Of(backend, probs), i32Of(backend, labels), f32Of(backend, dy)[0]!, d, rows, classes);
      return output(backend, [rows, classes], d);
    }),
  ];
}

/** Every kernel the native backend overrides, built over a loaded addon. */
export function nativeKernelConfigs(addon: NativeAddon): tf.KernelConfig[] {
  return [
    batchMatMul(addon),
    fusedMatMul(addon),
    conv2D(addon),
    fusedConv2D(addon),
    conv2DBackpropInput(addon),
    conv2DBackpropFilter(addon),
    maxPool(addon),
    maxPoolGrad(addon),
    binaryKernel(addon, 'Add'),
    binaryKernel(addon, 'Sub'),
    binaryKernel(addon, 'Multiply'),
    reluKernel(addon),
    stepKernel(addon),
    sumKernel(addon),
    gatherRowsKernel(addon),
    packKernel(),
    ...fusedKernels(addon),
  ];
}
