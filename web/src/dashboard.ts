/**
 * Entry of the live dashboard of `batchlab serve` (bundled to dist/web/dashboard.js): the experiments list,
 * and an experiment page drawn by ./app.ts and kept current over Server-Sent Events (docs/api.md): `steps`
 * events append points, `changed` events (a run started or finished, a summary was written) reload the data.
 *
 * When the server needs a token, the page never sees it: the first load with `?token=` made the server set
 * an HttpOnly same-site cookie, which the browser sends with every fetch and EventSource of this origin.
 */
import type { ExperimentListing } from '../../src/store/types.js';
import type { LiveStepColumns, ReportData } from '../../src/report/types.js';
import { mount, type MountedApp } from './app.js';
import { h } from './dom.js';

const RELOAD_DELAY_MS = 200;
/** Wait before reconnecting a lost stream, doubled after each failed try (a full server says 503) up to the max. */
const RECONNECT_DELAY_MS = 1000;
const MAX_RECONNECT_DELAY_MS = 30_000;
const LIST_REFRESH_MS = 3000;
/** A run holding this many times the server's point budget is refetched, downsampled again. */
const REDOWNSAMPLE_FACTOR = 4;

/** GETs JSON from this server; an error status becomes an Error with the server's one-line message. */
async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body as T;
}

function setLive(text: string, on: boolean): void {
  const el = document.getElementById('live');
  if (!el) return;
  el.textContent = text;
  el.className = `bl-live ${on ? 'bl-on' : 'bl-off'}`;
}

function showError(root: HTMLElement, err: unknown): void {
  root.textContent = '';
  root.appendChild(h('p', { class: 'bl-card', role: 'alert', text: err instanceof Error ? err.message : String(err) }));
}

// ---- experiments list ------------------------------------------------------------------------

function experimentRow(e: ExperimentListing): HTMLElement {
  const counts = Object.entries(e.runCounts)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  return h('tr', { 'data-experiment-id': e.id }, [
    h('td', {}, [h('a', { href: `/experiments/${e.id}`, text: `#${e.id}` })]),
    h('td', { text: e.kind }),
    h('td', { text: e.status }),
    h('td', { text: e.createdAt }),
    h('td', { text: `${e.runCount}${counts ? ` (${counts})` : ''}` }),
    h('td', {}, [h('a', { href: `/experiments/${e.id}/report.html`, text: 'report' })]),
  ]);
}

function experimentsList(list: readonly ExperimentListing[]): HTMLElement {
  const headers = ['id', 'kind', 'status', 'created', 'runs', ''].map((t) => h('th', { text: t }));
  return h('section', { class: 'bl-card' }, [
    h('h1', { text: 'Experiments' }),
    list.length === 0
      ? h('p', { class: 'bl-hint', text: 'No experiments yet: run `batchlab sweep` and they appear here.' })
      : h('table', { class: 'bl-table', id: 'experiments' }, [
          h('thead', {}, [h('tr', {}, headers)]),
          h('tbody', {}, list.map(experimentRow)),
        ]),
  ]);
}

function listPage(root: HTMLElement): void {
  const refresh = () =>
    getJson<ExperimentListing[]>('/api/experiments')
      .then((list) => {
        root.textContent = '';
        root.appendChild(experimentsList(list));
        setLive(`updated ${new Date().toLocaleTimeString()}`, true);
      })
      .catch((err: unknown) => {
        setLive('server unreachable', false);
        if (!root.firstChild) showError(root, err);
      });
  void refresh();
  setInterval(refresh, LIST_REFRESH_MS);
}

// ---- one experiment, live --------------------------------------------------------------------

/** One experiment page's connection state. */
interface Live {
  root: HTMLElement;
  id: string;
  app: MountedApp | null;
  data: ReportData | null;
  reloadTimer: ReturnType<typeof setTimeout> | null;
  /** Reconnects since the stream was last open. */
  failures: number;
}

/** `12:400,13:380`: the last step the page has of each run (docs/api.md). */
function cursorOf(data: ReportData): string {
  return data.runs.map((r) => `${r.id}:${r.lastStep}`).join(',');
}

async function load(live: Live): Promise<ReportData> {
  const data = await getJson<ReportData>(`/api/experiments/${live.id}/report`);
  live.data = data;
  document.title = `batchlab: experiment ${data.experiment.id} (${data.experiment.kind})`;
  if (live.app) live.app.update(data);
  else live.app = mount(live.root, data, { mode: 'live' });
  return data;
}

function scheduleReload(live: Live): void {
  if (live.reloadTimer !== null) return;
  live.reloadTimer = setTimeout(() => {
    live.reloadTimer = null;
    load(live).catch((err: Error) => setLive(`reload failed: ${err.message}`, false));
  }, RELOAD_DELAY_MS);
}

function onSteps(live: Live, ev: MessageEvent<string>): void {
  const msg = JSON.parse(ev.data) as { runId: number; steps: LiveStepColumns };
  live.app!.appendSteps(msg.runId, msg.steps);
  // the page appends raw points; once a run has far more than the server would send, re-downsample
  if (live.app!.pointsOf(msg.runId) > REDOWNSAMPLE_FACTOR * live.data!.maxPointsPerRun) scheduleReload(live);
  const last = msg.steps.step[msg.steps.step.length - 1];
  setLive(`live \u00b7 step ${last} of run ${msg.runId} at ${new Date().toLocaleTimeString()}`, true);
}

function connect(live: Live): void {
  const source = new EventSource(
    `/api/experiments/${live.id}/events?cursor=${encodeURIComponent(cursorOf(live.data!))}`,
  );
  source.addEventListener('open', () => {
    live.failures = 0;
    setLive('live', true);
  });
  source.addEventListener('steps', (ev) => onSteps(live, ev));
  source.addEventListener('changed', () => scheduleReload(live));
  source.addEventListener('error', () => {
    // EventSource would reconnect with the first cursor; reconnect with what the page has now
    setLive('disconnected, reconnecting', false);
    source.close();
    const delayMs = Math.min(RECONNECT_DELAY_MS * 2 ** live.failures++, MAX_RECONNECT_DELAY_MS);
    setTimeout(() => {
      load(live).then(
        () => connect(live),
        () => connect(live),
      );
    }, delayMs);
  });
}

function experimentPage(root: HTMLElement, id: string): void {
  const live: Live = { root, id, app: null, data: null, reloadTimer: null, failures: 0 };
  load(live)
    .then(() => connect(live))
    .catch((err: unknown) => {
      setLive('not available', false);
      showError(root, err);
    });
}

const root = document.getElementById('app')!;
const experimentId = document.body.getAttribute('data-experiment-id');
if (document.body.getAttribute('data-page') === 'experiment' && experimentId !== null)
  experimentPage(root, experimentId);
else listPage(root);
