/**
 * Entry of the self-contained report (bundled to dist/web/report.js and inlined by src/report/html.ts):
 * draws the ReportData that the report carries in <script type="application/json" id="batchlab-data">.
 */
import type { ReportData } from '../../src/report/types.js';
import { mount } from './app.js';

const dataEl = document.getElementById('batchlab-data');
const root = document.getElementById('app');
if (dataEl && root) mount(root, JSON.parse(dataEl.textContent ?? 'null') as ReportData, { mode: 'report' });
