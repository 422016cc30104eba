/**
 * Draws the playground's live charts with the report's uPlot code (../uplot.ts) and keeps them current:
 * a refresh replaces each chart's data in place (uPlot setData), so the charts follow the runs without
 * being rebuilt.
 */
import uPlot from 'uplot';
import { publishedChart } from '../app.js';
import { h } from '../dom.js';
import type { ChartSpec, PublishedChart } from '../spec.js';
import { alignedData, CHART_HEIGHT_PX, uplotOptions } from '../uplot.js';

/** One drawn chart: its figure, its uPlot and the spec it last drew. */
export interface LiveChart {
  card: HTMLElement;
  u: uPlot;
  spec: ChartSpec;
}

/** Narrowest plot, in px (a phone in portrait). */
const MIN_PLOT_WIDTH_PX = 260;

function plotWidth(card: HTMLElement): number {
  return Math.max(MIN_PLOT_WIDTH_PX, (card.querySelector<HTMLElement>('.pg-plot')?.clientWidth ?? 600) - 4);
}

/** A figure per spec in `container` (title, plot, note), each drawn by uPlot with axis labels and units. */
export function drawCharts(container: HTMLElement, specs: readonly ChartSpec[]): LiveChart[] {
  return specs.map((spec) => {
    const plot = h('div', {
      class: 'pg-plot',
      role: 'img',
      'aria-label': `${spec.title}: ${spec.yLabel} / ${spec.xLabel}`,
    });
    const card = h('figure', { class: 'pg-chart', id: `chart-${spec.id}`, 'data-chart': spec.id }, [
      h('figcaption', { text: spec.title }),
      plot,
      spec.note ? h('p', { class: 'pg-note', text: spec.note }) : null,
    ]);
    container.appendChild(card);
    const u = new uPlot(
      uplotOptions(spec, plotWidth(card), spec.xLog, () => {}),
      alignedData(spec, spec.xLog),
      plot,
    );
    return { card, u, spec };
  });
}

/** New data for each chart (same order, same series); a chart whose series changed is redrawn. */
export function updateCharts(charts: LiveChart[], specs: readonly ChartSpec[]): void {
  charts.forEach((chart, i) => {
    const spec = specs[i];
    if (!spec) return;
    chart.spec = spec;
    chart.u.setData(alignedData(spec, spec.xLog));
  });
}

export function resizeCharts(charts: readonly LiveChart[]): void {
  for (const c of charts) c.u.setSize({ width: plotWidth(c.card), height: CHART_HEIGHT_PX });
}

export function destroyCharts(charts: readonly LiveChart[]): void {
  for (const c of charts) c.u.destroy();
}

/** The charts as tests read them (window.__batchlab.charts). */
export function publishCharts(charts: readonly LiveChart[]): PublishedChart[] {
  return charts.map((c) => publishedChart(c.spec, c.spec.xLog));
}
