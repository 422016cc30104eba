/**
 * What a branch experiment (`batchlab branch`, lab/branch) shows, from its runs' numbers: the critical
 * batch measured directly at each checkpoint (critical-batch.ts, Merrill et al. 2025), the gradient noise
 * scale B_simple measured over the same windows (noise.ts, McCandlish et al. 2018), whether the proxy
 * tracks the direct measurement, the batch-size warm-up that follows from the curve (batch-schedule.ts),
 * and what the measurement cost against one full base run.
 *
 * A branch that diverged (its loss went NaN at the scaled LR) is worse than any tolerance: the batches
 * from the smallest diverged one up are left out of the rule, and a checkpoint where every remaining
 * branch was within tolerance is 'measured' with the diverged batch as the first one beyond.
 *
 * Does B_simple track the direct measurement? At each checkpoint with both numbers, the branch rule's
 * range [low, high) and B_simple's confidence interval are compared: they agree there when they overlap.
 * 'agrees' when they overlap at every such checkpoint (at least 2); 'differs' otherwise, with the factor
 * B_simple / B_crit (B_crit the geometric middle of a measured range) as a geometric mean over the
 * checkpoints with a t interval across them; 'cannot-tell' with fewer than 2 checkpoints to compare.
 */
import type { LrRule } from './lr.js';
import { type CheckpointCritical, criticalBatchAtCheckpoint, DEFAULT_BRANCH_TOLERANCE } from './critical-batch.js';
import {
  criticalPointsFromBranches,
  formatBatchSchedule,
  type ScheduleChange,
  scheduleFromCriticalCurve,
} from './batch-schedule.js';
import { type Interval, tIntervalFromSe } from './distributions.js';
import { UsageError } from './errors.js';
import { num } from './format.js';
import { type NoiseStatus, type NoiseStepRecord, noiseScaleWithCI } from './noise.js';
import { createRng } from './random.js';
import { DEFAULT_CONFIDENCE } from './stats.js';

/** One run's loss after the window, or the fact that it diverged. */
export interface BranchRunLoss {
  batchSize: number;
  seed: number;
  /** Held-out loss after the window; undefined when the run diverged. */
  loss: number | undefined;
}

/** What one checkpoint measured. */
export interface CheckpointMeasurement {
  /** Samples the base run had seen at the checkpoint. */
  samples: number;
  /** Held-out loss of the base run at the checkpoint. */
  baseLoss: number;
  /** Every run of the checkpoint: the base batch's (the base run continued) and the branches'. */
  runs: readonly BranchRunLoss[];
  /** Steps of the base continuations (every seed), each carrying |g|^2 at two batch sizes. */
  noiseSteps: readonly NoiseStepRecord[];
}

/** B_simple over a checkpoint's window. */
export interface WindowNoise {
  bSimple?: number;
  low?: number;
  /** Absent when the interval is unbounded above. */
  high?: number;
  confidence: number;
  status: NoiseStatus;
  /** Steps that carried two batch sizes. */
  steps: number;
}

/** One point of the curve. */
export interface BranchPoint {
  samples: number;
  baseLoss: number;
  critical: CheckpointCritical;
  noise: WindowNoise;
}

/** Does the noise scale track the direct measurement (file comment)? */
export interface ProxyComparison {
  verdict: 'agrees' | 'differs' | 'cannot-tell';
  /** Checkpoints with both a branch range and a B_simple interval, and those where the two overlap. */
  compared: number;
  overlapping: number;
  /** B_simple / B_crit over the checkpoints with a measured critical batch (geometric mean, t interval). */
  factor?: Interval;
  text: string;
}

/** What the measurement cost against one full base run. */
export interface BranchCompute {
  /** Samples trained by every run of the experiment. */
  trainedSamples: number;
  /** Samples of one full base run (the run the checkpoints are spread over). */
  fullRunSamples: number;
  /** trainedSamples / fullRunSamples. */
  ratio: number;
  /** Training time of every run, and of the base run's segments per sample times fullRunSamples. */
  trainMs: number;
  fullRunTrainMs: number;
  text: string;
}

/** The recommended schedule with its reason per change. */
export interface BranchSchedule {
  text: string;
  changes: ScheduleChange[];
}

/** The summary of a branch experiment. */
export interface BranchSummary {
  points: BranchPoint[];
  proxy: ProxyComparison;
  schedule: BranchSchedule;
  compute: BranchCompute;
  /** The lines the command prints: each checkpoint, the proxy finding, the compute. */
  findings: string[];
}

