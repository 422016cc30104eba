/** Saving a chart: PNG of its canvas, SVG rebuilt from the series data and uPlot's scales. */
import type uPlot from 'uplot';
import { num } from '../../src/core/format.js';
import { isNum } from './json.js';
import type { ChartSpec, Marker } from './spec.js';

/** Height of the title line above the plot, in CSS px. */
const TITLE_PX = 24;
/** Legend entries per row in an SVG, and their spacing. */
const LEGEND_COLUMNS = 3;
const LEGEND_COLUMN_PX = 200;
const LEGEND_ROW_PX = 16;
const MARKER_COLOR = '#555';

/** PNG of the plot canvas on a white background, with the title above it, as a data: URL. */
export function chartPng(u: uPlot, spec: ChartSpec): string {
  const src = u.ctx.canvas;
  const dpr = window.devicePixelRatio || 1;
  const titleH = TITLE_PX * dpr;
  const c = document.createElement('canvas');
  c.width = src.width;
  c.height = src.height + titleH;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#000000';
  ctx.font = `${13 * dpr}px sans-serif`;
  ctx.fillText(spec.title, 8 * dpr, 16 * dpr);
  ctx.drawImage(src, 0, titleH);
  return c.toDataURL('image/png');
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function escXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => XML_ESCAPES[c]!);
}

/** An SVG element from a tag, attributes and optional text content (escaped). */
function el(tag: string, attrs: Record<string, string | number>, text?: string): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escXml(typeof v === 'number' ? String(Math.round(v * 10) / 10) : v)}"`)
    .join('');
  return text === undefined ? `<${tag}${a}/>` : `<${tag}${a}>${escXml(text)}</${tag}>`;
}

/** The plot area in CSS px within the SVG (below the title). */
interface Box {
  L: number;
  T: number;
  W: number;
  H: number;
}

/** Runs of consecutive points of series `si` in SVG coordinates; a null value breaks a run. */
function segmentsOf(u: uPlot, si: number, box: Box): [number, number][][] {
  const xs = u.data[0];
  const ys = u.data[si]!;
  const segs: [number, number][][] = [];
  let seg: [number, number][] = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y === null) {
      if (seg.length) segs.push(seg);
      seg = [];
      continue;
    }
    if (y === undefined) continue;
    seg.push([box.L + u.valToPos(xs[i]!, 'x'), box.T + u.valToPos(y, 'y')]);
  }
  if (seg.length) segs.push(seg);
  return segs;
}

function seriesSvg(u: uPlot, spec: ChartSpec, box: Box): string[] {
  const parts: string[] = [];
  u.series.forEach((s, si) => {
    if (si === 0 || s.show === false) return;
    const sp = spec.series[si - 1]!;
    parts.push(...intervalSvg(u, sp, box, !!spec.yLog));
    for (const pts of segmentsOf(u, si, box)) {
      if (sp.points) {
        for (const [cx, cy] of pts)
          parts.push(el('circle', { cx, cy, r: 4, fill: sp.hollow ? 'none' : sp.color, stroke: sp.color }));
      } else {
        parts.push(
          el('polyline', {
            fill: 'none',
            stroke: sp.color,
            'stroke-width': '1.25',
            ...(sp.dash ? { 'stroke-dasharray': sp.dash.join(' ') } : {}),
            points: pts.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(' '),
          }),
        );
      }
    }
  });
  return parts;
}

/**
 * A series' intervals in SVG: error bars (lines) on a point series, a translucent band on a line series. On a
 * log y axis the ends are clipped to the plotted range, as on the canvas (a low end <= 0 has no position).
 */
