/**
 * The "What this sweep shows" lines: each claim of the usual advice about batch size (trend.ts USUAL_ADVICE)
 * tested on a sweep's runs, every batch size and seed at once. Each line asks the claim, answers it with
 * the verdict of the trend test (agrees, contradicts, inconclusive), gives the trend per doubling of B with
 * its 95% interval and the values at the ends of the sweep with theirs, says what would settle an
 * inconclusive one, and ends with what it rests on (seeds, batch sizes, held-out size, test, budget).
 * Maxima and saturation points are named only inside the swept range (extremes.ts).
 */
import { batchStats, bSimpleInterval } from './batch-stats.js';
import { binomialVariance, describeRestsOn, type Observation, varianceFromInterval } from './evidence.js';
import { bestBatches, throughputSaturation } from './extremes.js';
import { num, plusMinus, points } from './format.js';
import { type SweepBudget, TRAIN_LOSS_EVAL_SAMPLES, type TrainTarget } from './run.js';
import type { BatchStats, BatchValue, Comparison, Finding, RunSummary, SweepSummary } from './summary.js';
import { DEFAULT_GAIN_THRESHOLD } from './throughput.js';
import { type ClaimId, testTrend, type TrendResult, USUAL_ADVICE } from './trend.js';

/** What the findings say about how the runs were trained. */
export interface FindingContext {
  /** The budget every run trained to; without it, the comparison is read from the runs' targets. */
  budget?: SweepBudget;
  /** Training-set size, for "one epoch" in the budget's words. */
  trainCount?: number;
}

/** One trend line to build. */
interface TrendLine {
  effect: Finding['effect'];
  claim: ClaimId;
  observations: Observation[];
  heldOutSamples?: number;
  /** The metric at one batch size, as printed ("5.7 MB", "96.25% ±0.37"). */
  show: (v: BatchValue) => string;
  /** Per-batch values of the metric, for the two ends of the sweep. */
  value: (b: BatchStats) => BatchValue | undefined;
  perBatch: readonly BatchStats[];
  /** Linear scale: a change per doubling, signed ("-0.41 points"). */
  delta?: (x: number) => string;
  /** Sentences after the measurement (a fit, the best set, a caveat). */
  extra?: string[];
  comparison?: Comparison;
  budgetWords: string;
}

/** The answer to the claim, as a line begins it. */
const ANSWER: Readonly<Record<Finding['verdict'] & string, string>> = {
  agrees: 'The data agree',
  contradicts: 'The data contradict it',
  inconclusive: 'Inconclusive',
};

/** Words of each comparison, at the head of a generalization measurement. */
const COMPARISON_WORDS: Readonly<Record<Comparison, string>> = {
  'equal-samples': 'at equal samples',
  'equal-steps': 'at equal steps',
  'equal-train-loss': 'at equal training loss',
  'equal-held-out-target': 'at the held-out target',
};

/** Every finding of a sweep, from its finished runs, per-batch stats and fits. */
export function sweepFindings(
  runs: readonly RunSummary[],
  summary: Pick<SweepSummary, 'memoryFit' | 'stepTimeFit' | 'tradeoff' | 'perBatch'>,
  ctx: FindingContext = {},
): Finding[] {
  const perBatch = summary.perBatch ?? batchStats(runs);
  if (perBatch.length < 2) {
    return [
      {
        effect: 'memory',
        claim: 'none',
        verdict: null,
        text: 'fewer than two batch sizes finished: nothing to compare',
      },
    ];
  }
  const budgetWords = describeBudget(ctx.budget, ctx.trainCount) ?? targetWords(runs);
  const common = { perBatch, budgetWords };
  return [
    memoryFinding(runs, summary, common),
    ...speedFindings(runs, summary, common),
    ...stabilityFindings(runs, common),
    ...generalizationFindings(runs, ctx, budgetWords),
    ...targetFindings(runs, summary, ctx),
  ];
}

