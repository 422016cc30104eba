/** A chart spec (./spec.ts) as uPlot options and aligned data. */
import uPlot from 'uplot';
import { num } from '../../src/core/format.js';
import { isNum } from './json.js';
import type { ChartSpec, Marker, SeriesSpec } from './spec.js';

export const CHART_HEIGHT_PX = 300;
const MARKER_COLOR = '#555555';
/** A batch-size axis spans its points and markers widened by this factor each way. */
const BATCH_AXIS_MARGIN = 1.5;

/** Aligned uPlot data: one shared x column, undefined where a series has no point (spanned, not a gap). */
export function alignedData(spec: ChartSpec, logX: boolean): uPlot.AlignedData {
  const tables = spec.series.map((s): [number[], (number | null | undefined)[]] => {
    const xs: number[] = [];
    const ys: (number | null | undefined)[] = [];
    for (let i = 0; i < s.xs.length; i++) {
      const x = s.xs[i];
      let y = s.ys[i];
      if (!isNum(x) || (logX && x <= 0)) continue;
      if (spec.yLog && isNum(y) && y <= 0) y = undefined;
      xs.push(x);
      ys.push(y === undefined ? undefined : isNum(y) ? y : null);
    }
    return [xs, ys];
  });
  // uPlot.join needs every table non-empty; an empty one gets a placeholder at an x that exists
  const anyX = tables.find((t) => t[0].length > 0)?.[0][0] ?? 0;
  for (const t of tables) {
    if (t[0].length > 0) continue;
    t[0].push(anyX);
    t[1].push(undefined);
  }
  return uPlot.join(tables as uPlot.AlignedData[]);
}

/** Batch-size axis ticks: the powers of two inside the scale. */
function powersOfTwo(_u: uPlot, _axisIdx: number, min: number, max: number): number[] {
  const out: number[] = [];
  for (let p = Math.ceil(Math.log2(min)); 2 ** p <= max; p++) out.push(2 ** p);
  return out;
}

/** Tick labels: 12k, 1.5M for large values so dense axes stay readable. */
function axisValues(_u: uPlot, splits: number[]): string[] {
  return splits.map((v) => {
    if (v === null || v === undefined) return '';
    const a = Math.abs(v);
    if (a >= 1e6) return `${num(v / 1e6, 3)}M`;
    if (a >= 1e4) return `${num(v / 1e3, 3)}k`;
    return num(v, 3);
  });
}

/** Draws one marker line and its label on the plot's canvas. */
function drawMarker(u: uPlot, m: Marker): void {
  const pos = u.valToPos(m.value, m.axis === 'x' ? 'x' : 'y', true);
  if (!isNum(pos)) return;
  const { ctx } = u;
  const dpr = window.devicePixelRatio || 1;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.strokeStyle = m.color ?? MARKER_COLOR;
  ctx.fillStyle = m.color ?? MARKER_COLOR;
  ctx.setLineDash([5 * dpr, 4 * dpr]);
  ctx.lineWidth = 1.5 * dpr;
  ctx.beginPath();
  if (m.axis === 'x') {
    ctx.moveTo(pos, top);
    ctx.lineTo(pos, top + height);
  } else {
    ctx.moveTo(left, pos);
    ctx.lineTo(left + width, pos);
  }
  ctx.stroke();
  ctx.font = `${11 * dpr}px sans-serif`;
  ctx.textAlign = 'left'; // uPlot leaves the last axis' alignment on the context
  ctx.textBaseline = 'alphabetic';
  if (m.axis === 'x') {
    ctx.fillText(m.label, Math.min(pos + 4 * dpr, left + width - ctx.measureText(m.label).width), top + 12 * dpr);
  } else {
    ctx.fillText(m.label, left + 4 * dpr, pos - 4 * dpr);
  }
  ctx.restore();
}

/** Opacity of an interval band's fill. */
const BAND_ALPHA = 0.15;
/** Half-width of an error bar's caps, in CSS px. */
const CAP_PX = 4;

/** The (x, low, high) triples of a series with finite ends, the low end clipped to a log scale's floor. */
function intervalPoints(s: SeriesSpec, floor: number | null): [number, number, number][] {
  const out: [number, number, number][] = [];
  s.xs.forEach((x, i) => {
    const lo = s.low?.[i];
    const hi = s.high?.[i];
    if (!isNum(x) || !isNum(lo) || !isNum(hi)) return;
    out.push([x, floor === null ? lo : Math.max(lo, floor), hi]);
  });
  return out;
}

/** An error bar with caps at x from lo to hi (canvas px). */
function drawBar(ctx: CanvasRenderingContext2D, x: number, lo: number, hi: number, cap: number): void {
  ctx.beginPath();
  ctx.moveTo(x, lo);
  ctx.lineTo(x, hi);
  ctx.moveTo(x - cap, lo);
  ctx.lineTo(x + cap, lo);
  ctx.moveTo(x - cap, hi);
  ctx.lineTo(x + cap, hi);
  ctx.stroke();
}

