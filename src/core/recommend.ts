/**
 * The recommender: a pure decision from measured inputs (memory ceiling, step-time model, throughput
 * saturation, critical batch size) to a batch size, micro-batch, accumulation steps, LR and warm-up,
 * with reasons in plain words that carry the numbers.
 *
 * The critical batch B_crit is the measured one from a steps-to-target sweep when given, else the
 * simple noise scale B_simple (McCandlish et al. 2018 find B_crit ~ B_noise ~ B_simple). Under the
 * trade-off S(B) = S_min (1 + B_crit / B), E(B) = E_min (1 + B / B_crit) (tradeoff.ts), the targets are:
 * - 'time': minimize wall time S(B) t(B) with t(B) = alpha + beta B on one device:
 *   d/dB [(1 + B_crit / B)(alpha + beta B)] = beta - B_crit alpha / B^2 = 0  =>  B* = sqrt(B_crit alpha / beta).
 *   Capped by memory: accumulation does not shorten a step on one device (k micro-batches take k times
 *   as long), so beyond the ceiling it only adds time.
 * - 'compute': fewest examples within 10%: E(B) <= 1.1 E_min  <=>  B <= B_crit / 10.
 * - 'generalization': small batches keep SGD noise high (Keskar et al. 2017; Smith & Le 2018), so take
 *   the smallest batch that still runs at half the peak throughput: T(B) / T(inf) = beta B / (alpha + beta B)
 *   >= 1/2  <=>  B >= alpha / beta; never above B_crit.
 * - 'memory': the 'time' batch without the memory cap, reached by accumulation over the smallest
 *   micro-batch that still runs at half the peak throughput (alpha / beta), to leave memory free.
 */
import { UsageError } from './errors.js';
import { roundBatch, scaleLr, type LrRule } from './lr.js';
import { accumulationPlan } from './search.js';

export const OBJECTIVES = ['time', 'compute', 'generalization', 'memory'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** Fraction of E_min extra examples the 'compute' objective accepts (E <= 1.1 E_min => B <= B_crit / 10). */
export const COMPUTE_EXTRA_EXAMPLES = 0.1;

/** Measured inputs of the recommender. */
export interface RecommendInputs {
  objective: Objective;
  /** Largest micro-batch that fits the memory budget (find-max). */
  maxBatch: number;
  /** Step-time model t(B) = alphaMs + betaMsPerSample B (throughput.fitStepTime). */
  stepTime?: { alphaMs: number; betaMsPerSample: number };
  /** Throughput saturation batch (throughput.saturationBatch), if reached. */
  saturationBatch?: number;
  /** B_simple with its interval (noise.noiseScaleWithCI). */
  noise?: { bSimple: number; low: number; high: number; confidence: number };
  /** B_crit measured by a steps-to-target sweep (tradeoff.fitTradeoff); preferred over the noise scale. */
  measuredBCrit?: number;
  /** The LR tuned at baseBatch, the optimizer (SGD -> linear rule, Adam -> sqrt rule) or an explicit rule. */
  lr: { baseLr: number; baseBatch: number; optimizer?: 'sgd' | 'adam'; rule?: LrRule };
  /** Training-set size: caps the batch and sizes the warm-up. */
  trainSamples: number;
  /** Warm-up length in epochs when the LR is scaled up (default 1; Goyal et al. 2017 used 5 of 90). */
  warmupEpochs?: number;
}

export type Effect = 'memory' | 'speed' | 'stability' | 'generalization';

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
  /** What set the batch: the memory ceiling, the critical batch (noise), throughput, or the data size. */
  binding: 'memory' | 'noise' | 'throughput' | 'data';
  /** 'high': B_crit measured or its interval within 2x; 'medium': within 4x; 'low': wider or unknown. */
  confidence: 'high' | 'medium' | 'low';
  reasons: { effect: Effect; text: string }[];
}