/** One claim tested: the trend test's verdict and numbers, and the line that says them. */
export function trendFinding(line: TrendLine): Finding {
  const claim = USUAL_ADVICE[line.claim];
  const question = `${claim.advice[0]?.toUpperCase()}${claim.advice.slice(1)}?`;
  if (!testable(line.observations)) {
    return {
      effect: line.effect,
      claim: line.claim,
      verdict: 'inconclusive',
      text: `${question} Not tested: the ${claim.quantity} was measured at fewer than two batch sizes of one seed.`,
      ...(line.comparison ? { comparison: line.comparison } : {}),
    };
  }
  const r = testTrend({ claim: line.claim, observations: line.observations, heldOutSamples: line.heldOutSamples });
  const head = line.comparison ? `${COMPARISON_WORDS[line.comparison]}, the ` : 'the ';
  const sentences = [
    `${question} ${ANSWER[r.verdict]}: ${head}${claim.quantity} ${trendWords(r, claim.scale, line.delta)}; ${endsWords(line)}.`,
    ...(line.extra ?? []),
    ...(r.verdict === 'inconclusive' ? [settleWords(r)] : []),
    `Rests on ${describeRestsOn(r.restsOn)}${line.budgetWords ? `; budget: ${line.budgetWords}` : ''}.`,
  ];
  return {
    effect: line.effect,
    claim: line.claim,
    verdict: r.verdict,
    text: sentences.join(' '),
    ...findingNumbers(r, claim.scale),
    restsOn: r.restsOn,
    ...(r.toSettle ? { toSettle: r.toSettle } : {}),
    ...(line.comparison ? { comparison: line.comparison } : {}),
  };
}

/** Whether some seed has runs at two batch sizes (what the trend test needs). */
function testable(observations: readonly Observation[]): boolean {
  const sizes = new Map<number, Set<number>>();
  for (const o of observations) sizes.set(o.seed, (sizes.get(o.seed) ?? new Set()).add(o.batchSize));
  return [...sizes.values()].some((s) => s.size >= 2);
}

/** The statistic, p-value and interval a finding carries (JSON), from the trend test. */
function findingNumbers(r: TrendResult, scale: 'log' | 'linear'): Pick<Finding, 'statistic' | 'pValue' | 'interval'> {
  const out: Pick<Finding, 'statistic' | 'pValue' | 'interval'> = {};
  if (r.statistic) out.statistic = r.statistic;
  if (r.pValue !== undefined) out.pValue = r.pValue;
  if (r.interval) {
    const log = scale === 'log';
    const f = (x: number): number => (log ? Math.exp(x) : x);
    out.interval = {
      scale,
      estimate: f(r.slopePerDoubling),
      low: f(r.interval.low),
      high: f(r.interval.high),
      confidence: r.interval.confidence,
    };
  }
  return out;
}

/** "grew x1.24 per doubling of B (95% interval x1.22..x1.26)"; "fell 0.41 points per doubling ...". */
function trendWords(r: TrendResult, scale: 'log' | 'linear', delta = (x: number) => signed(x)): string {
  const decided = r.verdict !== 'inconclusive';
  const rose = r.slopePerDoubling > 0;
  const verb = decided ? (rose ? 'grew' : 'fell') : 'changed';
  const conf = r.interval ? `${Math.round(r.interval.confidence * 100)}% interval ` : '';
  if (scale === 'log') {
    const x = (v: number): string => `x${num(Math.exp(v), 3)}`;
    const range = r.interval ? ` (${conf}${x(r.interval.low)}..${x(r.interval.high)})` : '';
    return `${verb} ${x(r.slopePerDoubling)} per doubling of B${range}`;
  }
  const size = decided ? delta(Math.abs(r.slopePerDoubling)).replace(/^\+/, '') : delta(r.slopePerDoubling);
  const range = r.interval ? ` (${conf}${delta(r.interval.low)}..${delta(r.interval.high)})` : '';
  return `${verb} ${size} per doubling of B${range}`;
}

