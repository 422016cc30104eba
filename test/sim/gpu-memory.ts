/**
 * Simulated GPU memory for find-max tests and bench/gpu/simulate-limit.ts: a process's device memory
 * (what nvidia-smi shows) at batch B is a CUDA context plus what PyTorch's caching allocator reserves,
 *   device(B) = contextBytes + reserved(B),  reserved(B) = roundUp(fixedBytes + a B + q B^2, blockBytes),
 * with a cap on reserved (torch.cuda.set_per_process_memory_fraction: "X allowed") and the device's
 * capacity. A probe past either fails the way PyTorch does: part-way through the step, at the first of
 * STEP_ALLOCATIONS equal allocations that does not fit, with the message's figures (what the process
 * held, the allocation that failed, the cap, free memory). `smallScale` scales the per-sample memory at
 * B <= 8, to model small-B peaks that understate it (issue 17: the line through B <= 8 predicted 6x
 * the true maximum).
 */
import { failurePoint, searchLimit, startBatch, type LimitTrial } from '../../src/core/limit.js';
import type { OomFigures } from '../../src/core/oom-message.js';
import type { FindMaxSettings } from '../../src/core/find-max.js';
import type { Prober } from '../../src/lab/find-max/probers.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** A step allocates its per-sample memory in this many equal pieces (layers); the first that does not fit fails. */
export const STEP_ALLOCATIONS = 40;

export interface SimCurve {
  name: string;
  contextBytes: number;
  fixedBytes: number;
  bytesPerSample: number;
  /** Bytes per sample squared (memory that grows faster than linearly, e.g. attention). */
  quadraticBytes: number;
  /** Allocator rounding (1 = none). */
  blockBytes: number;
  /** Cap on reserved memory ("allowed"); Infinity = none. */
  capBytes: number;
  totalBytes: number;
  /** Per-sample memory at B <= 8, as a fraction of bytesPerSample. */
  smallScale: number;
  /** The measure's granularity for the search (the block size, at least 1 byte). */
  resolutionBytes: number;
  /** The limit a warm prober's ready report states: the cap plus the context, or the device. */
  readyLimitBytes: number;
  /** Step time t(B) = stepAlphaMs + stepBetaMs x B, ms (simStepMs). */
  stepAlphaMs: number;
  stepBetaMs: number;
}

/** The curve with its derived fields. */
function curve(c: Omit<SimCurve, 'resolutionBytes' | 'readyLimitBytes'>): SimCurve {
  return {
    ...c,
    resolutionBytes: Math.max(1, c.blockBytes),
    readyLimitBytes: Math.min(c.totalBytes, c.capBytes + c.contextBytes),
  };
}

/**
 * The curves of the tests: ResNet-18 on 96x96 images under a 24 GiB cap on an H200 (3.9 MB per sample,
 * ~6,150 fit), exact, with 2 MiB blocks, with the small-B peaks of issue 17, with small-B peaks that do
 * not rise at all (nvidia-smi sampled a short probe before its steps), and with a quadratic term;
 * the MNIST MLP on an 80 GB H100 without a cap (1.08 GiB flat, 7 KB per sample in 2 MiB blocks). Step
 * times: t(B) = 6 + 0.03 B ms for the ResNet curves, 1 + 2e-5 B ms for the MLP (rough guesses of the
 * shape, for the throughput report and bench/gpu/simulate-limit.ts's time model; not measured).
 */
export const SIM_CURVES: readonly SimCurve[] = (() => {
  const resnet = {
    name: 'resnet18, linear',
    contextBytes: 600 * MiB,
    fixedBytes: 140 * MiB,
    bytesPerSample: 3.9e6,
    quadraticBytes: 0,
    blockBytes: 1,
    capBytes: 24 * GiB,
    totalBytes: 139.8 * GiB,
    smallScale: 1,
    stepAlphaMs: 6,
    stepBetaMs: 0.03,
  };
  return [
    curve(resnet),
    curve({ ...resnet, name: 'resnet18, 2 MiB blocks', blockBytes: 2 * MiB }),
    curve({ ...resnet, name: 'resnet18, small B 6x low', blockBytes: 2 * MiB, smallScale: 1 / 6 }),
    curve({ ...resnet, name: 'resnet18, flat small B', blockBytes: 2 * MiB, smallScale: 0 }),
    curve({
      ...resnet,
      name: 'quadratic, 2 MiB blocks',
      blockBytes: 2 * MiB,
      bytesPerSample: 2.5e6,
      quadraticBytes: 250,
    }),
    curve({
      ...resnet,
      name: 'mlp, H100, no cap',
      contextBytes: 1.08 * GiB,
      fixedBytes: 0,
      bytesPerSample: 7000,
      blockBytes: 2 * MiB,
      capBytes: Number.POSITIVE_INFINITY,
      totalBytes: 81_559 * MiB,
      stepAlphaMs: 1,
      stepBetaMs: 2e-5,
    }),
  ];
})();