/** Inputs of summarizeBranches. */
export interface BranchSummaryInput {
  baseBatch: number;
  baseLr: number;
  lrRule: LrRule;
  tolerance?: number;
  confidence?: number;
  /** For the schedule: the largest micro-batch that fits, and the largest batch (the training set). */
  maxMicroBatch: number;
  maxBatch: number;
  checkpoints: readonly CheckpointMeasurement[];
  compute: {
    trainedSamples: number;
    trainMs: number;
    fullRunSamples: number;
    baseSamples: number;
    baseTrainMs: number;
  };
  /** Seeds the bootstrap of B_simple's intervals. */
  seed: number;
}

/** Summarizes a branch experiment (file comment). */
export function summarizeBranches(input: BranchSummaryInput): BranchSummary {
  const confidence = input.confidence ?? DEFAULT_CONFIDENCE;
  const points = [...input.checkpoints]
    .sort((a, b) => a.samples - b.samples)
    .map((cp, i) => ({
      samples: cp.samples,
      baseLoss: cp.baseLoss,
      critical: criticalWithDivergence(cp, input),
      noise: windowNoise(cp.noiseSteps, confidence, input.seed * 7919 + i),
    }));
  const proxy = compareProxy(points, confidence);
  const recommended = scheduleFromCriticalCurve(criticalPointsFromBranches(points.map((p) => p.critical)), {
    rule: input.lrRule,
    baseLr: input.baseLr,
    baseBatch: input.baseBatch,
    maxMicroBatch: input.maxMicroBatch,
    maxBatch: input.maxBatch,
  });
  const schedule = { text: formatBatchSchedule(recommended.schedule), changes: recommended.changes };
  const compute = branchCompute(input.compute);
  const findings = [
    ...points.map((p) => `${p.critical.text}; ${noiseText(p.noise)}`),
    proxy.text,
    `schedule: ${schedule.text} (${schedule.changes.length - 1} change${schedule.changes.length === 2 ? '' : 's'})`,
    compute.text,
  ];
  return { points, proxy, schedule, compute, findings };
}

/** The branch rule at one checkpoint, diverged branches counted as beyond any tolerance (file comment). */
function criticalWithDivergence(cp: CheckpointMeasurement, o: BranchSummaryInput): CheckpointCritical {
  const tolerance = o.tolerance ?? DEFAULT_BRANCH_TOLERANCE;
  const runsAt = (b: number) => cp.runs.filter((r) => r.batchSize === b);
  const base = runsAt(o.baseBatch);
  if (base.length === 0 || base.some((r) => r.loss === undefined))
    throw new UsageError(
      `the base run continued from ${num(cp.samples)} samples has no loss (it diverged or did not run); lower the base LR`,
    );
  const batches = [...new Set(cp.runs.map((r) => r.batchSize))].filter((b) => b > o.baseBatch).sort((a, b) => a - b);
  const diverged = batches.find((b) => runsAt(b).some((r) => r.loss === undefined));
  const usable = batches.filter((b) => diverged === undefined || b < diverged);
  const asRuns = (b: number) => ({
    batchSize: b,
    runs: runsAt(b).map((r) => ({ seed: r.seed, loss: r.loss as number })),
  });
  const at = `at ${num(cp.samples)} samples`;
  if (usable.length === 0) {
    if (diverged === undefined) throw new UsageError(`checkpoint at ${num(cp.samples)} samples has no branches`);
    const text = `${at}: critical batch ${o.baseBatch} (B = ${diverged} diverged at its scaled LR)`;
    return {
      samples: cp.samples,
      status: 'measured',
      criticalBatch: o.baseBatch,
      low: o.baseBatch,
      high: diverged,
      comparisons: [],
      text,
    };
  }
  const rule = criticalBatchAtCheckpoint(
    { samples: cp.samples, base: asRuns(o.baseBatch), branches: usable.map(asRuns) },
    { tolerance, confidence: o.confidence },
  );
  if (diverged === undefined || rule.status !== 'at-least') return rule;
  return {
    ...rule,
    status: 'measured',
    criticalBatch: rule.low,
    high: diverged,
    text: `${at}: critical batch ${rule.low} (every branch up to it stays within ${num(tolerance * 100)}% of the base run; B = ${diverged} diverged at its scaled LR)`,
  };
}

/** B_simple with its bootstrap interval over the steps of a checkpoint's window. */
function windowNoise(steps: readonly NoiseStepRecord[], confidence: number, seed: number): WindowNoise {
  const est = noiseScaleWithCI(steps, { confidence, rng: createRng(seed) });
  const noise: WindowNoise = { confidence, status: est.status, steps: est.steps };
  if (est.bSimple !== undefined) noise.bSimple = est.bSimple;
  if (est.low !== undefined) noise.low = est.low;
  // An unbounded interval (the signal not resolved in some resamples) has no `high`.
  if (est.high !== undefined && Number.isFinite(est.high)) noise.high = est.high;
  return noise;
}

