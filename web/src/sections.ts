/** The page's sections other than the charts: header, recommendation, findings, runs table, settings. */
import { batchTableCells } from '../../src/core/batch-stats.js';
import { mb, num, pct, plusMinus, points } from '../../src/core/format.js';
import type { BatchStats } from '../../src/core/summary.js';
import type { Experiment } from '../../src/store/types.js';
import type { ReportData, ReportRun } from '../../src/report/types.js';
import { h } from './dom.js';
import { at, isNum, isRecord, numAt } from './json.js';
import { intervalAt, isFailed, peakBytesOf, samplesPerSecOf, sortRuns, stepMsOf } from './runs.js';
import type { PageMode } from './spec.js';

/** Below this depth the recommendation is shown as JSON text. */
const MAX_VALUE_DEPTH = 4;

export function headerSection(data: ReportData, mode: PageMode): HTMLElement {
  const e = data.experiment;
  const failed = data.runs.filter(isFailed).length;
  const wallMs = numAt(e.summary, 'wallMs');
  const meta = [
    `status ${e.status}`,
    `created ${e.createdAt}`,
    `${data.runs.length} runs${failed ? ` (${failed} failed)` : ''}`,
    wallMs !== undefined ? `sweep wall time ${num(wallMs / 1000)} s` : null,
    mode === 'report' ? `report generated ${data.generatedAt}` : null,
  ];
  return h('header', { class: 'bl-header' }, [
    h('h1', { text: `Experiment ${e.id}: ${e.kind}` }),
    h('p', { class: 'bl-meta', text: meta.filter(Boolean).join(' \u00b7 ') }),
  ]);
}

/** Any JSON value as nested lists and definition lists (the recommendation has no fixed shape here). */
function renderValue(v: unknown, depth: number): HTMLElement {
  if (v === null || v === undefined) return h('span', { text: '-' });
  if (Array.isArray(v))
    return h(
      'ul',
      {},
      v.map((x) => h('li', {}, [renderValue(x, depth + 1)])),
    );
  if (typeof v === 'object') {
    if (depth > MAX_VALUE_DEPTH) return h('code', { text: JSON.stringify(v) });
    return h(
      'dl',
      {},
      Object.entries(v).flatMap(([k, inner]) => [h('dt', { text: k }), h('dd', {}, [renderValue(inner, depth + 1)])]),
    );
  }
  return h('span', { text: typeof v === 'number' ? num(v, 4) : String(v) });
}

export function recommendationSection(sweep: Record<string, unknown>): HTMLElement | null {
  if (sweep['recommendation'] === undefined || sweep['recommendation'] === null) return null;
  return h('section', { class: 'bl-card bl-recommendation', id: 'recommendation' }, [
    h('h2', { text: 'Recommendation' }),
    renderValue(sweep['recommendation'], 0),
  ]);
}

/**
 * The badge of a finding: the verdict of its trend test on the usual advice. A finding stored before
 * verdicts (an endpoint comparison of one seed, with a yes/no field) is marked as not tested, whatever it said.
 */
function verdictOf(f: Record<string, unknown>): [cls: string, text: string] {
  const verdict = f['verdict'];
  if (verdict === 'agrees') return ['agrees', 'agrees with the usual advice'];
  if (verdict === 'contradicts') return ['contradicts', 'contradicts the usual advice'];
  if (verdict === 'inconclusive') return ['inconclusive', 'inconclusive'];
  if (f['predatesVerdicts'] === true || verdict === undefined)
    return ['untested', 'not tested (stored before verdicts: an endpoint comparison of one seed)'];
  return ['undecided', 'a measurement, no claim tested'];
}

export function findingsSection(sweep: Record<string, unknown>): HTMLElement | null {
  const findings = Array.isArray(sweep['findings']) ? sweep['findings'].filter(isRecord) : [];
  if (findings.length === 0) return null;
  const items = findings.map((f) => {
    const [cls, text] = verdictOf(f);
    return h('li', { class: `bl-finding bl-${cls}`, 'data-verdict': cls }, [
      h('span', { class: 'bl-badge', text }),
      h('span', { class: 'bl-effect', text: String(f['effect'] ?? '') }),
      ` ${String(f['text'] ?? '')}`,
    ]);
  });
  const budget = typeof sweep['budget'] === 'string' ? ` Budget: ${sweep['budget']}.` : '';
  return h('section', { class: 'bl-card', id: 'findings' }, [
    h('h2', { text: 'What this sweep shows' }),
    h('p', {
      class: 'bl-hint',
      text: `Each claim of the usual advice about batch size, tested across every batch size and seed: it agrees, it is contradicted, or the trend is within the noise (inconclusive), with a 95% interval and what it rests on.${budget}`,
    }),
    h('ul', { class: 'bl-findings' }, items),
    ...batchTableOf(sweep),
  ]);
}

/** Per batch size, the mean over seeds "±" half its 95% t interval (only with several seeds). */
function batchTableOf(sweep: Record<string, unknown>): HTMLElement[] {
  const perBatch = Array.isArray(sweep['perBatch']) ? (sweep['perBatch'].filter(isRecord) as unknown[]) : [];
  const stats = perBatch as BatchStats[];
  const seeds = Math.max(0, ...stats.map((b) => (isNum(b.runs) ? b.runs : 0)));
  if (seeds < 2) return [];
  const { header, rows } = batchTableCells(stats);
  return [
    h('h3', { text: `Per batch size: mean over ${seeds} seeds \u00b1 half its 95% Student-t interval` }),
    h('div', { class: 'bl-scroll' }, [
      h('table', { class: 'bl-table', id: 'per-batch' }, [
        h('thead', {}, [
          h(
            'tr',
            {},
            header.map((t) => h('th', { text: t })),
          ),
        ]),
        h(
          'tbody',
          {},
          rows.map((r) =>
            h(
              'tr',
              {},
              r.map((t) => h('td', { text: t })),
            ),
          ),
        ),
      ]),
    ]),
  ];
}

