/** The sweep table and the "What this sweep shows" lines, shared by `sweep`, `show` and `demo`. */
import type { RunSummary, SweepSummary } from '../core/summary.js';
import type { Run } from '../store/index.js';
import { duration, mb, num, pct, table } from './format.js';

/** One row per run: batch size, its learning rate, and what was measured. */
export function sweepTable(runs: readonly Run[]): string {
  const rows = runs.map((r) => {
    const s = r.summary as unknown as RunSummary | null;
    if (r.status !== 'done' || !s)
      return [
        r.batchSize,
        num(r.lr, 3),
        r.seed,
        r.status,
        r.reason ? r.reason.split('\n')[0]!.slice(0, 60) : '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ];
    const metric = s.final.test.accuracy !== undefined ? pct(s.final.test.accuracy) : num(s.final.test.loss, 4);
    const gap = s.gap.accuracy !== undefined ? `${(s.gap.accuracy * 100).toFixed(2)} pt` : num(s.gap.loss, 3);
    const toTarget = s.target
      ? s.target.reached
        ? `${num(s.target.steps)} / ${duration(s.target.wallMs ?? 0)}`
        : 'not reached'
      : '-';
    const bSimple = s.noise.bSimple !== undefined ? num(s.noise.bSimple, 3) : '-';
    return [
      r.batchSize,
      num(r.lr, 3),
      r.seed,
      'done',
      metric,
      gap,
      toTarget,
      num(s.samplesPerSec),
      num(s.stepMs.median, 3),
      mb(s.peakBytes),
      bSimple,
      num(s.lossNoise, 3),
      s.sharpness ? num(s.sharpness.topEigenvalue, 3) : '-',
    ];
  });
  const metricName = runs.some((r) => (r.summary as unknown as RunSummary | null)?.final.test.accuracy !== undefined)
    ? 'test acc'
    : 'test loss';
  return table(
    [
      'B',
      'lr',
      'seed',
      'status',
      metricName,
      'gap',
      'steps/time to target',
      'samples/s',
      'ms/step',
      'peak MB',
      'B_simple',
      'loss noise',
      'sharpness',
    ],
    rows,
  );
}

/** The findings, each marked as agreeing with or contradicting the seed text. */
export function findingLines(summary: SweepSummary): string {
  const mark = (a: boolean | null) => (a === true ? '  ' : a === false ? '! ' : '  ');
  const lines = summary.findings.map(
    (f) =>
      `${mark(f.agreesWithSeed)}[${f.effect}] ${f.text}${f.agreesWithSeed === false ? ' (contradicts the seed)' : ''}`,
  );
  return ['What this sweep shows:', ...lines].join('\n');
}
