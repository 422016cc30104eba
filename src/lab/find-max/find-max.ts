/**
 * find-max: the largest batch whose training step fits a memory budget, found analytically first and
 * then confirmed by probes, each a few real training steps in a process of its own.
 *
 * 1. Analytic: profile the peak at small B (1, 2, 4, 8), fit peak = a + b B (core/search fitMemory) and
 *    predict the largest B under the usable limit (predictMaxBatch).
 * 2. Probe the prediction first. Its measured peak, far out at large B, corrects the line: the secant
 *    through it and the largest analytic point gives a refined start (memory that is close to linear
 *    lands within a batch or two). Then search both ways with core/search findMaxBatch, first inside a
 *    window of +-1 tolerance around the refined start (a factor-2 bracket would cost ~3 probes more),
 *    then, if the answer lies outside it, on from the window's edge by doubling or halving. Batches
 *    already measured are never probed again. Without a trusted prediction (a flat or noisy profile at
 *    small B: on a GPU the CUDA context hides the per-sample memory) the climb is guided instead of
 *    doubling: x4 while the peak stays flat, then to where the secant through the last two risen peaks
 *    (the first one from the largest analytic point) reaches the limit (growthGuide; core/search
 *    nextBatchUp, secantCrossing).
 * 2'. The limit search (core/limit.ts) instead, where the peaks meet a real limit whose failures state
 *    figures (a prober with `limit`: a command budgeted on its GPU memory or its own report, a warm
 *    process): small probes at B = 1 and 8 only (a GPU's peaks up to 8 are its CUDA context), one
 *    moderate start chosen from the room under the limit (the free memory and a cap a warm process
 *    states), then each probe where the line through the measured peaks meets the limit, the one a
 *    failure's OOM message states where it states one (limitPlan, searchLimit); never half-way down.
 *    TF.js models and commands budgeted on RSS keep step 2: their failures state no figures, and on
 *    flat RSS peaks the guided climb's x4 steps are the safer way up.
 * 3. Verify the answer with a longer run (20 steps by default), by the prober's verifier where it has
 *    one (a warm prober's: the same command in a fresh process, after the warm one was ended). The
 *    margin is derived again with the verification's peak (core/margin.ts); if the answer no longer
 *    fits, step down and verify again. The reported batch is always one that a verification run passed.
 * 4. The batch worth using: every probe's step times (warm-up excluded) give samples/s per probed batch
 *    and t(B) = alpha + beta B; the smallest batch within 5% of the best samples/s is where a step only
 *    gets longer, not more efficient (core/throughput batchWorthUsing); with a target batch it joins the
 *    accumulation plan (core/find-max targetAdvice).
 *
 * What the budget is compared with is the prober's measure: for TF.js models the tensor peak of a step
 * (RunSummary.peakBytes: weights, optimizer state, activations and gradients, dataset excluded), the
 * analogue of a GPU's memory; for a command, its process tree's RSS, its GPU memory or its own report.
 * A probe fails 'over-budget' when that peak exceeds budget x (1 - margin), 'oom' when the allocator
 * failed or the process was SIGKILLed; any other failure ('error', 'timeout') stops the search with
 * that error, and is never read as "too big".
 *
 * The pure steps (the start, the window, the secant, the climb's guide, the limit plan, the step down,
 * the target advice) are core/find-max.ts; this file runs the probes, judges them against the limit
 * and records them.
 */
import { BatchlabError } from '../../core/errors.js';
import {
  allocatedPointOf,
  bindingCap,
  CAP_READING,
  capTrialOf,
  checkSettings,
  type FindMaxSettings,
  growthGuide,
  type KnownLimits,
  limitOf,
  limitPlan,
  limitPrediction,
  limitTrialOf,
  type LimitReading,
  withStatedLimits,
  MAX_VERIFY_ATTEMPTS,
  peakSamples,
  type Prediction,
  predictStart,
  type ProbePhase,
  type ProbePoint,
  searchWindow,
  secantStart,
  SMALL_BATCHES,
  stepDown,
  targetAdvice,
  type TargetAdvice,
} from '../../core/find-max.js';
import { type LimitTrial, searchLimit } from '../../core/limit.js';
import { deriveMargin, type MarginDerivation, type PeakSample } from '../../core/margin.js';
import { findMaxBatch, type FindMaxResult, type MemoryFit, type ProbeResult } from '../../core/search.js';
import { batchWorthUsing, type BatchWorth } from '../../core/throughput.js';
import { formatBytes } from '../../core/units.js';
import type { ProbeMeasurement } from '../../engine/trainer.js';
import { openStore, type Store } from '../../store/index.js';
import type { Prober } from './probers.js';
import { environment } from '../environment.js';