/** "+0.05", "-0.3": a signed change. */
function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${num(x, 3)}`;
}

/** A signed change in percentage points: "-0.41 points". */
function signedPoints(x: number): string {
  return `${x >= 0 ? '+' : '-'}${points(Math.abs(x))} points`;
}

/** "from 5.7 MB at B=16 to 21.7 MB at B=1024" over the batch sizes where the metric was measured. */
function endsWords(line: TrendLine): string {
  const measured = line.perBatch.filter((b) => line.value(b) !== undefined);
  const lo = measured[0];
  const hi = measured.at(-1);
  if (lo === undefined || hi === undefined || lo === hi) return 'measured at one batch size';
  const at = (b: BatchStats): string => `${line.show(line.value(b) as BatchValue)} at B=${b.batchSize}`;
  return `from ${at(lo)} to ${at(hi)}`;
}

/** What an inconclusive verdict would need: seeds, or held-out samples. */
function settleWords(r: TrendResult): string {
  const s = r.toSettle;
  if (r.interval === undefined) return `Why: ${r.reason}.`;
  if (s === undefined) return 'The trend is within the noise and too small to chase with more seeds.';
  const options = [
    s.seeds !== undefined ? `about ${s.seeds} seeds (each running every batch size)` : undefined,
    s.heldOutSamples !== undefined ? `${num(s.heldOutSamples)} held-out samples per run` : undefined,
  ].filter((x): x is string => x !== undefined);
  return `The trend is within the noise; ${options.join(' or ')} would settle it, if the trend is as measured.`;
}

/** The budget in words: "8,000 samples per run (one epoch)", "each run until its training loss <= 0.3 ...". */
export function describeBudget(budget: SweepBudget | undefined, trainCount?: number): string | undefined {
  if (budget === undefined) return undefined;
  if (budget.kind === 'samples') {
    const epoch = trainCount === budget.value ? ' (one epoch)' : '';
    return `the same ${num(budget.value)} samples per run${epoch}`;
  }
  if (budget.kind === 'epochs') return `${budget.value} epoch${budget.value === 1 ? '' : 's'} per run`;
  if (budget.kind === 'steps') return `${num(budget.value)} steps per run (larger batches see more samples)`;
  return `each run until ${targetUntil(budget.target)}, at most ${budget.maxEpochs} epochs`;
}

/** "held-out accuracy >= 97.00%", "its training loss <= 0.3 (on 2,048 fixed training samples)". */
function targetUntil(t: TrainTarget): string {
  if (t.metric === 'accuracy') return `held-out accuracy >= ${points(t.value)}%`;
  if (t.metric === 'loss') return `held-out loss <= ${num(t.value)}`;
  return `its training loss <= ${num(t.value)} (on ${num(TRAIN_LOSS_EVAL_SAMPLES)} fixed training samples)`;
}

/** Budget words read from the runs' targets, when the sweep's budget was not given. */
function targetWords(runs: readonly RunSummary[]): string {
  const t = runs.find((r) => r.target)?.target;
  return t === undefined ? '' : `each run until ${targetUntil(t)}`;
}

/** The comparison the generalization lines rest on, from the budget (or the runs' targets). */
export function comparisonOf(budget: SweepBudget | undefined, runs: readonly RunSummary[]): Comparison | undefined {
  const metric = budget?.kind === 'target' ? budget.target.metric : runs.find((r) => r.target)?.target?.metric;
  if (metric !== undefined) return metric === 'train-loss' ? 'equal-train-loss' : 'equal-held-out-target';
  if (budget === undefined) return undefined;
  return budget.kind === 'steps' ? 'equal-steps' : 'equal-samples';
}

/** Observations of one metric: finite values only, with a sampling variance where the run has one. */
function observe(
  runs: readonly RunSummary[],
  value: (r: RunSummary) => number | undefined,
  variance?: (r: RunSummary) => number | undefined,
): Observation[] {
  return runs.flatMap((r) => {
    const v = value(r);
    if (v === undefined || !Number.isFinite(v)) return [];
    const sv = variance?.(r);
    const known = sv !== undefined && Number.isFinite(sv) && sv >= 0;
    return [{ batchSize: r.batchSize, seed: r.seed, value: v, ...(known ? { samplingVariance: sv } : {}) }];
  });
}

/** Sampling variance from a run's own interval (a normal-theory reading of its width). */
function fromInterval(i: { low: number; high: number; confidence: number } | undefined): number | undefined {
  return i === undefined ? undefined : varianceFromInterval(i);
}

const mbWords = (bytes: number): string => `${num(bytes / 1e6)} MB`;

type Common = { perBatch: readonly BatchStats[]; budgetWords: string };

function memoryFinding(runs: readonly RunSummary[], s: Pick<SweepSummary, 'memoryFit'>, c: Common): Finding {
  const fit = s.memoryFit;
  return trendFinding({
    ...c,
    effect: 'memory',
    claim: 'memory',
    observations: observe(runs, (r) => (r.peakBytes > 0 ? r.peakBytes : undefined)),
    value: (b) => b.peakBytes,
    show: (v) => plusMinus(v, (x) => num(x / 1e6), ' MB'),
    extra: fit
      ? [
          `Fit: ${mbWords(fit.interceptBytes)} + ${num(fit.bytesPerSample / 1e6, 3)} MB per sample (R^2 ${fit.r2.toFixed(3)}).`,
        ]
      : [],
  });
}

function speedFindings(runs: readonly RunSummary[], s: Pick<SweepSummary, 'stepTimeFit'>, c: Common): Finding[] {
  const spsVariance = (r: RunSummary): number | undefined => {
    const v = fromInterval(r.intervals?.stepMs);
    return v === undefined ? undefined : v * (r.samplesPerSec / r.stepMs.median) ** 2; // delta method on B / t
  };
  const sps = observe(runs, (r) => r.samplesPerSec, spsVariance);
  const fit = s.stepTimeFit;
  const saturation = saturationOf(sps);
  const throughput = trendFinding({
    ...c,
    effect: 'speed',
    claim: 'samples-per-sec',
    observations: sps,
    value: (b) => b.samplesPerSec,
    show: (v) => plusMinus(v, num, ' samples/s'),
    extra: saturation ? [saturationWords(saturation)] : [],
  });
  return [
    saturation ? { ...throughput, saturation } : throughput,
    trendFinding({
      ...c,
      effect: 'speed',
      claim: 'step-time',
      observations: observe(
        runs,
        (r) => r.stepMs.median,
        (r) => fromInterval(r.intervals?.stepMs),
      ),
      value: (b) => b.stepMs,
      show: (v) => plusMinus(v, num, ' ms'),
      extra: fit ? [`Fit: t(B) = ${num(fit.alphaMs)} ms + ${num(fit.betaMsPerSample, 3)} ms x B.`] : [],
    }),
  ];
}

/** Where samples/s stops gaining, only inside the swept range (extremes.ts); undefined below 2 batch sizes. */
function saturationOf(observations: readonly Observation[]): Finding['saturation'] {
  if (!testable(observations)) return undefined;
  const sat = throughputSaturation({ observations });
  return {
    outcome: sat.outcome,
    ...(sat.saturatedFrom === undefined ? {} : { saturatedFrom: sat.saturatedFrom }),
    largestBatch: sat.largestBatch,
  };
}

function saturationWords(sat: NonNullable<Finding['saturation']>): string {
  const gain = `${Math.round(DEFAULT_GAIN_THRESHOLD * 100)}%`;
  if (sat.outcome === 'saturated')
    return `It stops gaining ${gain} per doubling from B=${sat.saturatedFrom} on, up to the largest batch swept (B=${sat.largestBatch}).`;
  if (sat.outcome === 'still-rising')
    return `It is still rising at the largest batch swept (B=${sat.largestBatch}): where it levels off lies beyond this sweep.`;
  return `Whether it levels off (gains under ${gain} per doubling) inside the swept range is within the noise.`;
}

function stabilityFindings(runs: readonly RunSummary[], c: Common): Finding[] {
  const withBSimple = runs.filter((r) => (r.noise.bSimple ?? 0) > 0);
  const left = runs.length - withBSimple.length;
  return [
    trendFinding({
      ...c,
      effect: 'stability',
      claim: 'loss-noise',
      observations: observe(
        runs,
        (r) => (r.lossNoise > 0 ? r.lossNoise : undefined),
        (r) => fromInterval(r.intervals?.lossNoise),
      ),
      value: (b) => b.lossNoise,
      show: (v) => plusMinus(v, (x) => num(x, 3)),
    }),
    trendFinding({
      ...c,
      effect: 'stability',
      claim: 'gradient-noise',
      observations: observe(
        withBSimple,
        (r) => (r.noise.bSimple as number) / r.batchSize,
        (r) => {
          const v = fromInterval(bSimpleInterval(r));
          return v === undefined ? undefined : v / r.batchSize ** 2;
        },
      ),
      value: (b) => (b.bSimple === undefined ? undefined : scaleValue(b.bSimple, 1 / b.batchSize)),
      show: (v) => plusMinus(v, (x) => num(x, 3)),
      extra: left > 0 ? [`${left} run${left === 1 ? '' : 's'} without a positive B_simple left out.`] : [],
    }),
  ];
}

function scaleValue(v: BatchValue, k: number): BatchValue {
  return {
    ...v,
    estimate: v.estimate * k,
    ...(v.low === undefined ? {} : { low: v.low * k }),
    ...(v.high === undefined ? {} : { high: v.high * k }),
  };
}

/** The held-out size every run was evaluated on, when they all agree on it. */
function commonHeldOut(runs: readonly RunSummary[]): number | undefined {
  const sizes = new Set(runs.map((r) => r.final.test.count));
  const [only] = sizes;
  return sizes.size === 1 && only !== undefined && only >= 1 ? only : undefined;
}

/** Binomial variance of a run's held-out accuracy, when its held-out size is known. */
function testAccVariance(r: RunSummary): number | undefined {
  const { accuracy, count } = r.final.test;
  return accuracy !== undefined && count !== undefined && count >= 1 ? binomialVariance(accuracy, count) : undefined;
}

/** Held-out accuracy, gap and sharpness, over the runs the comparison allows (those that reached a target). */
function generalizationFindings(runs: readonly RunSummary[], ctx: FindingContext, budgetWords: string): Finding[] {
  const comparison = comparisonOf(ctx.budget, runs);
  const atTarget = comparison === 'equal-train-loss' || comparison === 'equal-held-out-target';
  const compared = atTarget ? runs.filter((r) => r.target?.reached) : runs;
  const c = { perBatch: batchStats(compared), budgetWords, comparison };
  const heldOutSamples = commonHeldOut(compared);
  const out: Finding[] = [];
  if (comparison !== 'equal-held-out-target' && compared.some((r) => r.final.test.accuracy !== undefined))
    out.push(heldOutFinding(compared, c, heldOutSamples));
  out.push(gapFinding(compared, c, heldOutSamples));
  if (compared.some((r) => r.sharpness !== undefined)) {
    out.push(
      trendFinding({
        ...c,
        effect: 'generalization',
        claim: 'sharpness',
        observations: observe(compared, (r) => r.sharpness?.topEigenvalue),
        value: (b) => b.sharpness,
        show: (v) => plusMinus(v, (x) => num(x, 3)),
      }),
    );
  }
  return out;
}

type GeneralizationCommon = Common & { comparison?: Comparison };

/** Held-out accuracy against B, and the batch sizes not worse than the best (never a single run's luck). */
function heldOutFinding(runs: readonly RunSummary[], c: GeneralizationCommon, heldOutSamples?: number): Finding {
  const observations = observe(runs, (r) => r.final.test.accuracy, testAccVariance);
  const extra = bestWords(observations, heldOutSamples);
  if (c.comparison === 'equal-samples' || c.comparison === 'equal-steps')
    extra.push(
      'At an equal budget, larger batches take fewer steps, so this mixes under-training with generalization; --budget target=train-loss:X compares at equal training loss.',
    );
  const line = trendFinding({
    ...c,
    effect: 'generalization',
    claim: 'held-out-accuracy',
    observations,
    heldOutSamples,
    value: (b) => b.testAccuracy,
    show: (v) => plusMinus(v, points, '%'),
    delta: signedPoints,
    extra,
  });
  const best = observations.length > 0 && testable(observations) ? bestSet(observations, heldOutSamples) : undefined;
  return best ? { ...line, best } : line;
}

function bestSet(observations: readonly Observation[], heldOutSamples?: number): Finding['best'] {
  if (new Set(observations.map((o) => o.batchSize)).size < 2) return undefined;
  const r = bestBatches({ observations, better: 'higher', heldOutSamples });
  return { outcome: r.outcome, best: r.best, worse: r.worse };
}

/** "Best: B=32, 64 (within the noise of each other); worse beyond the noise: B=512, 1024." */
function bestWords(observations: readonly Observation[], heldOutSamples?: number): string[] {
  const r = bestSet(observations, heldOutSamples);
  if (r === undefined) return [];
  const list = (bs: number[]): string => bs.map((b) => `B=${b}`).join(', ');
  if (r.outcome === 'inconclusive') return ['No batch size is worse than the best beyond the noise.'];
  if (r.outcome === 'single') return [`Best: ${list(r.best)}, beyond the noise of every other batch size.`];
  return [`Best: ${list(r.best)} (within the noise of each other); worse beyond the noise: ${list(r.worse)}.`];
}

/** The gap: train minus held-out accuracy (binomial variance of both), else held-out minus train loss. */
function gapFinding(runs: readonly RunSummary[], c: GeneralizationCommon, heldOutSamples?: number): Finding {
  const byAccuracy = runs.length > 0 && runs.every((r) => r.gap.accuracy !== undefined);
  const gapVariance = (r: RunSummary): number | undefined => {
    const test = testAccVariance(r);
    const { accuracy, count } = r.final.train;
    if (test === undefined || accuracy === undefined || count === undefined || count < 1) return undefined;
    return test + binomialVariance(accuracy, count);
  };
  return trendFinding({
    ...c,
    effect: 'generalization',
    claim: 'generalization-gap',
    observations: byAccuracy ? observe(runs, (r) => r.gap.accuracy, gapVariance) : observe(runs, (r) => r.gap.loss),
    heldOutSamples,
    value: (b) => (byAccuracy ? b.gapAccuracy : b.gapLoss),
    show: (v) => (byAccuracy ? plusMinus(v, points, ' points') : plusMinus(v, (x) => num(x, 3))),
    delta: byAccuracy ? signedPoints : undefined,
  });
}

/** With a target: which runs never reached it, and the steps/examples trade-off (B_crit). */
function targetFindings(
  runs: readonly RunSummary[],
  s: Pick<SweepSummary, 'tradeoff'>,
  ctx: FindingContext,
): Finding[] {
  const targeted = runs.filter((r) => r.target !== undefined);
  if (targeted.length === 0) return [];
  const missed = targeted.filter((r) => !r.target?.reached);
  const words = describeBudget(ctx.budget, ctx.trainCount) ?? targetWords(runs);
  const out: Finding[] = [
    {
      effect: 'speed',
      claim: 'target',
      verdict: null,
      text:
        missed.length === 0
          ? `Every run reached the target (${words}).`
          : `${targeted.length - missed.length} of ${targeted.length} runs reached the target (${words}); never reached: ${missedWords(missed)}. They are left out of the comparisons at the target.`,
    },
  ];
  const t = s.tradeoff;
  if (t === undefined) return out;
  const largest = Math.max(...runs.map((r) => r.batchSize));
  out.push({
    effect: 'speed',
    claim: 'critical-batch',
    verdict: null,
    text:
      t.bCrit === undefined
        ? `Steps to target fell in proportion to 1/B over the whole range (S_min fitted at ${num(t.sMin)} <= 0): the critical batch lies above the largest batch tried, B=${largest}.`
        : `Measured critical batch B_crit ~ ${num(t.bCrit)} (S_min ${num(t.sMin)} steps, E_min ${num(t.eMin)} samples, R^2 ${t.r2.toFixed(2)}): below it doubling B nearly halves the steps, above it doubling saves few.`,
  });
  return out;
}

/** "B=512 (seeds 1, 2), B=1024 (seed 3)". */
function missedWords(missed: readonly RunSummary[]): string {
  const bySize = new Map<number, number[]>();
  for (const r of missed) bySize.set(r.batchSize, [...(bySize.get(r.batchSize) ?? []), r.seed]);
  return [...bySize.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([b, seeds]) => `B=${b} (seed${seeds.length === 1 ? '' : 's'} ${seeds.join(', ')})`)
    .join(', ');
}
