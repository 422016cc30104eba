/**
 * The self-contained HTML report: one file with the chart data and the page bundle (web/src/report.ts with
 * uPlot inside, built by `npm run build`) inline, and a Content-Security-Policy that forbids every network
 * request, so it opens the same offline, from an e-mail attachment or a CI artifact, years later.
 */
import { resolve } from 'node:path';
import { openStore, writeOutputFile, type Store } from '../store/index.js';
import { readAsset } from './assets.js';
import { loadReportData, type LoadReportOptions, type ReportData } from './data.js';

/** No fetch, no external script, style, font or image: only what is inline, plus data:/blob: images. */
const REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:";

/** Renders the report of experiment `experimentId` (BATCHLAB_NOT_FOUND if the store has no such id). */
export function renderReport(store: Store, experimentId: number, opts: LoadReportOptions = {}): string {
  return renderReportHtml(loadReportData(store, experimentId, opts));
}

/** Renders the report and writes it to `path` (UTF-8); returns the data it drew. */
export function writeReport(
  store: Store,
  experimentId: number,
  path: string,
  opts: LoadReportOptions = {},
): ReportData {
  const data = loadReportData(store, experimentId, opts);
  // Atomic, and never onto the database being read (or its -wal/-shm files): see store/output.ts.
  writeOutputFile({ path, data: renderReportHtml(data), storePath: store.path });
  return data;
}

/** Where the report of experiment `id` goes: `output`, else batchlab-report-<id>.html in the current folder; absolute. */
export function reportPath(id: number, output: string | undefined): string {
  return resolve(output ?? `batchlab-report-${id}.html`);
}

/** Writes experiment `id`'s report from the database at `dbPath` (opened read-only) to reportPath(id, output); returns that path. */
export function writeStoredReport(dbPath: string, id: number, output: string | undefined): string {
  const path = reportPath(id, output);
  const store = openStore(dbPath, { readonly: true });
  try {
    writeReport(store, id, path);
  } finally {
    store.close();
  }
  return path;
}

/** The report page for already-loaded data. */
export function renderReportHtml(data: ReportData): string {
  const e = data.experiment;
  const title = `batchlab report: experiment ${e.id} (${e.kind})`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<title>${escapeHtml(title)}</title>
<style>${inlineText(readAsset('uPlot.min.css'), 'style')}</style>
<style>${inlineText(readAsset('app.css'), 'style')}</style>
</head>
<body>
<main id="app"><noscript>This report draws its charts with JavaScript; enable it to see them.</noscript></main>
<script type="application/json" id="batchlab-data">${jsonForScript(data)}</script>
<script>${inlineText(readAsset('report.js'), 'script')}</script>
</body>
</html>
`;
}

/**
 * JSON that is safe inside <script type="application/json">: every "<" becomes \u003c, so no
 * "</script>" or "<!--" in a setting or run key can end the element early. JSON.parse reads it back.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** Code or CSS inside an inline element must not contain its closing tag; "<\/" means the same in JS. */
function inlineText(text: string, tag: 'script' | 'style'): string {
  return text.replace(new RegExp(`</(${tag})`, 'gi'), '<\\/$1');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