/** Critical batch and its interval, or undefined when neither a sweep nor the noise scale gave one. */
function criticalBatch(i: RecommendInputs): { value: number; low: number; high: number; source: string } | undefined {
  if (i.measuredBCrit !== undefined && i.measuredBCrit > 0) {
    return { value: i.measuredBCrit, low: i.measuredBCrit, high: i.measuredBCrit, source: 'measured by the steps-to-target sweep' };
  }
  if (i.noise !== undefined && i.noise.bSimple > 0) {
    const pct = Math.round(i.noise.confidence * 100);
    return { ...i.noise, value: i.noise.bSimple, source: `from the gradient noise scale B_simple (${pct}% interval ${fmt(i.noise.low)}-${fmt(i.noise.high)})` };
  }
  return undefined;
}

/** Rounds for display: 3 significant digits. */
function fmt(x: number): string {
  return Number.isFinite(x) ? String(+x.toPrecision(3)) : String(x);
}

/** alpha / beta: the batch at half the peak throughput, if the step-time model has both terms. */
function halfPeakBatch(i: RecommendInputs): number | undefined {
  const s = i.stepTime;
  return s !== undefined && s.alphaMs > 0 && s.betaMsPerSample > 0 ? s.alphaMs / s.betaMsPerSample : undefined;
}

/** Unrounded target batch for the objective, before memory and data caps, and what set it. */
function rawTarget(i: RecommendInputs, crit: number | undefined): { target: number; by: 'noise' | 'throughput' } {
  const half = halfPeakBatch(i);
  const speedLimit = i.saturationBatch ?? i.maxBatch;
  switch (i.objective) {
    case 'time':
    case 'memory': {
      if (crit === undefined) return { target: speedLimit, by: 'throughput' };
      const s = i.stepTime;
      if (s !== undefined && s.alphaMs > 0 && s.betaMsPerSample > 0) {
        return { target: Math.sqrt((crit * s.alphaMs) / s.betaMsPerSample), by: 'noise' };
      }
      return { target: crit, by: 'noise' };
    }
    case 'compute':
      return crit === undefined ? { target: speedLimit, by: 'throughput' } : { target: crit * COMPUTE_EXTRA_EXAMPLES, by: 'noise' };
    case 'generalization': {
      const small = half ?? speedLimit / 2;
      if (crit !== undefined && crit < small) return { target: crit, by: 'noise' };
      return { target: small, by: 'throughput' };
    }
    default:
      throw new UsageError(`unknown objective "${String(i.objective)}"; valid objectives: ${OBJECTIVES.join(', ')}`);
  }
}

/** Checks the numeric inputs. */
function checkInputs(i: RecommendInputs): void {
  if (!Number.isInteger(i.maxBatch) || i.maxBatch < 1) {
    throw new UsageError(`largest batch that fits must be a positive integer, got ${i.maxBatch}; run find-max first or lower the model size`, 'BATCHLAB_BAD_BATCH_SIZE');
  }
  if (!Number.isInteger(i.trainSamples) || i.trainSamples < 1) {
    throw new UsageError(`training-set size must be a positive integer, got ${i.trainSamples}`);
  }
}

/**
 * Recommends batch size, micro-batch, accumulation, LR and warm-up for the objective (see the module
 * comment for each objective's formula). The batch is rounded to a power of two or a multiple of 8 when
 * that stays inside the critical batch's interval scaled to the target (else +-25%), capped by the
 * training-set size, and for 'time' and 'generalization' by the memory ceiling (no accumulation).
 */
