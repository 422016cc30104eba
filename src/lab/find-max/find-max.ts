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
 * 3. Verify the answer with a longer run (20 steps by default). The margin is derived again with the
 *    verification's peak (core/margin.ts); if the answer no longer fits, step down and verify again.
 *    The reported batch is always one that a verification run passed.
 *
 * What the budget is compared with is the prober's measure: for TF.js models the tensor peak of a step
 * (RunSummary.peakBytes: weights, optimizer state, activations and gradients, dataset excluded), the
 * analogue of a GPU's memory; for a command, its process tree's RSS, its GPU memory or its own report.
 * A probe fails 'over-budget' when that peak exceeds budget x (1 - margin), 'oom' when the allocator
 * failed or the process was SIGKILLed; any other failure ('error', 'timeout') stops the search with
 * that error, and is never read as "too big".
 *
 * The pure steps (the start, the window, the secant, the climb's guide, the step down, the target advice)
 * are core/find-max.ts; this file runs the probes, judges them against the limit and records them.
 */
import { BatchlabError } from '../../core/errors.js';
import {
  checkSettings,
  type FindMaxSettings,
  growthGuide,
  limitOf,
  MAX_VERIFY_ATTEMPTS,
  peakSamples,
  type Prediction,
  predictStart,
  type ProbePhase,
  type ProbePoint,
  searchWindow,
  secantStart,
  stepDown,
  targetAdvice,
  type TargetAdvice,
} from '../../core/find-max.js';
import { deriveMargin, type MarginDerivation } from '../../core/margin.js';
import { findMaxBatch, type FindMaxResult, type MemoryFit, type ProbeResult } from '../../core/search.js';
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
  search: { outcome: FindMaxResult['outcome']; lo?: number; hi?: number };
  answer: { batch: number; peakBytes: number; budgetFraction: number; limitBytes: number; verifySteps: number };
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

/** Mutable state of one find-max, owned by one findMax call. */
interface Ctx {
  store: Store;
  experimentId: number;
  s: FindMaxSettings;
  prober: Prober;
  hooks: FindMaxHooks;
  records: ProbeRecord[];
  /** Results already measured by batch (analytic and search), so the search never probes a batch twice. */
  memo: Map<number, ProbeResult>;
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
  const failedAt = await analyticPhase(ctx);
  const { fit, prediction, margin } = predictStart(ctx.records, ctx.s, failedAt);
  ctx.hooks.onPrediction?.({ fit, prediction, margin });
  const search = await searchPhase(ctx, prediction, failedAt);
  const verified = await verifyPhase(ctx, search.maxBatch as number, fit);
  const count = (p: ProbePhase) => ctx.records.filter((r) => r.phase === p).length;
  const s = ctx.s;
  return {
    experimentId: ctx.experimentId,
    budgetBytes: s.budgetBytes,
    budgetOn: s.budgetOn,
    measure: ctx.prober.measure,
    probes: ctx.records,
    fit,
    prediction,
    margin: verified.margin,
    search: { outcome: search.outcome, lo: search.maxBatch, hi: search.firstFailure },
    answer: {
      batch: verified.batch,
      peakBytes: verified.peakBytes,
      budgetFraction: verified.peakBytes / s.budgetBytes,
      limitBytes: limitOf(s, verified.margin),
      verifySteps: s.verifySteps,
    },
    target: s.targetBatch === undefined ? undefined : targetAdvice(s.targetBatch, verified.batch, s.lr),
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

/** Runs one probe, judges it against `limitBytes`, stores and reports it. */
async function probeOnce(
  ctx: Ctx,
  phase: ProbePhase,
  batch: number,
  steps: number,
  limitBytes: number,
): Promise<ProbeRecord> {
  const index = ctx.records.length + 1;
  ctx.hooks.onProbeStart?.({ index, phase, batch, steps, limitBytes });
  const m = await ctx.prober.run(batch, {
    steps,
    signal: ctx.hooks.signal,
    onStep: (step, totalSteps) => ctx.hooks.onProbeStep?.({ step, totalSteps }),
  });
  const rec = judge(m, { index, phase, batch, steps, limitBytes });
  ctx.records.push(rec);
  ctx.store.addProbe({
    experimentId: ctx.experimentId,
    batchSize: batch,
    ok: rec.ok,
    kind: rec.kind,
    peakBytes: rec.peakBytes,
    rssBytes: rec.vmHwmBytes,
    ms: Math.round(rec.ms),
    message: rec.message ?? (rec.reason || null),
    phase,
  });
  ctx.hooks.onProbeEnd?.(rec);
  return rec;
}

/** A measurement judged against the limit: a run that finished above it is 'over-budget'. */
export function judge(
  m: ProbeMeasurement,
  at: { index: number; phase: ProbePhase; batch: number; steps: number; limitBytes: number },
): ProbeRecord {
  const base = { ...at, peakBytes: m.peakBytes, vmHwmBytes: m.vmHwmBytes, ms: m.ms };
  if (m.kind === 'ok' && m.peakBytes !== undefined && m.peakBytes > at.limitBytes) {
    return {
      ...base,
      kind: 'over-budget',
      ok: false,
      reason: `peak ${formatBytes(m.peakBytes)} > limit ${formatBytes(at.limitBytes)}`,
    };
  }
  if (m.kind === 'ok') return { ...base, kind: 'ok', ok: true, reason: '' };
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

/** Probes the analytic batches at the floor margin; returns the first batch that failed for memory, if any. */
async function analyticPhase(ctx: Ctx): Promise<number | undefined> {
  const limit = limitOf(ctx.s, ctx.s.marginFloor);
  const batches = [...new Set(ctx.s.analyticBatches.map((b) => Math.min(b, ctx.s.cap)))].sort((a, b) => a - b);
  for (const [i, b] of batches.entries()) {
    const rec = await probeOnce(ctx, 'analytic', b, ctx.s.probeSteps, limit);
    if (rec.kind === 'error' || rec.kind === 'timeout') throw probeError(rec);
    ctx.memo.set(
      b,
      rec.ok
        ? { ok: true, peakBytes: rec.peakBytes as number }
        : { ok: false, kind: rec.kind as 'oom' | 'over-budget', message: rec.reason },
    );
    if (!rec.ok && i === 0) throw budgetTooSmall(ctx, rec);
    if (!rec.ok) return b;
  }
  return undefined;
}

/** A probe for findMaxBatch: batches already measured answer from the memo; new ones run as 'search' probes. */
function searchProbe(ctx: Ctx, limitBytes: number): (batch: number) => Promise<ProbeResult> {
  return async (batch) => {
    const known = ctx.memo.get(batch);
    if (known !== undefined) return known;
    const rec = await probeOnce(ctx, 'search', batch, ctx.s.probeSteps, limitBytes);
    const result: ProbeResult = rec.ok
      ? { ok: true, peakBytes: rec.peakBytes as number }
      : {
          ok: false,
          kind: rec.kind === 'oom' || rec.kind === 'over-budget' ? rec.kind : 'error',
          message: rec.message ?? rec.reason,
        };
    ctx.memo.set(batch, result);
    return result;
  };
}

/** Probes the prediction and returns the refined start (the prediction itself when no secant can be drawn). */
async function refinedStart(ctx: Ctx, prediction: Prediction, cap: number): Promise<number> {
  const probe = searchProbe(ctx, prediction.limitBytes);
  const p0 = prediction.start;
  await probe(p0);
  // Only a run that measured its peak to the end (or to the budget) can anchor a line; a killed one cannot.
  const far = ctx.records.find((r) => r.batch === p0 && (r.kind === 'ok' || r.kind === 'over-budget'));
  const anchors = ctx.records.filter((r) => r.phase === 'analytic' && r.ok && r.batch < p0);
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
  let margin = deriveMargin({
    floor: s.marginFloor,
    budgetBytes: s.budgetBytes,
    residualStdBytes: fit?.residualStdBytes,
    samples: peakSamples(ctx.records),
  });
  for (let attempt = 1; attempt <= MAX_VERIFY_ATTEMPTS && batch >= 1; attempt++) {
    const rec = await probeOnce(ctx, 'verify', batch, s.verifySteps, limitOf(s, margin));
    if (rec.kind === 'error' || rec.kind === 'timeout') throw probeError(rec);
    margin = deriveMargin({
      floor: s.marginFloor,
      budgetBytes: s.budgetBytes,
      residualStdBytes: fit?.residualStdBytes,
      samples: peakSamples(ctx.records),
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
    target: r.target,
    counts: r.counts,
    wallMs: r.wallMs,
  };
}