/** One probe as it ran. */
export interface ProbeRecord extends ProbePoint {
  /** 1-based, in the order the probes ran. */
  index: number;
  steps: number;
  vmHwmBytes?: number;
  ms: number;
  /** The limit the probe was judged against: budget x (1 - margin at that time). */
  limitBytes: number;
  /** Why it ended so, in one line ('' for a pass). */
  reason: string;
  /** The full failure message (stderr tail included). */
  message?: string;
  /** Why the search probed here (the limit search's reason), when it says. */
  why?: string;
  /** Each step's time, ms, warm-up included. */
  stepMs?: number[];
}

/** Everything find-max found. */
export interface FindMaxReport {
  experimentId: number;
  budgetBytes: number;
  budgetOn: string;
  /** The prober's measure in words. */
  measure: string;
  probes: ProbeRecord[];
  fit?: MemoryFit;
  prediction: Prediction;
  margin: MarginDerivation;
  search: {
    /** 'analytic': from the line through B = 1, 2, 4, 8 (step 2); 'limit': the limit search (step 2'). */
    strategy: SearchStrategy;
    outcome: FindMaxResult['outcome'];
    lo?: number;
    hi?: number;
  };
  answer: { batch: number; peakBytes: number; budgetFraction: number; limitBytes: number; verifySteps: number };
  /** Where throughput stops improving among the batches that fit (step 4); undefined with fewer than two timed. */
  throughput?: BatchWorth;
  target?: TargetAdvice;
  counts: { analytic: number; search: number; verify: number; total: number };
  wallMs: number;
}

export interface FindMaxHooks {
  onProbeStart?(info: { index: number; phase: ProbePhase; batch: number; steps: number; limitBytes: number }): void;
  onProbeStep?(info: { step: number; totalSteps: number }): void;
  onProbeEnd?(record: ProbeRecord): void;
  onPrediction?(info: { fit?: MemoryFit; prediction: Prediction; margin: MarginDerivation }): void;
  signal?: AbortSignal;
}

/** How the search ran (see the module doc). */
export type SearchStrategy = 'analytic' | 'limit';

/** How the end of a search reads, whichever ran. */
interface SearchEnd {
  strategy: SearchStrategy;
  outcome: FindMaxResult['outcome'];
  maxBatch: number;
  firstFailure?: number;
  prediction: Prediction;
}

/** Mutable state of one find-max, owned by one findMax call. */
interface Ctx {
  store: Store;
  experimentId: number;
  s: FindMaxSettings;
  prober: Prober;
  hooks: FindMaxHooks;
  records: ProbeRecord[];
  /** Probes already measured by batch (analytic and search), so the search never probes a batch twice. */
  memo: Map<number, ProbeRecord>;
}

/**
 * Runs find-max and stores every probe and the result as a 'find-max' experiment in `dbPath`.
 * findMax owns `prober` and disposes it at the end. Throws (after storing the probes, with the
 * experiment marked failed) for a budget the model does not fit at batch 1, a probe 'error' or
 * 'timeout' (with its message), an interrupt, or an answer that could not be verified.
 */
export async function findMax(
  opts: { dbPath: string; settings: FindMaxSettings; prober: Prober },
  hooks: FindMaxHooks = {},
): Promise<FindMaxReport> {
  try {
    checkSettings(opts.settings);
    const store = openStore(opts.dbPath);
    try {
      return await runExperiment(store, opts, hooks);
    } finally {
      store.close();
    }
  } finally {
    // restore: stop any probe still running and remove the prober's signal handlers, whatever happened.
    await opts.prober.dispose?.();
  }
}

