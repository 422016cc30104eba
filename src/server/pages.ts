/** The dashboard's HTML shells; the dashboard bundle (web/src/dashboard.ts) fills them from the JSON API. */
import { escapeHtml } from '../report/html.js';

/** Only this server's own scripts; inline styles are allowed because uPlot sizes its elements with them. */
const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:";

export type DashboardPage = { page: 'list' } | { page: 'experiment'; experimentId: number };

export function dashboardPage(p: DashboardPage): string {
  const title = p.page === 'list' ? 'batchlab dashboard' : `batchlab: experiment ${p.experimentId}`;
  const attrs =
    p.page === 'list' ? 'data-page="list"' : `data-page="experiment" data-experiment-id="${p.experimentId}"`;
  const reportLink =
    p.page === 'experiment' ? ` <a href="/experiments/${p.experimentId}/report.html" download>download report</a>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${DASHBOARD_CSP}">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/uPlot.min.css">
<link rel="stylesheet" href="/static/app.css">
</head>
<body ${attrs}>
<div class="bl-page">
<nav class="bl-nav"><a href="/"><strong>batchlab</strong> experiments</a> <span id="live" class="bl-live">connecting</span>${reportLink}</nav>
<main id="app"></main>
</div>
<script src="/static/dashboard.js"></script>
</body>
</html>
`;
}
