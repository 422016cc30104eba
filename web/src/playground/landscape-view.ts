/**
 * The loss-landscape view: the toy surface of ./landscape.ts as a heat map, the SGD path of each batch size
 * for one seed (drawn step by step), the end points of every seed, and the count "left the sharp minimum
 * in k of n seeds" per batch size, so the seeds where it does not happen are on the screen too.
 */
import { colorForBatch } from '../../../src/report/palette.js';
import { h } from '../dom.js';
import type { ViewContext } from './context.js';
import {
  type EscapeCount,
  escapeCounts,
  lossGrid,
  type Point,
  TOY_START,
  TOY_VIEW,
  type ToyProblem,
  toyProblem,
} from './landscape.js';
import { type LandscapeSettings, readLandscapeSetting, settingText } from './settings.js';
import type { StringKey } from './strings.js';
import { textInputField } from './view-runs.js';

/** Heat-map cells (the surface is smooth: the canvas scales them up). */
const GRID_COLS = 168;
const GRID_ROWS = 104;
/** How long the paths take to draw, ms. */
const ANIMATION_MS = 1500;
const MAX_CANVAS_WIDTH_PX = 960;
/** Low loss dark, high loss light: navy -> blue -> teal -> pale sand. */
const COLOR_STOPS: readonly (readonly [number, number, number])[] = [
  [20, 24, 56],
  [48, 74, 140],
  [86, 140, 176],
  [162, 206, 204],
  [246, 242, 230],
];

/** What the view keeps between draws (the surface is computed once). */
export interface LandscapeState {
  problem?: ToyProblem;
  grid: { values: Float64Array; min: number; max: number } | undefined;
  counts: EscapeCount[] | undefined;
  /** The settings the counts were computed with (a redraw reuses them when unchanged). */
  countsFor?: string;
  shownSeed?: number;
  ready: boolean;
}

function colorAt(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v)) * (COLOR_STOPS.length - 1);
  const i = Math.min(COLOR_STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [COLOR_STOPS[i]!, COLOR_STOPS[i + 1]!];
  return [0, 1, 2].map((k) => Math.round(a[k]! + f * (b[k]! - a[k]!))) as [number, number, number];
}

/** The heat map as an image of GRID_COLS x GRID_ROWS pixels (loss scaled to [0, 1], square root for contrast). */
function heatImage(grid: NonNullable<LandscapeState['grid']>): HTMLCanvasElement {
  const img = new ImageData(GRID_COLS, GRID_ROWS);
  grid.values.forEach((v, i) => {
    const [r, g, b] = colorAt(Math.sqrt((v - grid.min) / (grid.max - grid.min)));
    img.data.set([r, g, b, 255], 4 * i);
  });
  const canvas = document.createElement('canvas');
  canvas.width = GRID_COLS;
  canvas.height = GRID_ROWS;
  canvas.getContext('2d')!.putImageData(img, 0, 0);
  return canvas;
}

/** Canvas pixels of a point of the plane. */
function toPx(canvas: HTMLCanvasElement, p: Point): [number, number] {
  const { xMin, xMax, yMin, yMax } = TOY_VIEW;
  return [((p[0] - xMin) / (xMax - xMin)) * canvas.width, ((yMax - p[1]) / (yMax - yMin)) * canvas.height];
}

function label(ctx2d: CanvasRenderingContext2D, text: string, x: number, y: number, dpr: number): void {
  ctx2d.font = `${13 * dpr}px system-ui, sans-serif`;
  ctx2d.lineWidth = 4 * dpr;
  ctx2d.strokeStyle = 'rgba(255,255,255,0.9)';
  ctx2d.strokeText(text, x, y);
  ctx2d.fillStyle = '#111';
  ctx2d.fillText(text, x, y);
}

