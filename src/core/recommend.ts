/**
 * The recommender: a pure decision from measured inputs (memory ceiling, step-time model, throughput
 * saturation, critical batch size) to a batch size, micro-batch, accumulation steps, LR and warm-up,
 * with reasons in plain words that carry the numbers, one per effect of the usual advice (memory, speed,
 * stability, generalization).
 *
 * The critical batch B_crit is the measured one from a steps-to-target sweep when given, else the
 * simple noise scale B_simple (McCandlish et al. 2018 find B_crit ~ B_noise ~ B_simple). Under the
 * trade-off S(B) = S_min (1 + B_crit / B), E(B) = E_min (1 + B / B_crit) (tradeoff.ts) and the step time
 * t(B) = alpha + beta B on one device, the time to a target is
 *   T(B) = S(B) t(B) = S_min (1 + B_crit / B)(alpha + beta B).
 * Per objective:
 * - 'time': minimize T(B): dT/dB = 0  <=>  beta - B_crit alpha / B^2 = 0  =>  B* = sqrt(B_crit alpha / beta).
 *   B* lies between alpha / beta (about where throughput saturates) and B_crit: past saturation a larger
 *   batch no longer runs faster per sample, but it still cuts steps until B_crit, and T weighs both.
 *   Capped by the memory ceiling without accumulation: on one device k micro-batches take k times as
 *   long, so T(k m) = S(k m) k t(m) > S(m) t(m) for every k >= 2.
 * - 'compute': fewest examples within 10%: E(B) <= 1.1 E_min  <=>  B <= B_crit / 10 (accumulation allowed).
 * - 'generalization': the smallest batch whose predicted T(B) is within a time allowance (default +25%)
 *   of the 'time' optimum; the smaller root of (1/B + 1/B_crit)(alpha + beta B) = K. The usual advice
 *   claims small batches generalize better (Keskar et al. 2017 measured sharper minima for large batches); Shallue et
 *   al. 2019 found the gap vanishes once the metaparameters are tuned per batch size, so this is a
 *   tendency, not a law.
 * - 'memory': the largest batch that fits the memory budget (the ceiling already keeps its margin).
 */
import { num } from './format.js';
import { UsageError } from './errors.js';
import { defaultLrRule, roundBatch, scaleLr, type LrRule, type RoundedBatch } from './lr.js';
import { accumulationPlan } from './search.js';
import { formatBytes } from './units.js';