function intervalSvg(u: uPlot, sp: ChartSpec['series'][number], box: Box, logY: boolean): string[] {
  const pts: [number, number, number][] = [];
  const [min, max] = [u.scales.y?.min, u.scales.y?.max];
  const clip = (y: number): number => (logY && isNum(min) && isNum(max) ? Math.min(Math.max(y, min), max) : y);
  sp.xs.forEach((x, i) => {
    const lo = sp.low?.[i];
    const hi = sp.high?.[i];
    if (!isNum(x) || !isNum(lo) || !isNum(hi)) return;
    const at = (y: number): number => box.T + u.valToPos(clip(y), 'y');
    pts.push([box.L + u.valToPos(x, 'x'), at(lo), at(hi)]);
  });
  if (pts.length === 0) return [];
  if (sp.points) return pts.map(([x, lo, hi]) => el('line', { x1: x, y1: lo, x2: x, y2: hi, stroke: sp.color }));
  const outline = [...pts.map(([x, , hi]) => [x, hi]), ...pts.reverse().map(([x, lo]) => [x, lo])];
  return [
    el('polygon', {
      fill: sp.color,
      'fill-opacity': '0.15',
      stroke: 'none',
      points: outline.map((p) => `${p[0]!.toFixed(1)},${p[1]!.toFixed(1)}`).join(' '),
    }),
  ];
}

function markerSvg(u: uPlot, m: Marker, box: Box): string[] {
  const p = u.valToPos(m.value, m.axis);
  if (!isNum(p)) return [];
  const [x1, y1, x2, y2] =
    m.axis === 'x' ? [box.L + p, box.T, box.L + p, box.T + box.H] : [box.L, box.T + p, box.L + box.W, box.T + p];
  const color = m.color ?? MARKER_COLOR;
  return [
    el('line', { x1, y1, x2, y2, stroke: color, 'stroke-dasharray': '5 4' }),
    el('text', { x: x1 + 4, y: y1 + (m.axis === 'x' ? 12 : -4), fill: color }, m.label),
  ];
}

/** Axis extents (min and max of each scale) and the axis labels. */
function axesSvg(u: uPlot, spec: ChartSpec, { L, T, W, H }: Box): string[] {
  const sx = u.scales.x!;
  const sy = u.scales.y!;
  return [
    el('text', { x: L, y: T + H + 14 }, num(sx.min)),
    el('text', { x: L + W, y: T + H + 14, 'text-anchor': 'end' }, num(sx.max)),
    el('text', { x: L + W / 2, y: T + H + 28, 'text-anchor': 'middle' }, spec.xLabel),
    el('text', { x: L - 4, y: T + H, 'text-anchor': 'end' }, num(sy.min)),
    el('text', { x: L - 4, y: T + 10, 'text-anchor': 'end' }, num(sy.max)),
    el('text', { transform: `translate(12,${T + H / 2}) rotate(-90)`, 'text-anchor': 'middle' }, spec.yLabel),
  ];
}

function legendSvg(spec: ChartSpec, legendTop: number): string[] {
  return spec.series.flatMap((s, i) => {
    const x = 10 + (i % LEGEND_COLUMNS) * LEGEND_COLUMN_PX;
    const y = legendTop + LEGEND_ROW_PX * Math.floor(i / LEGEND_COLUMNS);
    return [el('rect', { x, y: y - 9, width: 10, height: 10, fill: s.color }), el('text', { x: x + 14, y }, s.label)];
  });
}

/** An SVG built from the series data and uPlot's scales: polylines, points, markers, axis extents, legend. */
export function chartSvg(u: uPlot, spec: ChartSpec): string {
  const dpr = window.devicePixelRatio || 1;
  const box: Box = {
    L: u.bbox.left / dpr,
    T: u.bbox.top / dpr + TITLE_PX,
    W: u.bbox.width / dpr,
    H: u.bbox.height / dpr,
  };
  const width = Math.round(box.L + box.W + 20);
  const legendTop = box.T + box.H + 40;
  const height = Math.round(legendTop + LEGEND_ROW_PX * Math.ceil(spec.series.length / LEGEND_COLUMNS) + 10);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    el('text', { x: 8, y: 16, 'font-size': 13 }, spec.title),
    el('rect', { x: box.L, y: box.T, width: box.W, height: box.H, fill: 'none', stroke: '#999' }),
    ...seriesSvg(u, spec, box),
    ...spec.markers.flatMap((m) => markerSvg(u, m, box)),
    ...axesSvg(u, spec, box),
    ...legendSvg(spec, legendTop),
    '</svg>',
  ].join('\n');
}