/** What the allocator needs for `fraction` of a step at batch B (before rounding). */
function need(c: SimCurve, batch: number, fraction = 1): number {
  const perSample = c.bytesPerSample * (batch <= 8 ? c.smallScale : 1);
  return c.fixedBytes + fraction * (perSample * batch + c.quadraticBytes * batch * batch);
}

function roundUp(bytes: number, block: number): number {
  return Math.ceil(bytes / block) * block;
}

/** Whether `reserved` fits the cap and the device. */
function fits(c: SimCurve, reserved: number): boolean {
  return reserved <= c.capBytes && c.contextBytes + reserved <= c.totalBytes;
}

/** One simulated probe: the device peak, or a failure with PyTorch's figures. */
export type SimProbe = { ok: true; peakBytes: number } | { ok: false; message: string; figures: OomFigures };

export function simulateProbe(c: SimCurve, batch: number): SimProbe {
  const reserved = roundUp(need(c, batch), c.blockBytes);
  if (fits(c, reserved)) return { ok: true, peakBytes: c.contextBytes + reserved };
  let j = 0;
  while (fits(c, roundUp(need(c, batch, (j + 1) / STEP_ALLOCATIONS), c.blockBytes))) j++;
  const held = roundUp(need(c, batch, j / STEP_ALLOCATIONS), c.blockBytes);
  const processBytes = c.contextBytes + held;
  const figures: OomFigures = {
    source: 'pytorch-caching-allocator',
    triedBytes: roundUp(need(c, batch, 1 / STEP_ALLOCATIONS) - c.fixedBytes, c.blockBytes),
    totalBytes: c.totalBytes,
    freeBytes: c.totalBytes - processBytes,
    processBytes,
    allocatedBytes: need(c, batch, j / STEP_ALLOCATIONS),
    reservedBytes: held,
    ...(Number.isFinite(c.capBytes) ? { limitBytes: c.capBytes } : {}),
  };
  return { ok: false, message: `CUDA out of memory (simulated, batch ${batch})`, figures };
}

/**
 * The largest batch whose probe passes with a peak within `limitBytes` (default: no limit but the
 * curve's own); the curves are monotone, so a binary search is exact.
 */
