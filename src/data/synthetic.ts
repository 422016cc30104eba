/**
 * Synthetic datasets with exact, seeded definitions. Each one draws from a single stream
 * rng = createRng(seed) (src/core/random.ts: sfc32 uniforms, Box-Muller normals): first anything
 * shared (linreg's w*), then the `trainCount` training samples in order, then the `testCount` test
 * samples, each sample drawing its numbers in the order its formula lists them. Inputs and targets
 * are stored as float32.
 */
import { createRng, type Rng } from '../core/random.js';
import type { Dataset, Split } from './types.js';

/** Sizes shared by all synthetic datasets. */
export interface SyntheticSizes {
  seed: number;
  trainCount: number;
  testCount: number;
}

/** Default synthetic split sizes. */
export const SYNTHETIC_TRAIN_COUNT = 4096;
export const SYNTHETIC_TEST_COUNT = 1024;

/** Spiral arms make this many turns (as in TensorFlow Playground's spiral, 1.75 turns). */
export const SPIRAL_TURNS = 1.75;
export const SPIRAL_DEFAULT_CLASSES = 3;
export const SPIRAL_DEFAULT_NOISE = 0.05;
/** Gaussian blob centres are (-c, -c) for class 0 and (+c, +c) for class 1. */
export const GAUSS_CENTER = 1.5;
export const GAUSS_DEFAULT_NOISE = 1;
export const LINREG_DEFAULT_DIM = 10;
export const LINREG_DEFAULT_NOISE = 0.5;

/** Fills a classification split of `count` 2-D points with `point(i, xy)` writing x and returning the class. */
function pointSplit(count: number, point: (i: number) => [number, number, number]): Split {
  const x = new Float32Array(count * 2);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const [px, py, cls] = point(i);
    x[2 * i] = px;
    x[2 * i + 1] = py;
    y[i] = cls;
  }
  return { x, y, count };
}

/** A 2-D, `numClasses`-class dataset from a per-sample generator; train first, then test. */
function twoDimDataset(
  name: string,
  sizes: SyntheticSizes,
  numClasses: number,
  point: (i: number) => [number, number, number],
): Dataset {
  const train = pointSplit(sizes.trainCount, point);
  const test = pointSplit(sizes.testCount, point);
  return { name, task: 'classification', inputShape: [2], numClasses, targetDim: 1, train, test, info: {} };
}

/**
 * `spiral`: K interleaved spiral arms, one class per arm. Sample i of a split has class k = i mod K;
 * it draws t ~ U[0, 1), then ex, ey ~ N(0, 1), and is
 *   r = t,  theta = 2 pi k / K + 2 pi * 1.75 * t,  x = (r cos theta + sigma ex, r sin theta + sigma ey).
 */
export function spiral(sizes: SyntheticSizes, opts: { numClasses: number; noiseSigma: number }): Dataset {
  const rng = createRng(sizes.seed);
  const { numClasses: k, noiseSigma: sigma } = opts;
  const point = (i: number): [number, number, number] => {
    const cls = i % k;
    const t = rng.uniform();
    const theta = (2 * Math.PI * cls) / k + 2 * Math.PI * SPIRAL_TURNS * t;
    return [t * Math.cos(theta) + sigma * rng.normal(), t * Math.sin(theta) + sigma * rng.normal(), cls];
  };
  const ds = twoDimDataset('spiral', sizes, k, point);
  ds.info = {
    source: 'synthetic',
    definition: `${k} spiral arms, r = t ~ U[0,1), ${SPIRAL_TURNS} turns, noise sigma ${sigma}`,
    seed: sizes.seed,
  };
  return ds;
}

/**
 * `gauss`: two isotropic Gaussian blobs. Sample i of a split has class k = i mod 2, draws
 * ex, ey ~ N(0, 1), and is x = (s c + sigma ex, s c + sigma ey) with s = -1 for class 0, +1 for
 * class 1 and c = 1.5.
 */
export function gauss(sizes: SyntheticSizes, opts: { noiseSigma: number }): Dataset {
  const rng = createRng(sizes.seed);
  const sigma = opts.noiseSigma;
  const point = (i: number): [number, number, number] => {
    const cls = i % 2;
    const centre = cls === 0 ? -GAUSS_CENTER : GAUSS_CENTER;
    return [centre + sigma * rng.normal(), centre + sigma * rng.normal(), cls];
  };
  const ds = twoDimDataset('gauss', sizes, 2, point);
  ds.info = {
    source: 'synthetic',
    definition: `blobs at (-${GAUSS_CENTER}, -${GAUSS_CENTER}) and (${GAUSS_CENTER}, ${GAUSS_CENTER}), sigma ${sigma}`,
    seed: sizes.seed,
  };
  return ds;
}