export const OBJECTIVES = ['time', 'compute', 'generalization', 'memory'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** Optimizers the LR rule is chosen for: SGD and momentum -> linear (Goyal et al. 2017), Adam -> sqrt (Malladi et al. 2022). */
export const RECOMMEND_OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type RecommendOptimizer = (typeof RECOMMEND_OPTIMIZERS)[number];

/** Fraction of E_min extra examples the 'compute' objective accepts (E <= 1.1 E_min => B <= B_crit / 10). */
export const COMPUTE_EXTRA_EXAMPLES = 0.1;
/** 'generalization': extra predicted time to target accepted for a smaller batch (+25%). */
export const DEFAULT_TIME_ALLOWANCE = 0.25;
/**
 * Warm-up length in epochs when the LR is scaled up. Goyal et al. 2017 used 5 of 90 epochs (~5% of the
 * run); a run to a target is often a few epochs, so a quarter epoch keeps the same order of share.
 */
export const DEFAULT_WARMUP_EPOCHS = 0.25;
/** Relative width used for rounding when the critical batch has no interval: +-25%. */
const ROUNDING_SLACK = 1.25;

/** Measured inputs of the recommender. */
export interface RecommendInputs {
  objective: Objective;
  /** Largest micro-batch that fits the memory budget (with its margin); the training-set size when there is no budget. */
  maxBatch: number;
  /** The budget maxBatch was computed for; undefined = no budget (memory does not bind). Required by 'memory'. */
  memoryBudgetBytes?: number;
  /** Step-time model t(B) = alphaMs + betaMsPerSample B (throughput.fitStepTime). */
  stepTime?: { alphaMs: number; betaMsPerSample: number };
  /** Throughput saturation batch (throughput.saturationBatch), if reached. */
  saturationBatch?: number;
  /**
   * B_simple with its interval (noise.noiseScaleWithCI), and the training step it was measured after;
   * `where` says instead where it was read when it is the noise scale at the target (noise-at-loss.ts:
   * "at loss 0.08, measured near the target (...)" or "... extrapolated from loss ...").
   */
  noise?: { bSimple: number; low: number; high: number; confidence: number; afterStep?: number; where?: string };
  /** B_crit measured by a steps-to-target sweep (tradeoff.fitTradeoff); preferred over the noise scale. */
  measuredBCrit?: number;
  /** The LR tuned at baseBatch, the optimizer (SGD/momentum -> linear, Adam -> sqrt) or an explicit rule. */
  lr: { baseLr: number; baseBatch: number; optimizer?: RecommendOptimizer; rule?: LrRule };
  /** Training-set size: caps the batch and sizes the warm-up. */
  trainSamples: number;
  /** Warm-up length in epochs when the LR is scaled up (default DEFAULT_WARMUP_EPOCHS). */
  warmupEpochs?: number;
  /** 'generalization': extra predicted time accepted (default DEFAULT_TIME_ALLOWANCE). */
  timeAllowance?: number;
}

export type Effect = 'memory' | 'speed' | 'stability' | 'generalization';

/** The critical batch the decision used. */
export interface CriticalBatch {
  value: number;
  low: number;
  high: number;
  /** 'sweep': measured B_crit (no interval); 'noise': B_simple with its interval. */
  source: 'sweep' | 'noise';
}

/** A recommendation with its reasons. */
export interface Recommendation {
  objective: Objective;
  /** Effective batch size B = microBatchSize x accumSteps. */
  batch: number;
  microBatchSize: number;
  accumSteps: number;
  lr: number;
  lrRule: LrRule;
  warmupSteps: number;
  /** The objective's unrounded batch before memory and data caps. */
  targetBatch: number;
  /** How the batch was rounded (power of two, multiple of 8, or kept) and why. */
  rounding: { kind: RoundedBatch['rounding']; text: string };
  /** What set the batch: the memory ceiling, the critical batch (noise), throughput, or the data size. */
  binding: 'memory' | 'noise' | 'throughput' | 'data';
  criticalBatch?: CriticalBatch;
  /** 'high': B_crit measured or its interval within 2x; 'medium': within 4x; 'low': wider or unknown. */
  confidence: 'high' | 'medium' | 'low';
  /** One line per effect, each with its measured number. */
  reasons: { effect: Effect; text: string }[];
  /** The conclusion in one line, e.g. "so 256 (256 x 1), LR 0.4 with 59 warm-up steps". */
  conclusion: string;
  /** Things to watch: past B_crit, accumulation, no noise estimate. */
  warnings: string[];
}

/** Critical batch and its interval, or undefined when neither a sweep nor the noise scale gave one. */
export function criticalBatchOf(i: Pick<RecommendInputs, 'measuredBCrit' | 'noise'>): CriticalBatch | undefined {
  if (i.measuredBCrit !== undefined && i.measuredBCrit > 0) {
    return { value: i.measuredBCrit, low: i.measuredBCrit, high: i.measuredBCrit, source: 'sweep' };
  }
  if (i.noise !== undefined && i.noise.bSimple > 0)
    return { value: i.noise.bSimple, low: i.noise.low, high: i.noise.high, source: 'noise' };
  return undefined;
}

/** The step-time model if it has both terms positive, else undefined. */
function positiveModel(i: RecommendInputs): { alphaMs: number; betaMsPerSample: number } | undefined {
  const s = i.stepTime;
  return s !== undefined && s.alphaMs > 0 && s.betaMsPerSample > 0 ? s : undefined;
}

/**
 * Predicted time to target up to a constant: T(B) / (S_min B_crit) = (1/B + 1/B_crit)(alpha + beta B);
 * with no critical batch (perfect scaling, S proportional to 1/B) it is (alpha + beta B) / B.
 */
export function relativeTimeToTarget(
  batch: number,
  model: { alphaMs: number; betaMsPerSample: number },
  bCrit?: number,
): number {
  const inv = bCrit !== undefined && bCrit > 0 ? 1 / bCrit : 0;
  return (1 / batch + inv) * (model.alphaMs + model.betaMsPerSample * batch);
}

/**
 * The smallest B with (1/B + 1/Bc)(alpha + beta B) <= K, i.e. the smaller root of
 * (beta/Bc) B^2 + (beta + alpha/Bc - K) B + alpha = 0; with no Bc (1/Bc = 0): B = alpha / (K - beta).
 */
export function smallestBatchWithin(
  k: number,
  model: { alphaMs: number; betaMsPerSample: number },
  bCrit?: number,
): number {
  const { alphaMs: a, betaMsPerSample: b } = model;
  const inv = bCrit !== undefined && bCrit > 0 ? 1 / bCrit : 0;
  const qa = b * inv;
  const qb = b + a * inv - k;
  if (qa === 0) return qb < 0 ? a / -qb : Number.POSITIVE_INFINITY;
  const disc = qb * qb - 4 * qa * a;
  if (disc < 0) return Number.POSITIVE_INFINITY;
  return (-qb - Math.sqrt(disc)) / (2 * qa);
}

/** 'time' target: sqrt(B_crit alpha / beta); without B_crit the speed limit; without a model B_crit capped at saturation. */
function timeTarget(i: RecommendInputs, crit: number | undefined): { target: number; by: 'noise' | 'throughput' } {
  const model = positiveModel(i);
  const speedLimit = i.saturationBatch ?? i.maxBatch;
  if (crit === undefined) return { target: speedLimit, by: 'throughput' };
  if (model !== undefined) return { target: Math.sqrt((crit * model.alphaMs) / model.betaMsPerSample), by: 'noise' };
  return crit <= speedLimit ? { target: crit, by: 'noise' } : { target: speedLimit, by: 'throughput' };
}

/** 'generalization' target: the smallest batch within the time allowance of the 'time' optimum. */
function generalizationTarget(
  i: RecommendInputs,
  crit: number | undefined,
): { target: number; by: 'noise' | 'throughput' } {
  const model = positiveModel(i);
  const best = timeTarget(i, crit);
  if (model === undefined) return { target: Math.max(1, best.target / 2), by: best.by };
  const bestB = Math.min(best.target, i.maxBatch, i.trainSamples);
  const allowed = (1 + (i.timeAllowance ?? DEFAULT_TIME_ALLOWANCE)) * relativeTimeToTarget(bestB, model, crit);
  return { target: Math.max(1, Math.min(bestB, smallestBatchWithin(allowed, model, crit))), by: best.by };
}

/** Unrounded target batch for the objective, before memory and data caps, and what set it. */
function rawTarget(i: RecommendInputs, crit: number | undefined): { target: number; by: Recommendation['binding'] } {
  switch (i.objective) {
    case 'time':
      return timeTarget(i, crit);
    case 'compute':
      return crit === undefined
        ? { target: i.saturationBatch ?? i.maxBatch, by: 'throughput' }
        : { target: crit * COMPUTE_EXTRA_EXAMPLES, by: 'noise' };
    case 'generalization':
      return generalizationTarget(i, crit);
    case 'memory':
      return { target: i.maxBatch, by: 'memory' };
    default:
      throw new UsageError(`unknown objective "${String(i.objective)}"; valid objectives: ${OBJECTIVES.join(', ')}`);
  }
}

/** Checks the numeric inputs and the options that contradict each other. */
function checkInputs(i: RecommendInputs): void {
  if (!Number.isInteger(i.maxBatch) || i.maxBatch < 1) {
    throw new UsageError(
      `largest batch that fits must be a positive integer, got ${i.maxBatch}; raise --memory-budget or use a smaller model`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  if (!Number.isInteger(i.trainSamples) || i.trainSamples < 1) {
    throw new UsageError(`training-set size must be a positive integer, got ${i.trainSamples}`);
  }
  if (i.objective === 'memory' && i.memoryBudgetBytes === undefined) {
    throw new UsageError(
      '--objective memory picks the largest batch that fits a memory budget, but no budget was given and no device memory could be read; pass --memory-budget 4GiB',
    );
  }
}

/** Rounds the target inside the critical batch's interval scaled to the target (else +-25%), capped at `cap`. */
function roundTarget(target: number, crit: CriticalBatch | undefined, cap: number): RoundedBatch {
  const scale = crit === undefined ? 1 : target / crit.value;
  const hasCi = crit !== undefined && crit.low < crit.high && Number.isFinite(crit.high);
  const ciLow = hasCi ? crit.low * scale : target / ROUNDING_SLACK;
  const ciHigh = hasCi ? crit.high * scale : target * ROUNDING_SLACK;
  return roundBatch(Math.max(1, Math.min(target, cap)), {
    ciLow: Math.min(ciLow, cap),
    ciHigh: Math.min(ciHigh, cap),
    max: cap,
  });
}

/**
 * Recommends batch size, micro-batch, accumulation, LR and warm-up for the objective (see the module
 * comment for each objective's formula). The batch is rounded to a power of two or a multiple of 8 when
 * that stays inside the critical batch's interval scaled to the target (else +-25%), capped by the
 * training-set size, and for 'time', 'generalization' and 'memory' by the memory ceiling (no accumulation).
 */
export function recommend(inputs: RecommendInputs): Recommendation {
  checkInputs(inputs);
  const crit = criticalBatchOf(inputs);
  const { target, by } = rawTarget(inputs, crit?.value);
  const accumulate = inputs.objective === 'compute';
  const cap = Math.min(inputs.trainSamples, accumulate ? inputs.trainSamples : inputs.maxBatch);
  const rounded = roundTarget(target, crit, cap);
  const binding =
    target > inputs.trainSamples && inputs.trainSamples <= inputs.maxBatch
      ? 'data'
      : by === 'memory' || (!accumulate && target > inputs.maxBatch)
        ? 'memory'
        : by;
  const plan = accumulationPlan(Math.min(rounded.batch, cap), inputs.maxBatch);
  const rule = inputs.lr.rule ?? defaultLrRule(inputs.lr.optimizer);
  const lr = scaleLr({ rule, baseLr: inputs.lr.baseLr, baseBatch: inputs.lr.baseBatch, batch: plan.effectiveBatch });
  const warmupSteps =
    plan.effectiveBatch > inputs.lr.baseBatch && rule !== 'fixed'
      ? Math.ceil(((inputs.warmupEpochs ?? DEFAULT_WARMUP_EPOCHS) * inputs.trainSamples) / plan.effectiveBatch)
      : 0;
  const rec: Recommendation = {
    objective: inputs.objective,
    batch: plan.effectiveBatch,
    microBatchSize: plan.microBatchSize,
    accumSteps: plan.accumSteps,
    lr,
    lrRule: rule,
    warmupSteps,
    targetBatch: target,
    rounding: { kind: rounded.rounding, text: rounded.text },
    binding,
    criticalBatch: crit,
    confidence: confidenceOf(crit),
    reasons: [],
    conclusion: '',
    warnings: [],
  };
  rec.reasons = reasonsFor(inputs, rec, plan.text);
  rec.conclusion = conclusionOf(inputs, rec);
  rec.warnings = warningsFor(rec);
  return rec;
}

/** Confidence from the source and width of the critical-batch estimate. */
function confidenceOf(crit: CriticalBatch | undefined): Recommendation['confidence'] {
  if (crit === undefined) return 'low';
  if (crit.source === 'sweep') return 'high';
  const ratio = crit.high / Math.max(crit.low, Number.MIN_VALUE);
  return ratio <= 2 ? 'high' : ratio <= 4 ? 'medium' : 'low';
}

/** Memory line: the ceiling in the budget, the micro-batch, accumulation, and whether memory binds. */
function memoryReason(i: RecommendInputs, r: Recommendation, planText: string): string {
  const ceiling =
    i.memoryBudgetBytes === undefined
      ? `no memory budget given: memory does not bind (batches up to the training set of ${num(i.trainSamples)})`
      : i.maxBatch >= i.trainSamples
        ? `the whole training set (${num(i.trainSamples)}) fits in ${formatBytes(i.memoryBudgetBytes)} as one batch: memory does not bind`
        : `fits up to ${num(i.maxBatch)} in ${formatBytes(i.memoryBudgetBytes)} (margin kept)`;
  const accum =
    r.accumSteps > 1
      ? `; batch ${planText}: ${r.accumSteps} accumulation steps of micro-batch ${r.microBatchSize}`
      : '';
  const binds =
    r.binding === 'memory' && i.objective !== 'memory'
      ? `; memory binds: the objective asked for about ${num(r.targetBatch)}`
      : '';
  return ceiling + accum + binds;
}

/** Speed line: where throughput saturates and the step-time model. */
function speedReason(i: RecommendInputs): string {
  const sat =
    i.saturationBatch === undefined
      ? 'throughput still rising at the largest batch measured'
      : `throughput flat past ${num(i.saturationBatch)} (under 10% more samples/s per doubling)`;
  const model =
    i.stepTime === undefined
      ? ''
      : `; step time ${num(i.stepTime.alphaMs)} ms + ${num(i.stepTime.betaMsPerSample)} ms x B`;
  return sat + model;
}

/** Stability line: the critical batch with its interval and when it was measured. */
function stabilityReason(i: RecommendInputs, crit: CriticalBatch | undefined): string {
  if (crit === undefined)
    return 'no critical batch estimate (gradient noise scale not measurable): chosen from memory and throughput only';
  if (crit.source === 'sweep')
    return `B_crit ~ ${num(crit.value)} measured by the steps-to-target sweep: past it, steps to target stop falling`;
  const n = i.noise!;
  const when =
    n.where !== undefined
      ? ` where the target is reached (${n.where})`
      : n.afterStep !== undefined
        ? ` after ${num(n.afterStep)} steps`
        : '';
  const ci = Number.isFinite(crit.high)
    ? `${num(crit.low)}-${num(crit.high)}`
    : `${num(crit.low)} and up, upper end not resolved`;
  const grows = n.where !== undefined ? '' : ' (B_simple grows as training goes on)';
  return `B_simple ~ ${num(crit.value)} (${Math.round(n.confidence * 100)}% CI ${ci})${when}: the critical batch estimate; past it, steps to target stop falling${grows}`;
}

/** Generalization line: what the objective did about it, with the caveat. */
function generalizationReason(i: RecommendInputs, r: Recommendation): string {
  const caveat =
    'the usual advice claims smaller batches generalize better; Shallue et al. 2019 found the effect vanishes once the metaparameters are tuned';
  if (i.objective !== 'generalization') return `not optimized for: ${caveat}`;
  const allowance = Math.round((i.timeAllowance ?? DEFAULT_TIME_ALLOWANCE) * 100);
  return `batch ${num(r.batch)} is the smallest within +${allowance}% of the fastest predicted time to target; ${caveat}, so treat it as a tendency`;
}

/** Plain-words reasons, one per effect, each with its measured number. */
function reasonsFor(i: RecommendInputs, r: Recommendation, planText: string): Recommendation['reasons'] {
  return [
    { effect: 'memory', text: memoryReason(i, r, planText) },
    { effect: 'speed', text: speedReason(i) },
    { effect: 'stability', text: stabilityReason(i, r.criticalBatch) },
    { effect: 'generalization', text: generalizationReason(i, r) },
  ];
}

/** "so 256 (256 x 1), LR 0.4 by the linear rule with 59 warm-up steps; rounded ..." */
function conclusionOf(i: RecommendInputs, r: Recommendation): string {
  const split = r.accumSteps > 1 ? ` (micro-batch ${r.microBatchSize} x ${r.accumSteps} accumulation steps)` : '';
  const rule =
    r.lrRule === 'linear'
      ? 'the linear rule of Goyal et al. 2017'
      : r.lrRule === 'sqrt'
        ? 'the square-root rule of Malladi et al. 2022'
        : 'a fixed LR';
  const warm = r.warmupSteps > 0 ? ` with ${num(r.warmupSteps)} warm-up steps` : '';
  return `so batch ${num(r.batch)}${split}, LR ${num(r.lr)}${warm} (by ${rule} from ${i.lr.baseLr} at batch ${i.lr.baseBatch}); ${r.rounding.text}`;
}

/** Warnings: past the critical batch (linear scaling stops holding), accumulation cost, no noise estimate. */
function warningsFor(r: Recommendation): string[] {
  const out: string[] = [];
  const crit = r.criticalBatch;
  if (crit !== undefined && r.batch > crit.high) {
    out.push(
      `batch ${num(r.batch)} is past the critical batch ~${num(crit.value)}: steps to target barely fall there and the ${r.lrRule} LR rule stops holding (Goyal et al. 2017; McCandlish et al. 2018); tune the LR at this batch`,
    );
  }
  if (crit === undefined)
    out.push(
      'no critical batch estimate: the batch comes from memory and throughput only; measure it with `batchlab noise`',
    );
  if (r.accumSteps > 1)
    out.push(
      `${r.accumSteps} accumulation steps: each update takes ${r.accumSteps} passes, so it saves no time on one device`,
    );
  return out;
}