/** A shaded band through the (x, low, high) points (canvas px). */
function drawBand(ctx: CanvasRenderingContext2D, pts: [number, number, number][]): void {
  ctx.beginPath();
  pts.forEach(([x, , hi], i) => (i === 0 ? ctx.moveTo(x, hi) : ctx.lineTo(x, hi)));
  for (const [x, lo] of pts.slice().reverse()) ctx.lineTo(x, lo);
  ctx.closePath();
  ctx.fill();
}

/** Each series' intervals: error bars on point series, a band on line series; hidden series are skipped. */
function intervalsPlugin(spec: ChartSpec): uPlot.Plugin {
  const draw = (u: uPlot): void => {
    const { ctx } = u;
    const dpr = window.devicePixelRatio || 1;
    const floor = spec.yLog ? (u.scales.y?.min ?? null) : null;
    ctx.save();
    spec.series.forEach((s, i) => {
      if (s.low === undefined || u.series[i + 1]?.show === false) return;
      const px = intervalPoints(s, floor).map(([x, lo, hi]): [number, number, number] => [
        u.valToPos(x, 'x', true),
        u.valToPos(lo, 'y', true),
        u.valToPos(hi, 'y', true),
      ]);
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 1.25 * dpr;
      if (s.points) for (const [x, lo, hi] of px) drawBar(ctx, x, lo, hi, CAP_PX * dpr);
      else {
        ctx.globalAlpha = BAND_ALPHA;
        drawBand(ctx, px);
        ctx.globalAlpha = 1;
      }
    });
    ctx.restore();
  };
  return { hooks: { draw: [draw] } };
}

/**
 * A y range that holds the interval ends as well as the data (linear scales; a log scale keeps its own), but
 * reaches at most one data span beyond the data: a run of a few steps can have an interval far wider than
 * every value, and its bar is then drawn clipped at the edge rather than flattening every other point.
 */
function yScale(spec: ChartSpec): uPlot.Scale {
  if (spec.yLog) return { distr: 3, log: 10 };
  const ends = spec.series.flatMap((s) => [...(s.low ?? []), ...(s.high ?? [])]).filter(isNum);
  if (ends.length === 0) return {};
  return {
    range: (_u, min, max) => {
      const span = Math.max(max - min, Math.abs(max) * 0.01, 1e-12);
      const lo = Math.max(Math.min(min, ...ends), min - span);
      const hi = Math.min(Math.max(max, ...ends), max + span);
      return uPlot.rangeNum(lo, hi, 0.1, true);
    },
  };
}

/** Vertical (axis 'x') and horizontal (axis 'y') marker lines with a label. */
function markersPlugin(markers: readonly Marker[]): uPlot.Plugin {
  return { hooks: { draw: [(u) => markers.forEach((m) => drawMarker(u, m))] } };
}

function uplotSeries(s: SeriesSpec, spec: ChartSpec): uPlot.Series {
  const out: uPlot.Series = { label: s.label, stroke: s.color, width: s.fit ? 1.5 : 1.25, spanGaps: false };
  if (s.dash) out.dash = s.dash;
  if (s.points) {
    out.paths = () => null;
    out.points = {
      show: true,
      size: s.hollow ? 11 : 9,
      stroke: s.color,
      fill: s.hollow ? 'rgba(255,255,255,0)' : s.color,
      width: s.hollow ? 2 : 1,
    };
  } else {
    out.points = { show: !!spec.showPoints, size: 5 };
  }
  return out;
}

function xScale(spec: ChartSpec, logX: boolean): uPlot.Scale {
  const scale: uPlot.Scale = { time: false };
  if (logX) {
    scale.distr = 3;
    scale.log = spec.xLogBase === 2 ? 2 : 10;
  }
  if (spec.batchAxis) {
    // markers (saturation, B_crit) outside the measured batch sizes must still be on the chart
    const marks = spec.markers.filter((m) => m.axis === 'x').map((m) => m.value);
    scale.range = (_u, min, max) => [
      Math.min(min, ...marks) / BATCH_AXIS_MARGIN,
      Math.max(max, ...marks) * BATCH_AXIS_MARGIN,
    ];
  }
  return scale;
}

/** uPlot options for `spec` at `widthPx`; `onDrawn` runs after each draw. */
export function uplotOptions(spec: ChartSpec, widthPx: number, logX: boolean, onDrawn: () => void): uPlot.Options {
  return {
    width: widthPx,
    height: CHART_HEIGHT_PX,
    legend: { live: false },
    scales: { x: xScale(spec, logX), y: yScale(spec) },
    axes: [
      {
        label: spec.xLabel,
        values: axisValues,
        space: spec.batchAxis ? 40 : 55,
        splits: spec.batchAxis ? powersOfTwo : undefined,
      },
      { label: spec.yLabel, values: axisValues, size: 60 },
    ],
    series: [{ label: spec.xLabel }, ...spec.series.map((s) => uplotSeries(s, spec))],
    plugins: [intervalsPlugin(spec), markersPlugin(spec.markers)],
    hooks: { draw: [onDrawn] },
  };
}