/** The experiment around the phases: created 'running', then 'done' with its summary, or 'failed'/'interrupted' with the error. */
async function runExperiment(
  store: Store,
  opts: { settings: FindMaxSettings; prober: Prober },
  hooks: FindMaxHooks,
): Promise<FindMaxReport> {
  const startMs = performance.now();
  // save: nothing of the caller's is written. Each probe gets its own copy of the config (probeConfig) or
  // its own trial values, so there is no setting or weight to put back; what the search does hold (the
  // prober's processes and signal handlers, the store) is released by findMax's `finally`.
  const experiment = store.createExperiment({ kind: 'find-max', settings: opts.settings, env: environment() });
  const ctx: Ctx = {
    store,
    experimentId: experiment.id,
    s: opts.settings,
    prober: opts.prober,
    hooks,
    records: [],
    memo: new Map(),
  };
  try {
    // adjust + search: short probes at small B, the fit, the search from its prediction, the verification.
    const report = await runPhases(ctx, startMs);
    store.setExperimentSummary(experiment.id, summaryOf(report));
    store.setExperimentStatus(experiment.id, 'done');
    return report;
  } catch (err) {
    const interrupted = err instanceof BatchlabError && err.code === 'BATCHLAB_INTERRUPTED';
    store.setExperimentSummary(experiment.id, {
      error: err instanceof Error ? err.message : String(err),
      probes: ctx.records.length,
    });
    store.setExperimentStatus(experiment.id, interrupted ? 'interrupted' : 'failed');
    throw err;
  }
}

async function runPhases(ctx: Ctx, startMs: number): Promise<FindMaxReport> {
  const prepared = (await ctx.prober.prepare?.()) ?? {};
  const reading = ctx.prober.limit;
  const failedAt = await analyticPhase(ctx, reading !== undefined ? SMALL_BATCHES : ctx.s.analyticBatches);
  const known = reading === undefined ? prepared : withStatedLimits(prepared, ctx.records, reading);
  const start = predictStart(ctx.records, ctx.s, failedAt);
  const { fit, margin } = start;
  const search =
    reading !== undefined
      ? await limitPhase(ctx, { ...start, failedAt, known, reading })
      : await analyticSearch(ctx, start.prediction, failedAt, { fit, margin });
  const verified = await verifyPhase(ctx, search.maxBatch, fit);
  const throughput = worthUsing(ctx.records, verified.batch);
  const count = (p: ProbePhase) => ctx.records.filter((r) => r.phase === p).length;
  const s = ctx.s;
  const prediction = search.prediction;
  return {
    experimentId: ctx.experimentId,
    budgetBytes: s.budgetBytes,
    budgetOn: s.budgetOn,
    measure: ctx.prober.measure,
    probes: ctx.records,
    fit,
    prediction,
    margin: verified.margin,
    search: { strategy: search.strategy, outcome: search.outcome, lo: search.maxBatch, hi: search.firstFailure },
    answer: {
      batch: verified.batch,
      peakBytes: verified.peakBytes,
      budgetFraction: verified.peakBytes / s.budgetBytes,
      limitBytes: limitOf(s, verified.margin),
      verifySteps: s.verifySteps,
    },
    throughput,
    target:
      s.targetBatch === undefined
        ? undefined
        : targetAdvice(
            s.targetBatch,
            verified.batch,
            s.lr,
            throughput?.outcome === 'saturated' ? throughput.worthFrom : undefined,
          ),
    counts: {
      analytic: count('analytic'),
      search: count('search'),
      verify: count('verify'),
      total: ctx.records.length,
    },
    wallMs: performance.now() - startMs,
  };
}

/** First line of a message, for tables. */
function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.trim();
}

/** Where throughput stops improving among the probes that passed at or below the answer (step 4). */
function worthUsing(records: readonly ProbeRecord[], answer: number): BatchWorth | undefined {
  return batchWorthUsing(
    records
      .filter((r) => r.ok && r.batch <= answer && r.stepMs !== undefined)
      .map((r) => ({ batchSize: r.batch, stepMs: r.stepMs as number[] })),
  );
}

