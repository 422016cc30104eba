/**
 * The page of a report and of the dashboard: ReportData (src/report/types.ts) in, the page out (header,
 * recommendation, "What this sweep shows", charts, runs table, settings), drawn with uPlot.
 *
 * All state of one mounted page lives in one `Page` object that the named functions below take; nothing
 * is module-level. Chart state for tests and tools is published on window.__batchlab:
 * { ready, drawnMs, renderMs, mode, charts: [{ id, title, batchSizes, series, markers }] }.
 */
import uPlot from 'uplot';
import type { LiveStepColumns, ReportData } from '../../src/report/types.js';
import { download, h } from './dom.js';
import { chartPng, chartSvg } from './export.js';
import { isNum } from './json.js';
import { addSteps, appendColumns, emptyColumns, mergeLiveTails } from './live.js';
import { branchSection } from './branch.js';
import { findingsSection, headerSection, recommendationSection, runsSection, settingsSection } from './sections.js';
import type { ChartSpec, PageMode, Published, PublishedChart } from './spec.js';
import { buildSpecs } from './specs.js';
import { alignedData, CHART_HEIGHT_PX, uplotOptions } from './uplot.js';

/** Live points are drawn in batches: a timer, not requestAnimationFrame, so background tabs keep up. */
const REFRESH_DELAY_MS = 100;
/** Charts sit two per row from this page width (px) up. */
const TWO_COLUMNS_FROM_PX = 1100;
const MIN_CHART_WIDTH_PX = 320;

/** One drawn chart. */
interface ChartEntry {
  spec: ChartSpec;
  u: uPlot;
  logX: boolean;
  card: HTMLElement;
}

declare global {
  interface Window {
    __batchlab?: Published;
  }
}

/** Everything one mounted page holds. */
interface Page {
  root: HTMLElement;
  mode: PageMode;
  data: ReportData;
  /** Ticked runs; empty = all. */
  selected: Set<number>;
  /** The user's log-x choice per chart id. */
  logX: Map<string, boolean>;
  charts: ChartEntry[];
  /** Live steps per run since the data was loaded (kept across reloads, see mergeLiveTails). */
  liveTail: Map<number, LiveStepColumns>;
  refreshTimer: ReturnType<typeof setTimeout> | null;
  chartsEl: HTMLElement;
  runsEl: HTMLElement;
  published: Published;
}

/** What the dashboard calls on a mounted page. */
export interface MountedApp {
  /** Replaces the data (a run finished, a new run started), keeping steps that arrived live after it. */
  update(next: ReportData): void;
  /** Appends live steps of run `runId`; returns how many were new. */
  appendSteps(runId: number, cols: LiveStepColumns): number;
  /** Points the page holds for one run (the dashboard refetches downsampled data when it grows large). */
  pointsOf(runId: number): number;
  destroy(): void;
}

/** Draws `data` into `root` and returns the handle the dashboard updates it through. */
export function mount(root: HTMLElement, data: ReportData, opts: { mode: PageMode }): MountedApp {
  const published: Published = { ready: false, drawnMs: null, charts: [], mode: opts.mode };
  window.__batchlab = published;
  const page: Page = {
    root,
    mode: opts.mode,
    data,
    selected: new Set(),
    logX: new Map(),
    charts: [],
    liveTail: new Map(),
    refreshTimer: null,
    chartsEl: h('section'),
    runsEl: h('section'),
    published,
  };
  renderAll(page);
  const onResize = () => resizeCharts(page);
  window.addEventListener('resize', onResize);
  return {
    update: (next) => {
      page.data = mergeLiveTails(next, page.liveTail);
      renderAll(page);
    },
    appendSteps: (runId, cols) => appendLiveSteps(page, runId, cols),
    pointsOf: (runId) => page.data.runs.find((r) => r.id === runId)?.steps.step.length ?? 0,
    destroy: () => {
      window.removeEventListener('resize', onResize);
      for (const c of page.charts) c.u.destroy();
      root.textContent = '';
    },
  };
}

function renderAll(page: Page): void {
  const sweep = page.data.experiment.summary ?? {};
  page.root.textContent = '';
  page.chartsEl = h('section', { class: 'bl-charts', id: 'charts' });
  page.runsEl = h('section');
  const sections = [
    headerSection(page.data, page.mode),
    recommendationSection(sweep),
    findingsSection(sweep),
    page.data.experiment.kind === 'branch' ? branchSection(sweep) : null,
    page.chartsEl,
    page.runsEl,
    settingsSection(page.data.experiment),
  ];
  for (const el of sections) if (el) page.root.appendChild(el);
  renderRuns(page);
  renderCharts(page);
}

function renderRuns(page: Page): void {
  const fresh = runsSection(page.data, page.selected, (id, on) => {
    if (on) page.selected.add(id);
    else page.selected.delete(id);
    renderCharts(page);
  });
  page.runsEl.replaceWith(fresh);
  page.runsEl = fresh;
}

/** Redraws every chart; window.__batchlab.ready turns true once uPlot has drawn the last one. */
function renderCharts(page: Page): void {
  const t0 = performance.now();
  for (const c of page.charts) c.u.destroy();
  page.chartsEl.textContent = '';
  const specs = buildSpecs(page.data, page.selected);
  let left = specs.length;
  page.published.ready = false;
  const done = () => {
    if (--left > 0) return;
    page.published.ready = true;
    page.published.drawnMs = performance.now();
    page.published.renderMs = performance.now() - t0;
  };
  if (specs.length === 0) {
    page.chartsEl.appendChild(
      h('p', { class: 'bl-hint', text: 'No chartable runs yet: charts appear once a run has steps.' }),
    );
    done();
  }
  page.charts = specs.map((s) => chartCard(page, s, done));
  publish(page);
}

