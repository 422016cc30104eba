/**
 * The loss landscape of the playground: a 2-D toy problem with a wide and a sharp minimum, trained by
 * mini-batch SGD with batchlab's own seeded batching (core/batching.ts), so a learner can watch the paths
 * of small and large batches. Pure: no DOM, no TF.js (two weights need no tensors).
 *
 * The problem is a finite sum, like a real training set: N samples, sample i has the loss
 *   l_i(w) = L(w - xi_i),  xi_i ~ N(0, sigma^2 I) drawn once (the "data"),
 *   L(w) = BOWL/2 |w|^2 - sum_k depth_k exp(-|w - c_k|^2 / (2 width_k^2))     (a wide and a sharp well),
 * and the training loss is the mean over the samples. A batch of B samples steps along the mean of their
 * gradients, grad L(w - xi_j). Near a well's centre the per-sample gradients differ by about H xi_j, with
 * H = depth / width^2 its curvature, so the gradient noise is far larger in the sharp well than in the wide
 * one (the noise covariance follows the Hessian, as Zhu et al. 2019 describe for SGD). Its variance falls
 * as 1/B: small batches get shaken out of the sharp well, large ones settle in it. Whether they do depends
 * on the seed (the sample order), so the page runs several seeds and shows the count.
 *
 * A toy built for the demonstration: on real networks whether small batches find flatter minima, and
 * whether flatness means better generalization, is debated (Keskar et al. 2017; Dinh et al. 2017).
 */
import { epochOrder, makeBatches } from '../../../src/core/batching.js';
import { createRng } from '../../../src/core/random.js';

/** A point in the plane of the two weights. */
export type Point = readonly [x: number, y: number];

/** One Gaussian well of L: centre, depth and width (its standard deviation). */
export interface Well {
  center: Point;
  depth: number;
  width: number;
}

/** The toy problem: the wells of L, its bowl, and the sample shifts xi_i. */
export interface ToyProblem {
  wide: Well;
  sharp: Well;
  /** Curvature of the bowl BOWL/2 |w|^2 that keeps L bounded below far away. */
  bowl: number;
  /** xi_i as [x0, y0, x1, y1, ...]; N = shifts.length / 2. */
  shifts: Float64Array;
}

/** Samples in the toy training set. */
export const TOY_SAMPLES = 256;
/** Standard deviation of the sample shifts: as wide as the sharp well, so its per-sample losses disagree. */
export const TOY_SHIFT_SIGMA = 0.12;
/** Seed of the toy data (fixed: every run and seed trains on the same samples). */
export const TOY_DATA_SEED = 7;
/** Where every path starts: on the slope that full-batch descent follows into the sharp well. */
export const TOY_START: Point = [-0.6, 0.55];
/** The region the page draws: x in [X_MIN, X_MAX], y in [Y_MIN, Y_MAX]. */
export const TOY_VIEW = { xMin: -1.8, xMax: 2.4, yMin: -1.1, yMax: 1.5 } as const;

/** The problem the page shows: a wide well (depth 1, width 0.7) and a deeper, narrow one (depth 1.3, width 0.12). */
export function toyProblem(): ToyProblem {
  const rng = createRng(TOY_DATA_SEED);
  const shifts = new Float64Array(2 * TOY_SAMPLES);
  for (let i = 0; i < shifts.length; i++) shifts[i] = TOY_SHIFT_SIGMA * rng.normal();
  return {
    wide: { center: [1.2, 0], depth: 1, width: 0.7 },
    sharp: { center: [-1, 0.3], depth: 1.3, width: 0.12 },
    bowl: 0.05,
    shifts,
  };
}

/** L at (x, y), the loss of a sample with no shift. */
export function baseLoss(p: ToyProblem, x: number, y: number): number {
  let loss = (p.bowl / 2) * (x * x + y * y);
  for (const w of [p.wide, p.sharp]) {
    const dx = x - w.center[0];
    const dy = y - w.center[1];
    loss -= w.depth * Math.exp(-(dx * dx + dy * dy) / (2 * w.width * w.width));
  }
  return loss;
}

/** grad L at (x, y), added into out[0], out[1] (no allocation in the inner loop). */
function addBaseGradient(p: ToyProblem, x: number, y: number, out: number[]): void {
  out[0] = (out[0] ?? 0) + p.bowl * x;
  out[1] = (out[1] ?? 0) + p.bowl * y;
  for (const w of [p.wide, p.sharp]) {
    const dx = x - w.center[0];
    const dy = y - w.center[1];
    const s2 = w.width * w.width;
    // d/dw of -depth exp(-r^2 / (2 s^2)) = depth exp(-r^2 / (2 s^2)) (w - c) / s^2
    const e = (w.depth * Math.exp(-(dx * dx + dy * dy) / (2 * s2))) / s2;
    out[0] += e * dx;
    out[1] += e * dy;
  }
}