/** Runs one probe (on the verifier for a verification), judges it against `limitBytes`, stores and reports it. */
async function probeOnce(
  ctx: Ctx,
  phase: ProbePhase,
  batch: number,
  steps: number,
  limitBytes: number,
  why?: string,
): Promise<ProbeRecord> {
  const at = { index: ctx.records.length + 1, phase, batch, steps, limitBytes };
  ctx.hooks.onProbeStart?.(at);
  const prober = phase === 'verify' ? (ctx.prober.verifier ?? ctx.prober) : ctx.prober;
  const m = await prober.run(batch, {
    steps,
    limitBytes,
    signal: ctx.hooks.signal,
    onStep: (step, totalSteps) => ctx.hooks.onProbeStep?.({ step, totalSteps }),
  });
  return record(ctx, { ...judge(m, at), ...(why ? { why } : {}) });
}

/**
 * Runs the small probes of a prober whose probes may run at the same time (`concurrent`: each a
 * process of its own, measured on its own) together, since on a GPU each costs a process start
 * (10-15 s) and not its steps; then judges, stores and reports them in order.
 */
async function probeTogether(ctx: Ctx, batches: readonly number[], limitBytes: number): Promise<ProbeRecord[]> {
  const first = ctx.records.length + 1;
  const ats = batches.map((batch, i) => ({
    index: first + i,
    phase: 'analytic' as const,
    batch,
    steps: ctx.s.probeSteps,
    limitBytes,
  }));
  for (const at of ats) ctx.hooks.onProbeStart?.(at);
  const measured = await Promise.all(
    ats.map((at) => ctx.prober.run(at.batch, { steps: at.steps, limitBytes, signal: ctx.hooks.signal })),
  );
  return ats.map((at, i) => record(ctx, judge(measured[i] as ProbeMeasurement, at)));
}

/** Keeps a judged probe: in the records, in the store, to the hooks. */
function record(ctx: Ctx, rec: ProbeRecord): ProbeRecord {
  ctx.records.push(rec);
  ctx.store.addProbe({
    experimentId: ctx.experimentId,
    batchSize: rec.batch,
    ok: rec.ok,
    kind: rec.kind,
    peakBytes: rec.peakBytes,
    rssBytes: rec.vmHwmBytes,
    ms: Math.round(rec.ms),
    message: rec.message ?? (rec.reason || null),
    phase: rec.phase,
    ...(rec.peakAtMost ? { peakAtMost: true } : {}),
  });
  ctx.hooks.onProbeEnd?.(rec);
  return rec;
}

/** The reason of a pass whose peak is only bounded (ProbeMeasurement.peakAtMost). */
const PEAK_AT_MOST_REASON = 'peak at most: the high-water mark set before it (by a larger probe or the start-up)';

/** A measurement judged against the limit: a run that finished above it is 'over-budget'. */
export function judge(
  m: ProbeMeasurement,
  at: { index: number; phase: ProbePhase; batch: number; steps: number; limitBytes: number },
): ProbeRecord {
  const base = {
    ...at,
    peakBytes: m.peakBytes,
    ...(m.peakAtMost ? { peakAtMost: true } : {}),
    vmHwmBytes: m.vmHwmBytes,
    ms: m.ms,
    ...(m.stepMs ? { stepMs: m.stepMs } : {}),
    ...(m.oom ? { oom: m.oom } : {}),
    ...(m.statedMemory ? { statedMemory: m.statedMemory } : {}),
  };
  if (m.kind === 'ok' && m.peakBytes !== undefined && m.peakBytes > at.limitBytes) {
    return {
      ...base,
      kind: 'over-budget',
      ok: false,
      // A bound above the limit proves nothing either way; counting it as over keeps the answer safe.
      reason: m.peakAtMost
        ? `peak at most ${formatBytes(m.peakBytes)} (a high-water mark set before it) > limit ${formatBytes(at.limitBytes)}: counted as over`
        : `peak ${formatBytes(m.peakBytes)} > limit ${formatBytes(at.limitBytes)}`,
    };
  }
  if (m.kind === 'ok') return { ...base, kind: 'ok', ok: true, reason: m.peakAtMost ? PEAK_AT_MOST_REASON : '' };
  return { ...base, kind: m.kind, ok: false, reason: firstLine(m.message) || m.kind, message: m.message };
}

/** The error that stops the search at an 'error' or 'timeout' probe, with its message. */
function probeError(rec: ProbeRecord): BatchlabError {
  const what =
    rec.kind === 'timeout' ? 'timed out' : 'failed with an error (not a memory failure, so the search stops)';
  return new BatchlabError(
    rec.kind === 'timeout' ? 'BATCHLAB_TIMEOUT' : 'BATCHLAB_CHILD_FAILED',
    `${rec.phase} probe at batch ${rec.batch} ${what}: ${rec.message ?? rec.reason}`,
  );
}