export function recommend(inputs: RecommendInputs): Recommendation {
  checkInputs(inputs);
  const crit = criticalBatch(inputs);
  const { target, by } = rawTarget(inputs, crit?.value);
  const accumulate = inputs.objective === 'compute' || inputs.objective === 'memory';
  const cap = Math.min(inputs.trainSamples, accumulate ? inputs.trainSamples : inputs.maxBatch);
  const scale = crit === undefined ? 1 : target / crit.value;
  const ciLow = crit !== undefined && crit.low < crit.high ? crit.low * scale : target / 1.25;
  const ciHigh = crit !== undefined && crit.low < crit.high ? crit.high * scale : target * 1.25;
  const rounded = roundBatch(Math.max(1, target), { ciLow, ciHigh, max: cap });
  const batch = Math.min(rounded.batch, cap);
  const binding = !accumulate && target > inputs.maxBatch ? 'memory' : target > inputs.trainSamples ? 'data' : by;
  const microMax = inputs.objective === 'memory' ? Math.min(inputs.maxBatch, Math.max(1, Math.ceil(halfPeakBatch(inputs) ?? inputs.maxBatch))) : inputs.maxBatch;
  const plan = accumulationPlan(batch, microMax);
  const rule = inputs.lr.rule ?? (inputs.lr.optimizer === 'adam' ? 'sqrt' : 'linear');
  const lr = scaleLr({ rule, baseLr: inputs.lr.baseLr, baseBatch: inputs.lr.baseBatch, batch: plan.effectiveBatch });
  const warmupSteps = plan.effectiveBatch > inputs.lr.baseBatch && rule !== 'fixed'
    ? Math.ceil(((inputs.warmupEpochs ?? 1) * inputs.trainSamples) / plan.effectiveBatch)
    : 0;
  const rec: Recommendation = {
    objective: inputs.objective, batch: plan.effectiveBatch, microBatchSize: plan.microBatchSize, accumSteps: plan.accumSteps,
    lr, lrRule: rule, warmupSteps, binding, confidence: confidenceOf(inputs, crit), reasons: [],
  };
  rec.reasons = reasonsFor(inputs, rec, { crit, target, roundingText: rounded.text, planText: plan.text });
  return rec;
}

/** Confidence from the source and width of the critical-batch estimate. */
function confidenceOf(i: RecommendInputs, crit: ReturnType<typeof criticalBatch>): Recommendation['confidence'] {
  if (crit === undefined) return 'low';
  if (i.measuredBCrit !== undefined && i.measuredBCrit > 0) return 'high';
  const ratio = crit.high / Math.max(crit.low, Number.MIN_VALUE);
  return ratio <= 2 ? 'high' : ratio <= 4 ? 'medium' : 'low';
}

/** Plain-words reasons, one per effect that bears on the choice. */
function reasonsFor(
  i: RecommendInputs,
  r: Recommendation,
  ctx: { crit: ReturnType<typeof criticalBatch>; target: number; roundingText: string; planText: string },
): Recommendation['reasons'] {
  const out: Recommendation['reasons'] = [];
  const fits = r.microBatchSize <= i.maxBatch ? 'fits' : 'does not fit';
  out.push({
    effect: 'memory',
    text: `largest batch that fits is ${i.maxBatch}; micro-batch ${r.microBatchSize} ${fits}` +
      (r.accumSteps > 1 ? `, so ${r.accumSteps} accumulation steps give batch ${ctx.planText}` : '') +
      (r.binding === 'memory' ? `; memory binds: the objective asked for about ${fmt(ctx.target)}` : ''),
  });
  const sat = i.saturationBatch === undefined ? 'throughput was still rising at the largest batch measured' : `throughput stops gaining 10% per doubling at batch ${i.saturationBatch}`;
  const model = i.stepTime === undefined ? '' : ` (step time ${fmt(i.stepTime.alphaMs)} ms + ${fmt(i.stepTime.betaMsPerSample)} ms/sample)`;
  out.push({ effect: 'speed', text: `${sat}${model}` });
  if (ctx.crit !== undefined) {
    out.push({
      effect: 'stability',
      text: `critical batch ~${fmt(ctx.crit.value)} ${ctx.crit.source}: above it steps-to-target stop falling; ${ctx.roundingText}; LR ${fmt(r.lr)} by the ${r.lrRule} rule from ${i.lr.baseLr} at batch ${i.lr.baseBatch}` +
        (r.warmupSteps > 0 ? ` with ${r.warmupSteps} warm-up steps (Goyal et al. 2017)` : ''),
    });
  } else {
    out.push({ effect: 'stability', text: `no critical batch estimate (noise scale not measurable yet); chosen from memory and throughput only; LR ${fmt(r.lr)} by the ${r.lrRule} rule` });
  }
  if (i.objective === 'generalization') {
    const why = r.binding === 'noise' ? `stays at or below the critical batch ~${fmt(ctx.crit?.value ?? Number.NaN)}` : 'is the smallest that keeps half the peak throughput';
    out.push({ effect: 'generalization', text: `smaller batches keep more gradient noise, which tends to find flatter minima (Keskar et al. 2017); batch ${r.batch} ${why}` });
  }
  return out;
}
