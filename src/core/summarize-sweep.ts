/**
 * Fits across a sweep's batch sizes and the "What this sweep shows" lines: each a claim of the seed text
 * (../shared/mission/seed-en.md) with our measured number, said plainly when the data contradicts it.
 */
import { num, ratio } from './format.js';
import { fitMemory } from './search.js';
import { mean } from './stats.js';
import { fitStepTime, saturationBatch } from './throughput.js';
import { withTimingNote } from './timing-note.js';
import { fitTradeoff } from './tradeoff.js';
import type { Finding, RunSummary, SweepSummary } from './summary.js';

/** Per batch size, the mean over seeds of what the findings compare. */
export interface BatchPoint {
  batchSize: number;
  runs: number;
  peakBytes: number;
  stepMs: number;
  samplesPerSec: number;
  lossNoise: number;
  testAccuracy?: number;
  testLoss: number;
  gapAccuracy?: number;
  gapLoss: number;
  sharpness?: number;
  bSimple?: number;
  /** Mean steps/samples to the target over the seeds that reached it. */
  stepsToTarget?: number;
  samplesToTarget?: number;
  wallMsToTarget?: number;
  reachedTarget: number;
}

const avg = (xs: (number | undefined)[]): number | undefined => {
  const ok = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return ok.length > 0 ? mean(ok) : undefined;
};

/** Groups finished runs by batch size (ascending) and averages over seeds. */
export function batchPoints(runs: readonly RunSummary[]): BatchPoint[] {
  const byBatch = new Map<number, RunSummary[]>();
  for (const r of runs) byBatch.set(r.batchSize, [...(byBatch.get(r.batchSize) ?? []), r]);
  return [...byBatch.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([batchSize, rs]) => {
      const reached = rs.filter((r) => r.target?.reached);
      return {
        batchSize,
        runs: rs.length,
        peakBytes: avg(rs.map((r) => r.peakBytes))!,
        stepMs: avg(rs.map((r) => r.stepMs.median)) ?? NaN,
        samplesPerSec: avg(rs.map((r) => r.samplesPerSec)) ?? NaN,
        lossNoise: avg(rs.map((r) => r.lossNoise)) ?? NaN,
        testAccuracy: avg(rs.map((r) => r.final.test.accuracy)),
        testLoss: avg(rs.map((r) => r.final.test.loss))!,
        gapAccuracy: avg(rs.map((r) => r.gap.accuracy)),
        gapLoss: avg(rs.map((r) => r.gap.loss))!,
        sharpness: avg(rs.map((r) => r.sharpness?.topEigenvalue)),
        bSimple: avg(rs.map((r) => r.noise.bSimple)),
        stepsToTarget: avg(reached.map((r) => r.target!.steps)),
        samplesToTarget: avg(reached.map((r) => r.target!.samples)),
        wallMsToTarget: avg(reached.map((r) => r.target!.wallMs)),
        reachedTarget: reached.length,
      };
    });
}

/** Fits and findings over the finished runs of a sweep. */
export function summarizeSweep(runs: readonly RunSummary[], wallMs: number): SweepSummary {
  const points = batchPoints(runs);
  const summary: SweepSummary = { findings: [], wallMs };
  if (points.length >= 2) {
    const mem = fitMemory(points);
    summary.memoryFit = { interceptBytes: mem.interceptBytes, bytesPerSample: mem.bytesPerSample, r2: mem.r2 };
    const timed = points.filter((p) => Number.isFinite(p.stepMs));
    if (timed.length >= 2) {
      const t = fitStepTime(timed.map((p) => ({ batchSize: p.batchSize, stepMs: p.stepMs })));
      summary.stepTimeFit = { alphaMs: t.alphaMs, betaMsPerSample: t.betaMsPerSample, r2: t.r2 };
      summary.saturationBatch = saturationBatch(
        timed.map((p) => ({ batchSize: p.batchSize, stepMs: p.stepMs })),
      )?.batchSize;
    }
    const reached = points.filter((p) => p.stepsToTarget !== undefined);
    if (reached.length >= 3) {
      const fit = fitTradeoff(reached.map((p) => ({ batchSize: p.batchSize, steps: p.stepsToTarget! })));
      summary.tradeoff = { sMin: fit.sMin, eMin: fit.eMin, bCrit: fit.bCrit, r2: fit.r2 };
    }
  }
  summary.findings = withTimingNote(findings(points, summary), runs);
  return summary;
}

const mbText = (bytes: number): string => `${num(bytes / 1e6)} MB`;

/** The seed's claims, each with the sweep's number. */
export function findings(points: readonly BatchPoint[], s: SweepSummary): Finding[] {
  if (points.length < 2)
    return [
      { effect: 'memory', text: 'fewer than two batch sizes finished: nothing to compare', agreesWithSeed: null },
    ];
  const lo = points[0]!;
  const hi = points.at(-1)!;
  const span = `from B=${lo.batchSize} to B=${hi.batchSize}`;
  const withTarget = points.some((p) => p.reachedTarget > 0);
  return [
    memoryFinding(lo, hi, span, s),
    ...speedFindings(lo, hi, span, s),
    stabilityFinding(points),
    ...generalizationFindings(points, lo, hi, span, withTarget),
    ...tradeoffFinding(s, hi.batchSize),
  ];
}

/** The smallest and largest batch among the points where `value` was measured. */
function measuredEnds(
  points: readonly BatchPoint[],
  value: (p: BatchPoint) => number | undefined,
): [BatchPoint, BatchPoint] | undefined {
  const ok = points.filter((p) => Number.isFinite(value(p)));
  return ok.length >= 2 ? [ok[0]!, ok.at(-1)!] : undefined;
}