export function trueMax(c: SimCurve, limitBytes = Number.POSITIVE_INFINITY): number {
  const fitsAt = (b: number): boolean => {
    const r = simulateProbe(c, b);
    return r.ok && r.peakBytes <= limitBytes;
  };
  let lo = 0;
  let hi = 2 ** 26;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fitsAt(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Options of simulateLimitSearch. */
export interface SimSearchOptions {
  /** The warm prober's ready report gave the free memory and the cap before the first probe. */
  warm: boolean;
  tolerance: number;
  /** Of the device: the budget is totalBytes x (1 - margin). */
  margin: number;
  cap: number;
}

/**
 * The limit search as find-max would run it on a curve: small probes at B = 1 and 8, startBatch,
 * searchLimit with the failures' figures in device terms, then one verification of the answer.
 */
export async function simulateLimitSearch(
  c: SimCurve,
  o: SimSearchOptions,
): Promise<{ answer: number | undefined; outcome: string; probes: number[]; reasons: string[] }> {
  const probes: number[] = [];
  const run = (batch: number): LimitTrial => {
    probes.push(batch);
    const r = simulateProbe(c, batch);
    return r.ok
      ? { batch, ok: true, peakBytes: r.peakBytes }
      : { batch, ok: false, failure: failurePoint(batch, r.figures, 'device') };
  };
  const small = [run(1), run(8)].map((t) => ({ batch: t.batch, peakBytes: (t as { peakBytes: number }).peakBytes }));
  const baseline = small[1] as { batch: number; peakBytes: number };
  const budgetLimit = c.totalBytes * (1 - o.margin);
  const limitBytes = o.warm ? Math.min(budgetLimit, c.readyLimitBytes) : budgetLimit;
  const free = o.warm ? c.totalBytes - baseline.peakBytes : undefined;
  const start = startBatch({ small, limitBytes, freeBytes: free, resolutionBytes: c.resolutionBytes, cap: o.cap });
  const r = await searchLimit({
    limitBytes,
    baseline,
    minRiseBytes: 0.01 * (limitBytes - baseline.peakBytes),
    resolutionBytes: c.resolutionBytes,
    tolerance: o.tolerance,
    cap: o.cap,
    start: start.batch,
    maxTrials: 40,
    probe: async (b) => run(b),
  });
  if (r.maxBatch !== undefined) run(r.maxBatch);
  return { answer: r.maxBatch, outcome: r.outcome, probes, reasons: [start.why, ...r.reasons] };
}

/** find-max's settings over a curve, as `--budget-on gpu --memory-budget <the card>` gives them, with a 3% tolerance. */
export function simSettings(c: SimCurve, margin = 0.1): FindMaxSettings {
  return {
    budgetBytes: c.totalBytes,
    budgetOn: 'gpu',
    marginFloor: margin,
    cap: 2 ** 25,
    probeSteps: 3,
    verifySteps: 20,
    maxTrials: 40,
    tolerance: 0.03,
    analyticBatches: [1, 2, 4, 8],
    subject: { curve: c.name },
  };
}

/** Step time of the simulated model at batch B, ms: a fixed part (kernel launches) plus a per-sample part. */
export function simStepMs(c: SimCurve, batch: number): number {
  return c.stepAlphaMs + c.stepBetaMs * batch;
}

/** Options of simProber. */
export interface SimProberOptions {
  /** A warm prober: prepare() states the cap and the free memory the ready line would. */
  warm: boolean;
  /** Every batch probed, the verification's included, in order. */
  calls?: number[];
  /** Fresh probes state the cap and the reserved peak, as examples/pytorch/warm_probe.py's ordinary trial does. */
  states?: boolean;
}

/**
 * A find-max prober over a curve, as commandProber / warmCommandProber would be on that GPU with
 * --budget-on gpu: device-terms peaks in 2 MiB blocks, failures with PyTorch's figures, step times by
 * simStepMs (the first step 3x slower); fresh ones run their small probes together, and with `states` state the cap as the
 * PyTorch helper's ordinary trial does. Warm: prepare() gives the ready line's cap (plus the context,
 * in device terms) and the free memory; the verification runs on a fresh prober of the same curve.
 */
export function simProber(c: SimCurve, o: SimProberOptions): Prober {
  const calls = o.calls ?? [];
  const run: Prober['run'] = async (batch, r) => {
    calls.push(batch);
    const p = simulateProbe(c, batch);
    const stepMs = Array.from({ length: r.steps }, (_, i) => simStepMs(c, batch) * (i === 0 ? 3 : 1));
    const stated =
      o.states && Number.isFinite(c.capBytes)
        ? { statedMemory: { limitBytes: c.capBytes, peakReservedBytes: p.ok ? p.peakBytes - c.contextBytes : 0 } }
        : {};
    return p.ok
      ? { kind: 'ok', peakBytes: p.peakBytes, ms: stepMs.reduce((a, b) => a + b, 0), stepMs, ...stated }
      : { kind: 'oom', message: p.message, oom: p.figures, ms: 1 };
  };
  const limit = { peak: 'device', resolutionBytes: c.resolutionBytes } as const;
  const fresh: Prober = { measure: 'simulated device memory', limit, concurrent: true, run };
  if (!o.warm) return fresh;
  return {
    ...fresh,
    concurrent: false,
    prepare: async () => ({
      limitBytes: Number.isFinite(c.capBytes) ? c.readyLimitBytes : undefined,
      freeBytes: c.totalBytes - c.contextBytes - c.fixedBytes,
    }),
    verifier: fresh,
  };
}