/** `count` linreg samples: x ~ N(0, I_d) then eps ~ N(0, 1) per sample; y = w*.x + sigma eps. */
function linregSplit(rng: Rng, count: number, weights: Float32Array, sigma: number): Split {
  const d = weights.length;
  const x = new Float32Array(count * d);
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = rng.normal();
      dot += weights[j] * x[i * d + j]; // the stored (float32) x, so residuals are exactly sigma eps up to rounding
    }
    y[i] = dot + sigma * rng.normal();
  }
  return { x, y, count };
}

/**
 * `linreg`: linear regression with a known answer. From rng = createRng(seed):
 *   1. w* ~ N(0, I_d): d normals, stored as float32 (truth.weights); bias b* = 0;
 *   2. each training sample, then each test sample: x ~ N(0, I_d) (d normals, stored as float32),
 *      then eps ~ N(0, 1), and y = w*.x + sigma eps, with w*.x summed in float64 over the float32
 *      w* and x, and y rounded once to float32.
 * So y - w*.x = sigma eps (to float32 rounding), E[y | x] = w*.x, and for squared loss
 * L = (w.x + b - y)^2 / 2 everything about the gradient noise follows from x ~ N(0, I), eps ~ N(0, 1).
 */
export function linreg(sizes: SyntheticSizes, opts: { dim: number; noiseSigma: number }): Dataset {
  const rng = createRng(sizes.seed);
  const weights = new Float32Array(opts.dim);
  for (let j = 0; j < opts.dim; j++) weights[j] = rng.normal();
  const train = linregSplit(rng, sizes.trainCount, weights, opts.noiseSigma);
  const test = linregSplit(rng, sizes.testCount, weights, opts.noiseSigma);
  return {
    name: 'linreg',
    task: 'regression',
    inputShape: [opts.dim],
    numClasses: 0,
    targetDim: 1,
    train,
    test,
    info: {
      source: 'synthetic',
      definition: `y = w*.x + sigma eps, x ~ N(0, I_${opts.dim}), w* ~ N(0, I), eps ~ N(0, 1), sigma ${opts.noiseSigma}`,
      seed: sizes.seed,
    },
    truth: { weights, bias: 0, noiseSigma: opts.noiseSigma },
  };
}

/**
 * The gradient noise scale of `linreg` in closed form, at weights w = w* + dw and bias b = db, for the loss
 * L = (w.x + b - y)^2 / 2 with x ~ N(0, I_d), y = w*.x + sigma eps. The per-sample gradient is
 * g = (x r, r) with r = x.dw + db - sigma eps, so G = E[g] = (dw, db) and (Isserlis' theorem for the
 * fourth moments of x):
 *   tr(Sigma) = E|g|^2 - |G|^2 = (d + 2)|dw|^2 + d db^2 + (d + 1) sigma^2,   |G|^2 = |dw|^2 + db^2,
 * B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, App. A). With db = 0 it reads, in the population
 * loss L = (|dw|^2 + sigma^2) / 2: B_simple(L) = (d + 2) + (d + 1) sigma^2 / (2L - sigma^2), which grows
 * without bound as L falls to its floor sigma^2 / 2.
 */
export function linregNoiseScale(o: { dim: number; noiseSigma: number; dw2: number; db2: number }): {
  trSigma: number;
  gradSq: number;
  bSimple: number;
} {
  const trSigma = (o.dim + 2) * o.dw2 + o.dim * o.db2 + (o.dim + 1) * o.noiseSigma ** 2;
  const gradSq = o.dw2 + o.db2;
  return { trSigma, gradSq, bSimple: trSigma / gradSq };
}

/** B_simple of `linreg` at population loss `loss` (bias at its optimum): (d + 2) + (d + 1) sigma^2 / (2 loss - sigma^2). */
export function linregNoiseScaleAtLoss(o: { dim: number; noiseSigma: number; loss: number }): number {
  const dw2 = 2 * o.loss - o.noiseSigma ** 2;
  return dw2 > 0
    ? linregNoiseScale({ dim: o.dim, noiseSigma: o.noiseSigma, dw2, db2: 0 }).bSimple
    : Number.POSITIVE_INFINITY;
}