/** "B_simple 420 (95% CI 300..610)". */
function noiseText(n: WindowNoise): string {
  if (n.bSimple === undefined) return `B_simple not measurable (${n.status})`;
  const high = n.high === undefined || !Number.isFinite(n.high) ? 'unbounded' : num(n.high);
  return `B_simple ${num(n.bSimple)} (${Math.round(n.confidence * 100)}% CI ${num(n.low)}..${high})`;
}

/** The proxy against the direct measurement (file comment). */
export function compareProxy(points: readonly BranchPoint[], confidence = DEFAULT_CONFIDENCE): ProxyComparison {
  const both = points.filter((p) => p.noise.bSimple !== undefined && p.noise.low !== undefined);
  const overlaps = both.filter((p) => {
    const high = p.noise.high ?? Number.POSITIVE_INFINITY;
    return (p.noise.low as number) < p.critical.high && high >= p.critical.low;
  });
  const ratios = both
    .filter((p) => p.critical.status === 'measured' && Number.isFinite(p.critical.high))
    .map((p) => Math.log((p.noise.bSimple as number) / Math.sqrt(p.critical.low * p.critical.high)));
  const factor = ratios.length === 0 ? undefined : logMeanInterval(ratios, confidence);
  const base = { compared: both.length, overlapping: overlaps.length, ...(factor && { factor }) };
  const pctCi = `${Math.round(confidence * 100)}% CI`;
  if (both.length < 2)
    return {
      verdict: 'cannot-tell',
      ...base,
      text: `cannot tell whether B_simple tracks the direct measurement: only ${both.length} checkpoint${both.length === 1 ? '' : 's'} with both numbers; measure more checkpoints or longer windows`,
    };
  const factorText = factor === undefined ? '' : `B_simple / critical batch = ${intervalText(factor)}`;
  if (overlaps.length === both.length)
    return {
      verdict: 'agrees',
      ...base,
      text: `B_simple tracks the direct measurement: its ${pctCi} overlaps the branch range at ${overlaps.length} of ${both.length} checkpoints${factorText ? ` (${factorText} across checkpoints)` : ''}`,
    };
  const misses = `its ${pctCi} misses the branch range at ${both.length - overlaps.length} of ${both.length} checkpoints`;
  if (factor === undefined)
    return { verdict: 'differs', ...base, text: `B_simple differs from the direct measurement: ${misses}` };
  const side =
    factor.estimate > 1
      ? 'B_simple is larger, so a schedule built on it would grow the batch too early'
      : 'B_simple is smaller, so a schedule built on it would keep the batch small for longer than needed';
  return {
    verdict: 'differs',
    ...base,
    text: `B_simple differs from the direct measurement by a factor ${intervalText(factor)}: ${misses}; ${side}`,
  };
}

/** exp of the mean of logs with a t interval across them (a point when there is one). */
function logMeanInterval(logs: readonly number[], confidence: number): Interval {
  const n = logs.length;
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { estimate: Math.exp(mean), low: Math.exp(mean), high: Math.exp(mean), confidence };
  const sd = Math.sqrt(logs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const ci = tIntervalFromSe(mean, sd / Math.sqrt(n), n - 1, confidence);
  return { estimate: Math.exp(mean), low: Math.exp(ci.low), high: Math.exp(ci.high), confidence };
}

/** "2.1 (1.4..3.3)", or the point alone when the interval has no width. */
function intervalText(i: Interval): string {
  return i.low === i.high ? num(i.estimate, 2) : `${num(i.estimate, 2)} (${num(i.low, 2)}..${num(i.high, 2)})`;
}

/** What the measurement cost, in samples and training time, against one full base run. */
function branchCompute(c: BranchSummaryInput['compute']): BranchCompute {
  const ratio = c.trainedSamples / c.fullRunSamples;
  const fullRunTrainMs = c.baseSamples > 0 ? (c.baseTrainMs / c.baseSamples) * c.fullRunSamples : Number.NaN;
  const timeRatio = c.trainMs / fullRunTrainMs;
  return {
    trainedSamples: c.trainedSamples,
    fullRunSamples: c.fullRunSamples,
    ratio,
    trainMs: c.trainMs,
    fullRunTrainMs,
    text: `compute: the measurement trained ${num(c.trainedSamples)} samples, ${num(ratio, 2)}x one full base run of ${num(c.fullRunSamples)} samples${Number.isFinite(timeRatio) ? ` (training time ${num(timeRatio, 2)}x that run's)` : ''}`,
  };
}
