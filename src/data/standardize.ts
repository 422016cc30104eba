/**
 * Feature standardization: z = (x - mean) / std per feature, with mean and std measured on the
 * training split only, so no held-out information leaks into the inputs.
 */

/** Per-feature statistics of a training split. */
export interface Standardization {
  mean: Float64Array;
  /** Population standard deviation sqrt(sum (x - mean)^2 / n); a constant feature gets 1 (left centred, unscaled). */
  std: Float64Array;
}

/** Measures mean and population std of each of the `featureCount` features of row-major `x`. */
export function fitStandardization(x: Float32Array, featureCount: number): Standardization {
  const count = x.length / featureCount;
  const mean = new Float64Array(featureCount);
  const std = new Float64Array(featureCount);
  for (let i = 0; i < x.length; i++) mean[i % featureCount] += x[i];
  for (let f = 0; f < featureCount; f++) mean[f] /= count;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - mean[i % featureCount];
    std[i % featureCount] += d * d;
  }
  for (let f = 0; f < featureCount; f++) {
    const s = Math.sqrt(std[f] / count);
    std[f] = s > 0 ? s : 1;
  }
  return { mean, std };
}

/** Returns a new array with z = (x - mean) / std applied to every row of row-major `x`. */
export function applyStandardization(x: Float32Array, stats: Standardization): Float32Array {
  const featureCount = stats.mean.length;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const f = i % featureCount;
    out[i] = (x[i] - stats.mean[f]) / stats.std[f];
  }
  return out;
}