/** Draws the surface, the paths of seed `seed` up to `fraction` of their steps, and (at 1) all end points. */
function draw(
  canvas: HTMLCanvasElement,
  state: LandscapeState,
  ctx: ViewContext,
  seed: number,
  fraction: number,
): void {
  const c = canvas.getContext('2d')!;
  const dpr = canvas.width / canvas.clientWidth || 1;
  c.imageSmoothingEnabled = true;
  if (state.grid) c.drawImage(heatImage(state.grid), 0, 0, canvas.width, canvas.height);
  const p = state.problem!;
  for (const [well, key] of [
    [p.sharp, 'landscape.sharp'],
    [p.wide, 'landscape.wide'],
  ] as const) {
    const [x, y] = toPx(canvas, well.center);
    // above the well, clear of the end points that gather in it
    label(c, ctx.t(key), x - 20 * dpr, y - 34 * dpr, dpr);
  }
  for (const count of state.counts ?? []) {
    const path = count.paths.find((q) => q.seed === seed);
    if (!path) continue;
    const last = Math.floor(fraction * (path.points.length / 2 - 1));
    c.beginPath();
    for (let i = 0; i <= last; i++) {
      const [x, y] = toPx(canvas, [path.points[2 * i]!, path.points[2 * i + 1]!]);
      if (i === 0) c.moveTo(x, y);
      else c.lineTo(x, y);
    }
    c.lineJoin = 'round';
    c.lineWidth = 4 * dpr;
    c.strokeStyle = 'rgba(255,255,255,0.85)';
    c.stroke();
    c.lineWidth = 2 * dpr;
    c.strokeStyle = colorForBatch(count.batchSize);
    c.stroke();
  }
  if (fraction >= 1) drawEnds(c, canvas, state.counts ?? [], dpr);
  const [sx, sy] = toPx(canvas, TOY_START);
  c.beginPath();
  c.arc(sx, sy, 7 * dpr, 0, 2 * Math.PI);
  c.lineWidth = 3 * dpr;
  c.strokeStyle = '#fff';
  c.stroke();
  label(c, ctx.t('landscape.start'), sx + 10 * dpr, sy + 4 * dpr, dpr);
  const axisX = ctx.t('landscape.axisX');
  const axisY = ctx.t('landscape.axisY');
  c.font = `${13 * dpr}px system-ui, sans-serif`;
  label(c, axisX, canvas.width - c.measureText(axisX).width - 10 * dpr, canvas.height - 10 * dpr, dpr);
  c.save();
  c.translate(20 * dpr, 10 * dpr + c.measureText(axisY).width);
  c.rotate(-Math.PI / 2);
  label(c, axisY, 0, 0, dpr);
  c.restore();
}

/** The end point of every seed's path, as dots in the colour of its batch size. */
function drawEnds(c: CanvasRenderingContext2D, canvas: HTMLCanvasElement, counts: EscapeCount[], dpr: number): void {
  for (const count of counts) {
    for (const path of count.paths) {
      const n = path.points.length;
      const [x, y] = toPx(canvas, [path.points[n - 2]!, path.points[n - 1]!]);
      c.beginPath();
      c.arc(x, y, 3.5 * dpr, 0, 2 * Math.PI);
      c.fillStyle = colorForBatch(count.batchSize);
      c.fill();
      c.lineWidth = 1 * dpr;
      c.strokeStyle = '#fff';
      c.stroke();
    }
  }
}

/** Computes the surface once and the paths for `settings` (when they changed). */
function compute(state: LandscapeState, settings: LandscapeSettings): void {
  state.problem ??= toyProblem();
  if (!state.grid) {
    const values = lossGrid(state.problem, GRID_COLS, GRID_ROWS);
    state.grid = { values, min: Math.min(...values), max: Math.max(...values) };
  }
  const key = JSON.stringify(settings);
  if (state.countsFor !== key) {
    state.counts = escapeCounts(state.problem, settings);
    state.countsFor = key;
    state.shownSeed = Math.min(state.shownSeed ?? 1, settings.seeds);
  }
}

function countsList(ctx: ViewContext, counts: readonly EscapeCount[]): HTMLElement {
  return h(
    'ul',
    { class: 'pg-counts' },
    counts.map((c) =>
      h('li', { 'data-batch': c.batchSize, 'data-escaped': c.escaped, 'data-seeds': c.seeds }, [
        h('span', { class: 'pg-swatch', style: `background:${colorForBatch(c.batchSize)}`, 'aria-hidden': 'true' }),
        ctx.t(c.escaped === 0 ? 'landscape.countNone' : 'landscape.count', {
          b: c.batchSize,
          k: c.escaped,
          n: c.seeds,
        }),
      ]),
    ),
  );
}

function landscapeField(
  ctx: ViewContext,
  name: keyof LandscapeSettings,
  label: StringKey,
  help?: StringKey,
): HTMLElement {
  return textInputField(ctx, {
    id: `pg-l-${name}`,
    label,
    help,
    value: settingText(ctx.settings.landscape[name]),
    inputMode: name === 'batchSizes' ? 'text' : 'decimal',
    apply: (text) => {
      const value = readLandscapeSetting(name, text);
      if (value !== undefined) {
        ctx.actions.change(
          { ...ctx.settings, landscape: { ...ctx.settings.landscape, [name]: value } },
          { redraw: false },
        );
      }
      return value !== undefined;
    },
  });
}

/** The parts of the view that a (re)draw updates. */
interface LandscapeParts {
  canvas: HTMLCanvasElement;
  counts: HTMLElement;
  seedInput: HTMLInputElement;
}

