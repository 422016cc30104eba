/** The sweep tables and the "What this sweep shows" lines, shared by `sweep`, `show` and `demo`. */
import { plusMinus, points } from '../core/format.js';
import { batchTableCells } from '../core/batch-stats.js';
import type { BatchStats, Finding, RunSummary, SweepSummary } from '../core/summary.js';
import type { Run } from '../store/index.js';
import { duration, mb, num, table } from './format.js';

/** Terminal width the findings are wrapped to. */
const WRAP_COLUMNS = 118;
/** Width of the verdict column in front of each finding. */
const VERDICT_COLUMN = 15;

/** A run's own interval as "value ±half" (the value alone without one). */
function own(
  estimate: number,
  interval: { low: number; high: number } | undefined,
  fmt: (x: number) => string,
  unit = '',
): string {
  return plusMinus({ estimate, ...(interval ?? {}) }, fmt, unit);
}

/** One row per run: batch size, its learning rate, and what was measured (± the run's own 95% interval). */
export function sweepTable(runs: readonly Run[]): string {
  const rows = runs.map((r) => {
    const s = r.summary as unknown as RunSummary | null;
    if (r.status !== 'done' || !s)
      return [r.batchSize, num(r.lr, 3), r.seed, r.status, r.reason ? r.reason.split('\n')[0]!.slice(0, 60) : ''];
    const acc = s.final.test.accuracy;
    const metric = acc !== undefined ? own(acc, s.intervals?.testAccuracy, points, '%') : num(s.final.test.loss, 4);
    const gap = s.gap.accuracy !== undefined ? `${points(s.gap.accuracy)} pt` : num(s.gap.loss, 3);
    const toTarget = s.target
      ? s.target.reached
        ? `${num(s.target.steps)} / ${duration(s.target.wallMs ?? 0)}`
        : 'not reached'
      : '-';
    return [
      r.batchSize,
      num(r.lr, 3),
      r.seed,
      'done',
      metric,
      gap,
      toTarget,
      num(s.samplesPerSec),
      own(s.stepMs.median, s.intervals?.stepMs, (x) => num(x, 3)),
      mb(s.peakBytes),
      s.noise.bSimple !== undefined ? num(s.noise.bSimple, 3) : '-',
      own(s.lossNoise, s.intervals?.lossNoise, (x) => num(x, 3)),
      s.sharpness ? num(s.sharpness.topEigenvalue, 3) : '-',
    ];
  });
  const metricName = runs.some((r) => (r.summary as unknown as RunSummary | null)?.final.test.accuracy !== undefined)
    ? 'held-out acc'
    : 'held-out loss';
  const header = ['B', 'lr', 'seed', 'status', metricName, 'gap', 'steps/time to target', 'samples/s', 'ms/step'];
  return table([...header, 'peak MB', 'B_simple', 'loss noise', 'sharpness'], rows);
}

/** Per batch size, the mean over seeds of each metric "±" the half-width of its 95% interval. */
export function batchTable(perBatch: readonly BatchStats[]): string {
  const { header, rows } = batchTableCells(perBatch);
  // The first two columns are counts: right-aligned as numbers.
  return table(
    header,
    rows.map((r) => r.map((cell, i) => (i < 2 ? Number(cell) : cell))),
  );
}

/** What the ± of a table means, in one line. */
function intervalNote(seeds: number): string {
  return seeds >= 2
    ? `Mean over ${seeds} seeds per batch size; \u00b1 is half the 95% Student-t interval across seeds.`
    : "\u00b1 is half the run's own 95% interval: Wilson on the held-out samples for accuracy, block bootstrap over steps for ms/step and loss noise.";
}

/**
 * The tables a sweep prints: with one seed, the runs (± their own intervals); with several, the mean per
 * batch size (± the t interval across seeds), each run then being one `batchlab show ID` away.
 */
export function sweepTables(runs: readonly Run[], summary: SweepSummary, id: number): string {
  const seeds = Math.max(0, ...(summary.perBatch ?? []).map((b) => b.runs));
  if (seeds < 2 || summary.perBatch === undefined) return `${sweepTable(runs)}\n${intervalNote(1)}`;
  return [
    batchTable(summary.perBatch),
    intervalNote(seeds),
    `Each of the ${runs.length} runs, with its own intervals: batchlab show ${id}`,
  ].join('\n');
}

/** The verdict column: the data agree with the usual advice, contradict it (!), or cannot tell (?). */
function verdictLabel(f: Finding): string {
  if (f.predatesVerdicts) return '  (not tested)';
  if (f.verdict === 'agrees') return '  agrees';
  if (f.verdict === 'contradicts') return '! contradicts';
  if (f.verdict === 'inconclusive') return '? inconclusive';
  return '';
}

/** Words of `text` in lines of at most `width` characters (a longer word stands alone). */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The findings, each after its verdict on the usual advice, wrapped under a hanging indent. */
export function findingLines(summary: SweepSummary): string {
  const indent = ' '.repeat(VERDICT_COLUMN);
  const lines = summary.findings.map((f) => {
    const old = f.predatesVerdicts
      ? ' (stored by an older batchlab, before verdicts: an endpoint comparison of one seed, not a test)'
      : '';
    const body = wrapWords(`[${f.effect}] ${f.text}${old}`, WRAP_COLUMNS - VERDICT_COLUMN);
    return body.map((l, i) => (i === 0 ? verdictLabel(f).padEnd(VERDICT_COLUMN) : indent) + l).join('\n');
  });
  const budget = summary.budget ? ` (budget: ${summary.budget})` : '';
  return [`What this sweep shows, claim by claim of the usual advice about batch size${budget}:`, ...lines].join('\n');
}