function memoryFinding(lo: BatchPoint, hi: BatchPoint, span: string, s: SweepSummary): Finding {
  const fit = s.memoryFit!;
  const grew = hi.peakBytes > lo.peakBytes;
  return {
    effect: 'memory',
    text: `memory ${grew ? 'grew' : 'did not grow'} ${ratio(hi.peakBytes, lo.peakBytes)} ${span} (${mbText(fit.interceptBytes)} + ${num(fit.bytesPerSample / 1e6, 3)} MB per sample, R^2 ${fit.r2.toFixed(3)})`,
    agreesWithSeed: grew,
  };
}

function speedFindings(lo: BatchPoint, hi: BatchPoint, span: string, s: SweepSummary): Finding[] {
  const faster = hi.samplesPerSec > lo.samplesPerSec;
  const out: Finding[] = [
    {
      effect: 'speed',
      text: `throughput ${faster ? 'rose' : 'fell'} ${span}: ${num(lo.samplesPerSec)} -> ${num(hi.samplesPerSec)} samples/s (${ratio(hi.samplesPerSec, lo.samplesPerSec)})${s.saturationBatch !== undefined ? `; it stops improving (under 10% per doubling) past B=${s.saturationBatch}` : ''}`,
      agreesWithSeed: faster,
    },
    {
      effect: 'speed',
      text: `but each step takes longer: ${num(lo.stepMs)} -> ${num(hi.stepMs)} ms/step${s.stepTimeFit ? ` (t(B) = ${num(s.stepTimeFit.alphaMs)} ms + ${num(s.stepTimeFit.betaMsPerSample, 3)} ms x B)` : ''}`,
      agreesWithSeed: hi.stepMs > lo.stepMs,
    },
  ];
  return out;
}

function stabilityFinding(points: readonly BatchPoint[]): Finding {
  const ends = measuredEnds(points, (p) => p.lossNoise);
  if (!ends)
    return {
      effect: 'stability',
      text: 'loss noise needs at least 3 steps per run; the runs were too short to measure it',
      agreesWithSeed: null,
    };
  const [lo, hi] = ends;
  const fell = hi.lossNoise < lo.lossNoise;
  return {
    effect: 'stability',
    text: `loss noise (std around its EMA) ${fell ? 'fell' : 'rose'} ${ratio(Math.max(lo.lossNoise, hi.lossNoise), Math.min(lo.lossNoise, hi.lossNoise))} from B=${lo.batchSize} to B=${hi.batchSize}: ${num(lo.lossNoise, 3)} -> ${num(hi.lossNoise, 3)}${fell ? '; small batches give noisier updates' : ''}`,
    agreesWithSeed: fell,
  };
}

function generalizationFindings(
  points: readonly BatchPoint[],
  lo: BatchPoint,
  hi: BatchPoint,
  span: string,
  withTarget: boolean,
): Finding[] {
  const out: Finding[] = [];
  if (lo.gapAccuracy !== undefined && hi.gapAccuracy !== undefined) {
    const grew = hi.gapAccuracy > lo.gapAccuracy;
    out.push({
      effect: 'generalization',
      text: `the generalization gap (train - held-out accuracy) ${grew ? 'grew' : 'did not grow'} ${span}: ${num(lo.gapAccuracy * 100)} -> ${num(hi.gapAccuracy * 100)} points`,
      agreesWithSeed: grew,
    });
  }
  // With a target budget every run stops at the same accuracy: comparing final accuracies says nothing.
  if (lo.testAccuracy !== undefined && !withTarget) {
    const best = points.reduce((a, b) => ((b.testAccuracy ?? -1) > (a.testAccuracy ?? -1) ? b : a));
    const worst = points.reduce((a, b) => ((b.testAccuracy ?? 2) < (a.testAccuracy ?? 2) ? b : a));
    out.push({
      effect: 'generalization',
      text: `held-out accuracy was best at B=${best.batchSize} (${num(best.testAccuracy! * 100, 4)}%) and worst at B=${worst.batchSize} (${num(worst.testAccuracy! * 100, 4)}%) for the same budget`,
      agreesWithSeed: best.batchSize < worst.batchSize,
    });
  }
  if (lo.sharpness !== undefined && hi.sharpness !== undefined) {
    const sharper = hi.sharpness > lo.sharpness;
    out.push({
      effect: 'generalization',
      text: `sharpness (top Hessian eigenvalue) ${sharper ? 'rose' : 'fell'} ${span}: ${num(lo.sharpness)} -> ${num(hi.sharpness)}${sharper ? ': large batches ended in sharper minima (Keskar et al. 2017)' : ''}`,
      agreesWithSeed: sharper,
    });
  }
  return out;
}

function tradeoffFinding(s: SweepSummary, largest: number): Finding[] {
  const t = s.tradeoff;
  if (!t) return [];
  if (t.bCrit === undefined) {
    return [
      {
        effect: 'speed',
        text: `steps-to-target fell in proportion to 1/B over the whole range (S_min fitted at ${num(t.sMin)} <= 0): the critical batch lies above the largest batch tried, B=${largest}`,
        agreesWithSeed: null,
      },
    ];
  }
  return [
    {
      effect: 'speed',
      text: `measured critical batch B_crit ~ ${num(t.bCrit)} (S_min ${num(t.sMin)} steps, E_min ${num(t.eMin)} samples, R^2 ${t.r2.toFixed(2)}): below it doubling B nearly halves the steps, above it doubling saves few`,
      agreesWithSeed: null,
    },
  ];
}
