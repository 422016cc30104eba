/**
 * Helpers for the native-backend tests: run the same computation on `cpu` and on
 * `batchlab-native` from identical seeded inputs and compare the results.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Gradients are registered as a side effect of loading tfjs-layers (as in batchlab itself).
import '@tensorflow/tfjs-layers';
import { registerNativeBackend, type NativeRegistration } from '../../src/engine/backends/native.js';

export const NATIVE = 'batchlab-native';

/**
 * Registration result, computed once per test file (registration itself is idempotent). The output
 * pool recycles every array (minBytes 0) and fills each one it hands out with NaN: a kernel that
 * reads its output before writing all of it, or a recycled array still in use, shows up as NaN.
 */
export const registration: NativeRegistration = registerNativeBackend({ pool: { minBytes: 0, poison: true } });
export const skipReason = registration.ok ? undefined : `addon not built: ${registration.reason}`;

/** Seeded uniform values in [lo, hi) (mulberry32), so both backends see identical inputs. */
export function randomValues(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = lo + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

export interface Spec {
  shape: number[];
  seed: number;
  lo?: number;
  hi?: number;
  values?: Float32Array;
}

/** Runs `fn` on `backend` with tensors built from `specs`; returns the outputs' values. */
export async function runOn(
  backend: string,
  specs: Spec[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const inputs = specs.map((s) =>
    tf.tensor(s.values ?? randomValues(tf.util.sizeFromShape(s.shape), s.seed, s.lo, s.hi), s.shape, 'float32'),
  );
  const out = tf.tidy(() => fn(...inputs));
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => Float32Array.from(t.dataSync()));
  const shapes = list.map((t) => t.shape.join('x'));
  tf.dispose([...inputs, ...list]);
  if (tf.memory().numTensors !== before)
    throw new Error(`leaked ${tf.memory().numTensors - before} tensors on ${backend}`);
  return values.map((v, i) => Object.assign(v, { shapeKey: shapes[i] }));
}

/**
 * fp32 tolerance used throughout: |native - cpu| <= 1e-4 * max(1, max|cpu|) element-wise (sums are
 * re-associated by blocking, SIMD and threads; a few ulps per term over K <= ~3000 terms).
 */
export function maxScaledError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let scale = 1;
  for (const v of expected) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (!(Number.isNaN(e) && Number.isNaN(a))) return Infinity;
      continue;
    }
    if (a === e) continue;
    worst = Math.max(worst, Math.abs(a - e) / scale);
  }
  return worst;
}

export const TOLERANCE = 1e-4;

/** Runs `fn` on both backends and returns the worst scaled error over all outputs. */
export async function compareBackends(
  specs: Spec[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<number> {
  const expected = await runOn('cpu', specs, fn);
  const actual = await runOn(NATIVE, specs, fn);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]! as Float32Array & { shapeKey?: string },
      e = expected[i]! as Float32Array & { shapeKey?: string };
    if (a.shapeKey !== e.shapeKey) throw new Error(`shape ${a.shapeKey} != ${e.shapeKey}`);
    worst = Math.max(worst, maxScaledError(a, e));
  }
  return worst;
}
