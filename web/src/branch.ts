/**
 * A branch experiment's page (lab/branch, core/branch-summary.ts): the critical batch measured at each
 * checkpoint next to B_simple over the same windows, with their intervals, against training progress
 * (samples seen, and the base run's held-out loss); and a section with the proxy verdict, the per-checkpoint
 * lines, the recommended schedule with its reasons, and what the measurement cost.
 */
import { num } from '../../src/core/format.js';
import { h } from './dom.js';
import { at, isNum, isRecord, numAt } from './json.js';
import type { ChartSpec, SeriesSpec } from './spec.js';

const BRANCH_COLOR = '#1f77b4';
const NOISE_COLOR = '#d62728';

/** One checkpoint as stored (BranchSummary.points); anything missing reads as "not measured". */
interface Point {
  samples: number;
  baseLoss: number | null;
  status: string;
  low: number;
  /** null: unbounded (every branch was within tolerance, or the noise left it open). */
  high: number | null;
  bSimple: number | null;
  noiseLow: number | null;
  noiseHigh: number | null;
}

/** The stored points, in order of samples. */
function pointsOf(summary: Record<string, unknown>): Point[] {
  const raw = Array.isArray(summary['points']) ? summary['points'].filter(isRecord) : [];
  return raw
    .map((p) => ({
      samples: numAt(p, 'samples') ?? Number.NaN,
      baseLoss: numAt(p, 'baseLoss') ?? null,
      status: String(at(p, 'critical.status') ?? ''),
      low: numAt(p, 'critical.low') ?? Number.NaN,
      high: numAt(p, 'critical.high') ?? null,
      bSimple: numAt(p, 'noise.bSimple') ?? null,
      noiseLow: numAt(p, 'noise.low') ?? null,
      noiseHigh: numAt(p, 'noise.high') ?? null,
    }))
    .filter((p) => isNum(p.samples) && isNum(p.low))
    .sort((a, b) => a.samples - b.samples);
}

/** The branch rule's points: filled where measured, hollow where only a range is known. */
function branchSeries(points: Point[], xs: (number | null)[], measured: boolean): SeriesSpec {
  const keep = points.map((p) => (p.status === 'measured') === measured);
  return {
    label: measured ? 'critical batch (branches)' : 'critical batch: at least / cannot tell',
    color: BRANCH_COLOR,
    points: true,
    hollow: !measured,
    xs: xs.filter((_, i) => keep[i]),
    ys: points.filter((_, i) => keep[i]).map((p) => p.low),
    // An open range ("at least"): no bar, the hollow point alone says it.
    low: points.filter((_, i) => keep[i]).map((p) => (p.high === null ? null : p.low)),
    high: points.filter((_, i) => keep[i]).map((p) => p.high),
  };
}

function noiseSeries(points: Point[], xs: (number | null)[]): SeriesSpec {
  const keep = points.map((p) => p.bSimple !== null && p.bSimple > 0);
  return {
    label: 'B_simple (noise scale)',
    color: NOISE_COLOR,
    points: true,
    xs: xs.filter((_, i) => keep[i]),
    ys: points.filter((_, i) => keep[i]).map((p) => p.bSimple),
    low: points.filter((_, i) => keep[i]).map((p) => p.noiseLow),
    high: points.filter((_, i) => keep[i]).map((p) => p.noiseHigh),
  };
}

/** The curve against samples seen and against the base run's loss, both with B_simple beside it. */
export function branchSpecs(summary: Record<string, unknown>): ChartSpec[] {
  const points = pointsOf(summary);
  if (points.length === 0) return [];
  const verdict = String(at(summary, 'proxy.text') ?? '');
  const note =
    'Blue: the largest branch batch whose held-out loss after the window stays within the tolerance of the base run (bar: the range the ' +
    'critical batch lies in; hollow: "cannot tell", or, without a bar, only a lower end). Red: B_simple over the same windows with its confidence interval. ' +
    verdict;
  const chart = (id: string, xs: (number | null)[], o: Pick<ChartSpec, 'title' | 'xLabel' | 'xLog'>): ChartSpec => ({
    id,
    section: 'Stability',
    note,
    yLabel: 'batch size (log)',
    yLog: true,
    xLogToggle: true,
    showPoints: true,
    ...o,
    series: [branchSeries(points, xs, true), branchSeries(points, xs, false), noiseSeries(points, xs)],
    markers: [],
  });
  return [
    chart(
      'critical-samples',
      points.map((p) => p.samples),
      {
        title: 'The critical batch over training, measured by branching, beside B_simple: vs samples seen',
        xLabel: 'samples seen at the checkpoint (log)',
        xLog: true,
      },
    ),
    chart(
      'critical-loss',
      points.map((p) => p.baseLoss),
      {
        title: 'The critical batch against the loss: vs the base run\u2019s held-out loss at the checkpoint',
        xLabel: 'base run held-out loss at the checkpoint',
        xLog: false,
      },
    ),
  ];
}

/** The verdict badge, the checkpoint lines, the schedule with a reason per change, and the compute. */
export function branchSection(summary: Record<string, unknown>): HTMLElement | null {
  const proxy = at(summary, 'proxy');
  if (!isRecord(proxy)) return null;
  const verdict = String(proxy['verdict'] ?? 'cannot-tell');
  const cls = verdict === 'agrees' ? 'agrees' : verdict === 'differs' ? 'contradicts' : 'undecided';
  const badge =
    verdict === 'agrees' ? 'noise scale agrees' : verdict === 'differs' ? 'noise scale differs' : 'cannot tell';
  const lines = pointsOf(summary).length;
  const texts = Array.isArray(summary['points'])
    ? summary['points'].filter(isRecord).map((p) => String(at(p, 'critical.text') ?? ''))
    : [];
  const changes = Array.isArray(at(summary, 'schedule.changes'))
    ? (at(summary, 'schedule.changes') as unknown[]).filter(isRecord)
    : [];
  return h('section', { class: 'bl-card', id: 'branch' }, [
    h('h2', { text: `Critical batch over training (${lines} checkpoint${lines === 1 ? '' : 's'})` }),
    h('ul', { class: 'bl-findings' }, [
      h('li', { class: `bl-finding bl-${cls}`, 'data-verdict': verdict }, [
        h('span', { class: 'bl-badge', text: badge }),
        ` ${String(proxy['text'] ?? '')}`,
      ]),
      ...texts.map((t) => h('li', { class: 'bl-finding', text: t })),
    ]),
    h('h3', { text: 'Recommended batch-size schedule' }),
    h('p', {}, [
      h('code', { id: 'branch-schedule', text: `--batch-schedule "${String(at(summary, 'schedule.text') ?? '')}"` }),
    ]),
    h(
      'ol',
      { class: 'bl-schedule' },
      changes.map((c) => h('li', { text: `${num(numAt(c, 'atSamples'))} samples: ${String(c['reason'] ?? '')}` })),
    ),
    h('p', { class: 'bl-hint', text: String(at(summary, 'compute.text') ?? '') }),
  ]);
}