/**
 * Computes (when the settings changed) and draws the paths, animated over ANIMATION_MS or at once;
 * returns a function that cancels the animation.
 */
function showPaths(
  ctx: ViewContext,
  state: LandscapeState,
  parts: LandscapeParts,
  animate: boolean,
  onUpdate: () => void,
): () => void {
  let animation = 0;
  let cancelled = false;
  state.ready = false;
  onUpdate();
  // Let the browser paint the page before the few hundred ms of arithmetic.
  setTimeout(() => {
    if (cancelled) return;
    compute(state, ctx.settings.landscape);
    parts.seedInput.max = String(ctx.settings.landscape.seeds);
    parts.seedInput.value = String(state.shownSeed);
    parts.counts.replaceChildren(countsList(ctx, state.counts ?? []));
    sizeCanvas(parts.canvas);
    const t0 = performance.now();
    const frame = () => {
      const fraction = animate ? Math.min(1, (performance.now() - t0) / ANIMATION_MS) : 1;
      draw(parts.canvas, state, ctx, state.shownSeed ?? 1, fraction);
      if (fraction < 1) animation = requestAnimationFrame(frame);
      else {
        state.ready = true;
        onUpdate();
      }
    };
    frame();
  }, 0);
  return () => {
    cancelled = true;
    cancelAnimationFrame(animation);
  };
}

/** The settings form of the paths, with the seed whose paths are drawn. */
function landscapeForm(ctx: ViewContext, seedInput: HTMLInputElement, run: () => void): HTMLElement {
  const { t } = ctx;
  return h(
    'form',
    {
      class: 'pg-controls',
      'aria-label': t('landscape.controls'),
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        run();
      },
    },
    [
      h('div', { class: 'pg-fields' }, [
        landscapeField(ctx, 'batchSizes', 'landscape.batchSizes', 'landscape.batchSizes.help'),
        landscapeField(ctx, 'lr', 'landscape.lr'),
        landscapeField(ctx, 'steps', 'landscape.steps'),
        landscapeField(ctx, 'seeds', 'landscape.seeds'),
        h('div', { class: 'pg-field' }, [h('label', { for: 'pg-l-seed', text: t('landscape.showSeed') }), seedInput]),
      ]),
      h('div', { class: 'pg-buttons' }, [
        h('button', { type: 'submit', class: 'pg-primary', id: 'pg-l-run', text: t('landscape.run') }),
      ]),
    ],
  );
}

/**
 * The landscape section. On first show it computes the paths and animates them; `onUpdate` runs when the
 * counts or the drawing change (the page publishes them).
 */
export function landscapeView(ctx: ViewContext, state: LandscapeState, onUpdate: () => void): HTMLElement {
  const { t } = ctx;
  const parts: LandscapeParts = {
    canvas: h('canvas', { class: 'pg-landscape', role: 'img', 'aria-label': t('landscape.canvas') }),
    counts: h('div', { class: 'pg-counts-holder', 'aria-live': 'polite' }),
    seedInput: h('input', { id: 'pg-l-seed', type: 'number', min: 1, value: state.shownSeed ?? 1 }),
  };
  let cancel = () => {};
  const show = (animate: boolean) => {
    cancel();
    cancel = showPaths(ctx, state, parts, animate, onUpdate);
  };
  parts.seedInput.addEventListener('change', () => {
    const seed = Number(parts.seedInput.value);
    if (!Number.isInteger(seed) || seed < 1 || seed > ctx.settings.landscape.seeds) return;
    state.shownSeed = seed;
    show(true);
  });
  requestAnimationFrame(() => show(state.counts === undefined));
  return h('section', { class: 'pg-landscape-view', 'aria-labelledby': 'pg-landscape-h' }, [
    h('h2', { id: 'pg-landscape-h', text: t('landscape.heading') }),
    h('p', { class: 'pg-lead', text: t('landscape.lead') }),
    landscapeForm(ctx, parts.seedInput, () => show(true)),
    h('div', { class: 'pg-landscape-box' }, [parts.canvas]),
    parts.counts,
    h('p', { class: 'pg-why', text: t('landscape.why') }),
    h('p', { class: 'pg-honest', text: t('landscape.honest') }),
  ]);
}

/** Sizes the canvas to its box (at most MAX_CANVAS_WIDTH_PX wide, the plane's aspect ratio), in device pixels. */
function sizeCanvas(canvas: HTMLCanvasElement): void {
  const { xMin, xMax, yMin, yMax } = TOY_VIEW;
  const width = Math.min(MAX_CANVAS_WIDTH_PX, canvas.parentElement?.clientWidth ?? MAX_CANVAS_WIDTH_PX);
  const height = Math.round((width * (yMax - yMin)) / (xMax - xMin));
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
}