/** A figure with the chart's title, its buttons (log x, PNG, SVG), the plot and its note. */
function chartCard(page: Page, spec: ChartSpec, onFirstDraw: () => void): ChartEntry {
  const card = h('figure', { class: 'bl-chart', id: `chart-${spec.id}`, 'data-chart': spec.id });
  const entryOf = () => page.charts.find((c) => c.card === card)!;
  const buttons = [
    spec.xLogToggle &&
      h('button', { type: 'button', class: 'bl-logx', text: 'log x', onclick: () => toggleLogX(page, entryOf()) }),
    h('button', {
      type: 'button',
      class: 'bl-png',
      text: 'PNG',
      onclick: () => download(`batchlab-${spec.id}.png`, chartPng(entryOf().u, spec)),
    }),
    h('button', {
      type: 'button',
      class: 'bl-svg',
      text: 'SVG',
      onclick: () => {
        const svg = new Blob([chartSvg(entryOf().u, spec)], { type: 'image/svg+xml' });
        download(`batchlab-${spec.id}.svg`, URL.createObjectURL(svg));
      },
    }),
  ];
  card.appendChild(
    h('figcaption', {}, [
      h('span', { class: 'bl-section', text: spec.section }),
      h('strong', { text: spec.title }),
      h('span', { class: 'bl-tools' }, buttons),
    ]),
  );
  card.appendChild(h('div', { class: 'bl-plot' }));
  if (spec.note) card.appendChild(h('p', { class: 'bl-note', text: spec.note }));
  page.chartsEl.appendChild(card);
  return drawChart(page, card, spec, onFirstDraw);
}

/** Draws `spec` into the card's plot holder, replacing what was there. */
function drawChart(page: Page, card: HTMLElement, spec: ChartSpec, onFirstDraw?: () => void): ChartEntry {
  const logX = page.logX.get(spec.id) ?? spec.xLog;
  const holder = card.querySelector<HTMLElement>('.bl-plot')!;
  holder.textContent = '';
  let drawn = false;
  const onDrawn = () => {
    if (drawn) return;
    drawn = true;
    onFirstDraw?.();
  };
  const u = new uPlot(uplotOptions(spec, chartWidth(page.root), logX, onDrawn), alignedData(spec, logX), holder);
  card.classList.toggle('bl-is-log', logX);
  return { spec, u, logX, card };
}

function toggleLogX(page: Page, entry: ChartEntry): void {
  page.logX.set(entry.spec.id, !entry.logX);
  entry.u.destroy();
  const i = page.charts.indexOf(entry);
  page.charts[i] = drawChart(page, entry.card, entry.spec);
  publish(page);
}

function chartWidth(root: HTMLElement): number {
  const w = root.clientWidth || 1200;
  return Math.max(MIN_CHART_WIDTH_PX, Math.floor(w >= TWO_COLUMNS_FROM_PX ? (w - 24) / 2 : w) - 34);
}

function resizeCharts(page: Page): void {
  for (const c of page.charts) c.u.setSize({ width: chartWidth(page.root), height: CHART_HEIGHT_PX });
}

function appendLiveSteps(page: Page, runId: number, cols: LiveStepColumns): number {
  const run = page.data.runs.find((r) => r.id === runId);
  if (!run) return 0;
  let tail = page.liveTail.get(runId);
  if (!tail) page.liveTail.set(runId, (tail = emptyColumns()));
  appendColumns(tail, cols);
  const added = addSteps(run, cols);
  if (added > 0) scheduleRefresh(page);
  return added;
}

function scheduleRefresh(page: Page): void {
  if (page.refreshTimer !== null) return;
  page.refreshTimer = setTimeout(() => {
    page.refreshTimer = null;
    renderCharts(page);
    renderRuns(page);
  }, REFRESH_DELAY_MS);
}

function publish(page: Page): void {
  page.published.charts = page.charts.map((c) => publishedChart(c.spec, c.logX));
}

/** A chart as tests see it: ids, batch sizes, and per series its point count and last x. */
export function publishedChart(spec: ChartSpec, logX: boolean): PublishedChart {
  const runSeries = spec.series.filter((s) => s.runId !== undefined);
  return {
    id: spec.id,
    title: spec.title,
    section: spec.section,
    xLog: logX,
    batchSizes: [...new Set(runSeries.map((s) => s.batchSize!))].sort((a, b) => a - b),
    series: spec.series.map((s) => {
      const xs = s.xs.filter(isNum);
      return {
        label: s.label,
        runId: s.runId,
        batchSize: s.batchSize,
        color: s.color,
        fit: !!s.fit,
        points: xs.length,
        lastX: xs.length ? xs[xs.length - 1]! : null,
        intervals: s.xs.filter((x, i) => isNum(x) && isNum(s.low?.[i]) && isNum(s.high?.[i])).length,
        band: !s.points && s.low !== undefined,
      };
    }),
    markers: spec.markers.map((m) => ({ axis: m.axis, value: m.value, label: m.label })),
  };
}