/** Batch 1 did not fit: the budget is below what the model itself needs. */
function budgetTooSmall(ctx: Ctx, rec: ProbeRecord): BatchlabError {
  const s = ctx.s;
  if (rec.kind === 'oom')
    return new BatchlabError(
      'BATCHLAB_OOM',
      `even batch 1 ran out of memory (${rec.reason}); the model does not fit this machine`,
    );
  const need = rec.peakBytes ?? s.budgetBytes;
  // formatBytes keeps 3 significant digits; 0.5% up keeps the suggested budget from rounding below the need.
  const atLeast = formatBytes(Math.ceil((need / (1 - s.marginFloor)) * 1.005)).replace(' ', '');
  const withMargin = s.marginFloor > 0 ? ` (with the ${Math.round(s.marginFloor * 100)}% margin)` : '';
  const needs = `${rec.peakBytes !== undefined ? '' : 'over '}${formatBytes(need)} at batch 1 (${s.budgetOn} peak)`;
  return new BatchlabError(
    'BATCHLAB_BAD_BUDGET',
    `memory budget ${formatBytes(s.budgetBytes)} is smaller than the model itself needs: ${needs}; pass --memory-budget ${atLeast} or more${withMargin}`,
  );
}

/**
 * Probes the small batches at the floor margin (all at once where the prober allows it); returns the
 * first batch that failed for memory, if any.
 */
async function analyticPhase(ctx: Ctx, analyticBatches: readonly number[]): Promise<number | undefined> {
  const limit = limitOf(ctx.s, ctx.s.marginFloor);
  const batches = [...new Set(analyticBatches.map((b) => Math.min(b, ctx.s.cap)))].sort((a, b) => a - b);
  const together = ctx.prober.concurrent ? await probeTogether(ctx, batches, limit) : undefined;
  for (const [i, b] of batches.entries()) {
    const rec = together?.[i] ?? (await probeOnce(ctx, 'analytic', b, ctx.s.probeSteps, limit));
    if (rec.kind === 'error' || rec.kind === 'timeout') throw probeError(rec);
    ctx.memo.set(b, rec);
    if (!rec.ok && i === 0) throw budgetTooSmall(ctx, rec);
    if (!rec.ok) return b;
  }
  return undefined;
}

/** A search probe at `batch`: the memo's record when the batch was measured already, else a new 'search' probe. */
async function searchRecord(ctx: Ctx, batch: number, limitBytes: number, why?: string): Promise<ProbeRecord> {
  const known = ctx.memo.get(batch);
  if (known !== undefined) return known;
  const rec = await probeOnce(ctx, 'search', batch, ctx.s.probeSteps, limitBytes, why);
  ctx.memo.set(batch, rec);
  return rec;
}

/** A probe for findMaxBatch; an 'error' or 'timeout' ends that search (searchPhase throws it). */
function searchProbe(ctx: Ctx, limitBytes: number): (batch: number) => Promise<ProbeResult> {
  return async (batch) => {
    const rec = await searchRecord(ctx, batch, limitBytes);
    return rec.ok
      ? { ok: true, peakBytes: rec.peakBytes as number }
      : {
          ok: false,
          kind: rec.kind === 'oom' || rec.kind === 'over-budget' ? rec.kind : 'error',
          message: rec.message ?? rec.reason,
        };
  };
}

/** Step 2 of the module doc with its prediction reported first. */
async function analyticSearch(
  ctx: Ctx,
  prediction: Prediction,
  failedAt: number | undefined,
  at: { fit?: MemoryFit; margin: MarginDerivation },
): Promise<SearchEnd> {
  ctx.hooks.onPrediction?.({ ...at, prediction });
  const r = await searchPhase(ctx, prediction, failedAt);
  return {
    strategy: 'analytic',
    outcome: r.outcome,
    maxBatch: r.maxBatch as number,
    firstFailure: r.firstFailure,
    prediction,
  };
}

