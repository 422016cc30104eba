/**
 * What a chart shows, as data: built from ReportData by ./specs.ts (no DOM), drawn by ./uplot.ts, exported
 * by ./export.ts and published on window.__batchlab for tests. Data only: Node code (tests) may import it.
 */

/** 'report': a saved file (says when it was generated); 'live': the dashboard. */
export type PageMode = 'report' | 'live';

export interface SeriesSpec {
  label: string;
  color: string;
  /** Set for a run's series (not for fits and probes). */
  runId?: number;
  batchSize?: number;
  /** Dash pattern in px; undefined for a solid line. */
  dash?: number[];
  /** A fitted curve (drawn thicker, dashed, in FIT_COLOR). */
  fit?: boolean;
  /** Drawn as points only, no line. */
  points?: boolean;
  /** Points drawn as rings (find-max probes). */
  hollow?: boolean;
  xs: readonly (number | null)[];
  /** null is a gap; undefined means "no point at this x". */
  ys: readonly (number | null | undefined)[];
  /**
   * An interval per point, aligned with xs (null or undefined: none at that point): drawn as error bars on
   * a point series, as a shaded band on a line series.
   */
  low?: readonly (number | null | undefined)[];
  high?: readonly (number | null | undefined)[];
}

/** A labelled dashed line across the plot: vertical at x = value, or horizontal at y = value. */
export interface Marker {
  axis: 'x' | 'y';
  value: number;
  label: string;
  color?: string;
}

export interface ChartSpec {
  id: string;
  /** The effect it belongs to: Speed, Memory, Stability, Generalization. */
  section: string;
  /** Names the claim of the usual advice that the chart checks. */
  title: string;
  note?: string;
  xLabel: string;
  yLabel: string;
  xLog: boolean;
  /** log base of the x axis when it is logarithmic (2 for batch sizes). */
  xLogBase?: number;
  /** Offers a "log x" button. */
  xLogToggle?: boolean;
  yLog?: boolean;
  /** x is the batch size: ticks at powers of two, range widened to every marker. */
  batchAxis?: boolean;
  /** Draws the points of line series too (sparse eval curves). */
  showPoints?: boolean;
  series: SeriesSpec[];
  markers: Marker[];
}

/** What window.__batchlab holds (test/browser/helpers.ts reads it). */
export interface Published {
  ready: boolean;
  drawnMs: number | null;
  renderMs?: number;
  mode: PageMode;
  charts: PublishedChart[];
}

export interface PublishedChart {
  id: string;
  title: string;
  section: string;
  xLog: boolean;
  batchSizes: number[];
  series: {
    label: string;
    runId?: number;
    batchSize?: number;
    color: string;
    fit: boolean;
    points: number;
    lastX: number | null;
    /** Points with an interval (both ends finite), drawn as error bars or a band. */
    intervals: number;
    /** The intervals are drawn as a band (a line series), not as error bars. */
    band: boolean;
  }[];
  markers: { axis: string; value: number; label: string }[];
}