/** The generalization gap of a run as the table prints it: accuracy in percent, else loss. */
function gapText(r: ReportRun): string {
  const gap = at(r.summary, 'gap');
  if (!isRecord(gap)) return '-';
  return isNum(gap['accuracy']) ? pct(gap['accuracy']) : num(numAt(gap, 'loss'), 3);
}

function targetText(r: ReportRun): string {
  const target = at(r.summary, 'target');
  if (!isRecord(target)) return '-';
  return target['reached'] ? num(numAt(target, 'steps')) : 'not reached';
}

/** A run's value "±" half its own interval at `path` of its summary (the value alone without one). */
function withOwn(value: number | undefined, r: ReportRun, path: string, fmt: (x: number) => string, unit = ''): string {
  if (value === undefined) return '-';
  return plusMinus({ estimate: value, ...(intervalAt(r, path) ?? {}) }, fmt, unit);
}

/** The runs table's columns: header and cell text. */
const RUN_COLUMNS: readonly [string, (r: ReportRun) => string][] = [
  ['run', (r) => r.key],
  ['B', (r) => String(r.batchSize)],
  ['b x k', (r) => `${r.microBatchSize} x ${r.accumSteps}`],
  ['seed', (r) => String(r.seed)],
  ['lr', (r) => num(r.lr)],
  ['status', (r) => r.status],
  ['steps', (r) => num(r.stepCount)],
  ['samples/s', (r) => num(samplesPerSecOf(r))],
  ['ms/step', (r) => withOwn(stepMsOf(r), r, 'intervals.stepMs', num)],
  ['peak MB', (r) => mb(peakBytesOf(r))],
  ['train loss', (r) => num(numAt(r.summary, 'final.train.loss'), 4)],
  ['held-out loss', (r) => num(numAt(r.summary, 'final.test.loss'), 4)],
  ['held-out acc', (r) => withOwn(numAt(r.summary, 'final.test.accuracy'), r, 'intervals.testAccuracy', points, '%')],
  ['gap', gapText],
  ['B_simple', (r) => num(numAt(r.summary, 'noise.bSimple'))],
  ['steps to target', targetText],
  ['reason', (r) => r.reason ?? ''],
];

function runRow(r: ReportRun, selected: ReadonlySet<number>, onToggle: (runId: number, on: boolean) => void) {
  const box = h('input', {
    type: 'checkbox',
    'data-run-id': r.id,
    'aria-label': `compare ${r.key}`,
    disabled: isFailed(r),
    onchange: (ev) => onToggle(r.id, (ev.target as HTMLInputElement).checked),
  });
  box.checked = selected.has(r.id);
  const swatch = h('span', { class: 'bl-swatch', style: `background:${r.color}` });
  return h('tr', { class: isFailed(r) ? 'bl-failed' : '', 'data-run-id': r.id }, [
    h('td', {}, [box, swatch]),
    ...RUN_COLUMNS.map(([, cell]) => h('td', { text: cell(r) })),
  ]);
}

/** The runs table; ticking a run calls onToggle (the charts then show the ticked runs only). */
export function runsSection(
  data: ReportData,
  selected: ReadonlySet<number>,
  onToggle: (runId: number, on: boolean) => void,
): HTMLElement {
  const header = h('tr', {}, [h('th', { text: 'compare' }), ...RUN_COLUMNS.map(([title]) => h('th', { text: title }))]);
  return h('section', { class: 'bl-card', id: 'runs' }, [
    h('h2', { text: 'Runs' }),
    h('p', {
      class: 'bl-hint',
      text: 'Tick runs to compare only those in the charts; failed runs (out of memory, diverged, ...) are listed with their reason and left out of the charts.',
    }),
    h('div', { class: 'bl-scroll' }, [
      h('table', { class: 'bl-table' }, [
        h('thead', {}, [header]),
        h(
          'tbody',
          {},
          sortRuns(data.runs).map((r) => runRow(r, selected, onToggle)),
        ),
      ]),
    ]),
  ]);
}

/** {a: {b: 1}} -> [["a.b", "1"]]; arrays joined with commas (objects in them as JSON). */
export function flatten(obj: unknown, prefix = ''): [string, string][] {
  if (!isRecord(obj)) return [];
  return Object.entries(obj).flatMap(([k, v]): [string, string][] => {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isRecord(v)) return flatten(v, key);
    const text = Array.isArray(v)
      ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ')
      : String(v);
    return [[key, text]];
  });
}

function keyValueTable(title: string, obj: unknown): HTMLElement {
  const rows = flatten(obj);
  return h('div', {}, [
    h('h3', { text: title }),
    rows.length === 0
      ? h('p', { text: '(none recorded)' })
      : h('table', { class: 'bl-table bl-kv' }, [
          h(
            'tbody',
            {},
            rows.map(([k, v]) => h('tr', {}, [h('th', { text: k }), h('td', { text: v })])),
          ),
        ]),
  ]);
}

export function settingsSection(e: Experiment): HTMLElement {
  return h('section', { class: 'bl-card bl-settings', id: 'settings' }, [
    h('h2', { text: 'Settings and environment' }),
    keyValueTable('Run settings (model, data, optimizer, LR rule, seed, budget)', e.settings),
    keyValueTable('Environment (backend, versions, hardware)', e.env),
  ]);
}