/**
 * Step 2' of the module doc: the limit search from the small probes. A failure's OOM figures count in
 * the prober's measure (its `reading`); an 'error' or 'timeout' stops the search with that error. The
 * answer is the largest batch that passed, the baseline itself when nothing above it did.
 */
async function limitPhase(
  ctx: Ctx,
  o: {
    prediction: Prediction;
    fit?: MemoryFit;
    margin: MarginDerivation;
    failedAt: number | undefined;
    known: KnownLimits;
    reading: LimitReading;
  },
): Promise<SearchEnd> {
  const s = ctx.s;
  const cap = o.failedAt !== undefined ? o.failedAt - 1 : s.cap;
  const judgeLimit = o.prediction.limitBytes;
  // Under a cap that binds first, the line runs through the allocated peaks up to the cap (bindingCap);
  // every probe is still judged against the budget in its own measure.
  const capBytes = bindingCap(ctx.records, { known: o.known, limitBytes: judgeLimit });
  const underCap = capBytes !== undefined;
  const plan = limitPlan(underCap ? ctx.records.map(allocatedPointOf) : ctx.records, {
    limitBytes: underCap ? capBytes : judgeLimit,
    known: underCap ? { ...o.known, limitBytes: capBytes } : o.known,
    reading: underCap ? CAP_READING : o.reading,
    tolerance: s.tolerance,
    cap,
  });
  const prediction = limitPrediction(plan, { limitBytes: judgeLimit, known: o.known, capBytes });
  ctx.hooks.onPrediction?.({ fit: o.fit, prediction, margin: o.margin });
  const base = plan.settings.baseline.batch;
  if (cap <= base) return { strategy: 'limit', outcome: 'found', maxBatch: base, firstFailure: o.failedAt, prediction };
  const probe = async (batch: number, why: string): Promise<LimitTrial> => {
    const rec = await searchRecord(ctx, batch, judgeLimit, why);
    if (rec.kind === 'error' || rec.kind === 'timeout') throw probeError(rec);
    return underCap ? capTrialOf(rec, capBytes) : limitTrialOf(rec, o.reading.peak);
  };
  const r = await searchLimit({ ...plan.settings, start: plan.start.batch, maxTrials: s.maxTrials, probe });
  return {
    strategy: 'limit',
    outcome: r.outcome === 'none-fits' ? 'found' : r.outcome,
    maxBatch: r.maxBatch ?? base,
    firstFailure: r.firstFailure ?? o.failedAt,
    prediction,
  };
}

/** Probes the prediction and returns the refined start (the prediction itself when no secant can be drawn). */
async function refinedStart(ctx: Ctx, prediction: Prediction, cap: number): Promise<number> {
  const probe = searchProbe(ctx, prediction.limitBytes);
  const p0 = prediction.start;
  await probe(p0);
  // Only a run that measured its peak to the end (or to the budget) can anchor a line; a killed one cannot.
  const far = ctx.records.find((r) => r.batch === p0 && !r.peakAtMost && (r.kind === 'ok' || r.kind === 'over-budget'));
  const anchors = ctx.records.filter((r) => r.phase === 'analytic' && r.ok && !r.peakAtMost && r.batch < p0);
  const anchor = anchors[anchors.length - 1];
  const start =
    anchor && far
      ? secantStart({ batch: anchor.batch, peakBytes: anchor.peakBytes as number }, far, prediction.limitBytes)
      : undefined;
  return Math.max(1, Math.min(cap, start ?? p0));
}