/** The training loss: the mean over the samples of L(w - xi_i). */
export function trainingLoss(p: ToyProblem, x: number, y: number): number {
  const n = p.shifts.length / 2;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += baseLoss(p, x - p.shifts[2 * i]!, y - p.shifts[2 * i + 1]!);
  return sum / n;
}

/** The mean gradient at w over the samples whose indices are `samples`. */
export function batchGradient(p: ToyProblem, w: Point, samples: ArrayLike<number>): [number, number] {
  const g = [0, 0];
  for (let k = 0; k < samples.length; k++) {
    const i = samples[k]!;
    addBaseGradient(p, w[0] - p.shifts[2 * i]!, w[1] - p.shifts[2 * i + 1]!, g);
  }
  return [g[0]! / samples.length, g[1]! / samples.length];
}

/** Where a path ended: in the sharp well, the wide well, or elsewhere. */
export type Ending = 'sharp' | 'wide' | 'elsewhere';

/** One SGD path: the points after each step (the start first), and where it ended. */
export interface SgdPath {
  batchSize: number;
  seed: number;
  /** [x0, y0, x1, y1, ...]: steps + 1 points. */
  points: Float64Array;
  ending: Ending;
}

export interface SgdOptions {
  batchSize: number;
  lr: number;
  steps: number;
  /** Seeds the sample order (core/batching.ts epochOrder), as a sweep's seed does. */
  seed: number;
  start?: Point;
}

/**
 * Plain SGD, w <- w - lr g_B, for `steps` steps: each epoch a fresh seeded order of the N samples, cut into
 * batches of B (the partial last batch kept), exactly as batchlab's TF.js loop batches a dataset.
 */
export function sgdPath(p: ToyProblem, o: SgdOptions): SgdPath {
  const n = p.shifts.length / 2;
  const points = new Float64Array(2 * (o.steps + 1));
  let w: Point = o.start ?? TOY_START;
  points[0] = w[0];
  points[1] = w[1];
  let step = 0;
  for (let epoch = 0; step < o.steps; epoch++) {
    const order = epochOrder(n, o.seed, epoch);
    for (const [start, end] of makeBatches(n, o.batchSize)) {
      if (step >= o.steps) break;
      const g = batchGradient(p, w, order.subarray(start, end));
      w = [w[0] - o.lr * g[0], w[1] - o.lr * g[1]];
      step++;
      points[2 * step] = w[0];
      points[2 * step + 1] = w[1];
    }
  }
  return { batchSize: o.batchSize, seed: o.seed, points, ending: endingAt(p, w) };
}

/** A path ended in a well when it is within 3 widths of the sharp centre or 2 widths of the wide one. */
export function endingAt(p: ToyProblem, w: Point): Ending {
  const dist = (c: Point): number => Math.hypot(w[0] - c[0], w[1] - c[1]);
  if (dist(p.sharp.center) < 3 * p.sharp.width) return 'sharp';
  if (dist(p.wide.center) < 2 * p.wide.width) return 'wide';
  return 'elsewhere';
}

/** The paths of one batch size over seeds 1..n, and how many ended where. */
export interface EscapeCount {
  batchSize: number;
  paths: SgdPath[];
  /** Paths that left the sharp well: ended in the wide one or elsewhere. */
  escaped: number;
  seeds: number;
}

/** Runs seeds 1..`seeds` at each batch size: "escaped the sharp well in k of n seeds". */
export function escapeCounts(
  p: ToyProblem,
  o: { batchSizes: readonly number[]; lr: number; steps: number; seeds: number },
): EscapeCount[] {
  return o.batchSizes.map((batchSize) => {
    const paths: SgdPath[] = [];
    for (let seed = 1; seed <= o.seeds; seed++) paths.push(sgdPath(p, { batchSize, lr: o.lr, steps: o.steps, seed }));
    return { batchSize, paths, escaped: paths.filter((x) => x.ending !== 'sharp').length, seeds: o.seeds };
  });
}

/** The training loss on a grid of `cols` x `rows` cells over TOY_VIEW, row 0 at the top (largest y). */
export function lossGrid(p: ToyProblem, cols: number, rows: number): Float64Array {
  const out = new Float64Array(cols * rows);
  const { xMin, xMax, yMin, yMax } = TOY_VIEW;
  for (let r = 0; r < rows; r++) {
    const y = yMax - ((r + 0.5) / rows) * (yMax - yMin);
    for (let c = 0; c < cols; c++) out[r * cols + c] = trainingLoss(p, xMin + ((c + 0.5) / cols) * (xMax - xMin), y);
  }
  return out;
}