/** Step 2 of the module doc: the prediction, the window around the refined start, then on from its edge if the answer lies outside. */
async function searchPhase(ctx: Ctx, prediction: Prediction, failedAt: number | undefined): Promise<FindMaxResult> {
  const s = ctx.s;
  const probe = searchProbe(ctx, prediction.limitBytes);
  const cap = failedAt !== undefined ? failedAt - 1 : s.cap;
  const common = { probe, tolerance: s.tolerance };
  const start = prediction.trusted ? await refinedStart(ctx, prediction, cap) : prediction.start;
  const growth = growthGuide(ctx.records, prediction.limitBytes);
  const { low, high } = searchWindow(start, s.tolerance, cap, prediction.trusted);
  let r = await findMaxBatch({
    ...common,
    predictedMax: start,
    cap: high,
    minBatch: low,
    maxTrials: s.maxTrials,
    growth: prediction.trusted ? undefined : growth,
  });
  const left = Math.max(1, s.maxTrials - r.trials.length + 1); // +1: the second search starts at a batch already measured
  if (r.outcome === 'capped' && high < cap)
    r = await findMaxBatch({ ...common, predictedMax: high, cap, minBatch: high, maxTrials: left, growth });
  else if (r.outcome === 'none-fits' && low > 1)
    r = await findMaxBatch({ ...common, predictedMax: low, cap: low, minBatch: 1, maxTrials: left });
  if (
    r.outcome === 'error' ||
    ctx.records.some((x) => x.phase === 'search' && (x.kind === 'error' || x.kind === 'timeout'))
  ) {
    throw probeError(ctx.records[ctx.records.length - 1] as ProbeRecord);
  }
  if (r.maxBatch === undefined) {
    throw new BatchlabError(
      'BATCHLAB_OOM',
      `no batch size passed a probe within ${s.maxTrials} trials (${r.outcome}); raise --max-trials or the budget`,
    );
  }
  return r;
}

/** Step 3 of the module doc: a longer run at the answer, the margin again with its peak, step down if needed. */
async function verifyPhase(
  ctx: Ctx,
  first: number,
  fit: MemoryFit | undefined,
): Promise<{ batch: number; peakBytes: number; margin: MarginDerivation }> {
  const s = ctx.s;
  let batch = first;
  await ctx.prober.release?.(); // a warm process's memory must not be in the way of the fresh verification
  let margin = deriveMargin({
    floor: s.marginFloor,
    budgetBytes: s.budgetBytes,
    residualStdBytes: fit?.residualStdBytes,
    samples: marginSamples(ctx),
  });
  for (let attempt = 1; attempt <= MAX_VERIFY_ATTEMPTS && batch >= 1; attempt++) {
    const rec = await probeOnce(ctx, 'verify', batch, s.verifySteps, limitOf(s, margin));
    if (rec.kind === 'error' || rec.kind === 'timeout') throw probeError(rec);
    margin = deriveMargin({
      floor: s.marginFloor,
      budgetBytes: s.budgetBytes,
      residualStdBytes: fit?.residualStdBytes,
      samples: marginSamples(ctx),
    });
    if (rec.ok && (rec.peakBytes as number) <= limitOf(s, margin))
      return { batch, peakBytes: rec.peakBytes as number, margin };
    batch = stepDown(batch, rec, limitOf(s, margin), ctx.records, s.tolerance);
  }
  throw new BatchlabError(
    'BATCHLAB_OOM',
    `no batch passed verification over ${s.verifySteps} steps after ${MAX_VERIFY_ATTEMPTS} attempts (last tried ${first}); memory grows with the steps: raise --probe-steps or the margin`,
  );
}

/**
 * The peaks the margin reads (core/margin.ts: a batch measured twice gives the run-to-run spread).
 * A prober with its own verifier (warm) measures the search in one long-lived process and the
 * verification in a fresh one, two different measurements by design: only the verifications compare.
 */
function marginSamples(ctx: Ctx): PeakSample[] {
  return peakSamples(ctx.prober.verifier ? ctx.records.filter((r) => r.phase === 'verify') : ctx.records);
}

/** The experiment summary stored with the probes. */
function summaryOf(r: FindMaxReport): Record<string, unknown> {
  return {
    budgetBytes: r.budgetBytes,
    budgetOn: r.budgetOn,
    measure: r.measure,
    memoryFit: r.fit && {
      interceptBytes: r.fit.interceptBytes,
      bytesPerSample: r.fit.bytesPerSample,
      r2: r.fit.r2,
      residualStdBytes: r.fit.residualStdBytes,
      n: r.fit.n,
    },
    prediction: r.prediction,
    margin: r.margin,
    search: r.search,
    answer: r.answer,
    throughput: r.throughput && {
      worthFrom: r.throughput.worthFrom,
      basis: r.throughput.basis,
      measuredFrom: r.throughput.measuredFrom,
      outcome: r.throughput.outcome,
      best: r.throughput.best,
      within: r.throughput.within,
      stepTimeFit: r.throughput.fit,
      points: r.throughput.points,
    },
    target: r.target,
    counts: r.counts,
    wallMs: r.wallMs,
  };
}
