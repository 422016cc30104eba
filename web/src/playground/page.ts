/**
 * The playground page: one `Playground` object holds everything (settings, backend, runs, charts); the
 * functions below take it, so nothing is module-level. The controller trains the runs side by side: in
 * slices of a few milliseconds it steps whichever unfinished run has used the least training time, then
 * lets the browser draw. What tests and tools read is published on window.__batchlab (see `publish`).
 */
import type { Dataset } from '../../../src/data/types.js';
import { scaleLr } from '../../../src/core/lr.js';
import { h } from '../dom.js';
import type { PublishedChart } from '../spec.js';
import { type BackendChoice, chooseBackend } from './backend.js';
import { playgroundSpecs } from './chart-specs.js';
import { destroyCharts, drawCharts, type LiveChart, publishCharts, resizeCharts, updateCharts } from './charts.js';
import { loadPlaygroundDataset } from './data.js';
import { EFFECTS, type EffectId, type FinishedRun, testEffect } from './evidence.js';
import { type LandscapeState, landscapeView } from './landscape-view.js';
import { type PlaygroundSettings, parseSettings, type SettingProblem, settingsToQuery } from './settings.js';
import { EN, RO, type StringKey, translate } from './strings.js';
import { liveTensors, PlaygroundRun, TRAIN_EVAL_LIMIT } from './trainer.js';
import type { Phase, ViewContext } from './context.js';
import { effectPanel, headerView, runCard, runsControls, updatePrimaryButton } from './view-runs.js';

/** Training time per slice before the page lets the browser draw and handle input. */
const SLICE_MS = 40;
/** Charts and run cards are refreshed at most this often while training. */
const REFRESH_EVERY_MS = 250;

/** Everything one mounted playground holds. */
export interface Playground {
  root: HTMLElement;
  settings: PlaygroundSettings;
  problems: SettingProblem[];
  backend: BackendChoice | undefined;
  phase: Phase;
  error: string | undefined;
  runs: PlaygroundRun[];
  /** Datasets loaded so far, by name (MNIST decodes once). */
  datasets: Map<string, Dataset>;
  charts: LiveChart[];
  /** Bumped by every reset: a training loop of an older generation stops. */
  generation: number;
  /** The step in flight, if any: cleared runs are disposed only once it has settled. */
  stepping: Promise<void> | undefined;
  lastRefreshMs: number;
  landscape: LandscapeState;
  /** The claims tested once every run has finished (bootstraps are not free); cleared with the runs. */
  verdicts: EffectVerdicts[] | undefined;
  /** The element of the current view's live parts. */
  live:
    | { cards: HTMLElement; charts: HTMLElement; effects: HTMLElement; status: HTMLElement; primary: HTMLButtonElement }
    | undefined;
  published: PlaygroundPublished;
}

/** What window.__batchlab holds on the playground (test/browser/playground.test.ts reads it). */
export interface PlaygroundPublished {
  page: 'playground';
  ready: boolean;
  /** ms from navigation start until the page was drawn with its backend chosen. */
  readyMs: number | null;
  lang: string;
  view: string;
  phase: Phase;
  backend: BackendChoice | null;
  charts: PublishedChart[];
  runs: PublishedRun[];
  verdicts: { effect: string; claim: string; verdict: string }[];
  landscape: { ready: boolean; counts: { batchSize: number; escaped: number; seeds: number }[] };
  stringKeys: { en: string[]; ro: string[] };
  tensors: number;
}

export interface PublishedRun {
  batchSize: number;
  lr: number;
  status: string;
  steps: number;
  samples: number;
  /** Training time so far: the sum of step times, ms. */
  trainMs: number;
  losses: number[];
  samplesPerSec: number | null;
  finalTrainLoss: number | null;
  finalTestAccuracy: number | null;
}

/** Loads a script that sits next to index.html (works from file:// and from any static host). */
export function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src} (it belongs next to index.html)`));
    document.head.appendChild(script);
  });
}

/** Mounts the playground into `root` with the settings of `query` (location.search). */
export async function mountPlayground(root: HTMLElement, query: string): Promise<Playground> {
  const { settings, problems } = parseSettings(query);
  const published: PlaygroundPublished = {
    page: 'playground',
    ready: false,
    readyMs: null,
    lang: settings.lang,
    view: settings.view,
    phase: 'starting',
    backend: null,
    charts: [],
    runs: [],
    verdicts: [],
    landscape: { ready: false, counts: [] },
    stringKeys: { en: Object.keys(EN), ro: Object.keys(RO) },
    tensors: 0,
  };
  (window as unknown as { __batchlab: PlaygroundPublished }).__batchlab = published;
  const page: Playground = {
    root,
    settings,
    problems,
    backend: undefined,
    phase: 'starting',
    error: undefined,
    runs: [],
    datasets: new Map(),
    charts: [],
    generation: 0,
    stepping: undefined,
    lastRefreshMs: 0,
    landscape: { grid: undefined, counts: undefined, ready: false },
    verdicts: undefined,
    live: undefined,
    published,
  };
  render(page);
  window.addEventListener('resize', () => resizeCharts(page.charts));
  try {
    page.backend = await chooseBackend(settings.backend, loadScript);
    page.phase = 'idle';
  } catch (err) {
    fail(page, err);
  }
  render(page);
  published.ready = true;
  published.readyMs = performance.now();
  return page;
}

/** The context the view functions draw with: strings in the page's language and the page's actions. */
function context(page: Playground): ViewContext {
  const lang = page.settings.lang;
  return {
    lang,
    t: (key: StringKey, params?: Record<string, string | number>) => translate(lang, key, params),
    settings: page.settings,
    problems: page.problems,
    backend: page.backend,
    phase: page.phase,
    error: page.error,
    actions: {
      change: (next, opts) => changeSettings(page, next, opts),
      train: () => void startOrResume(page),
      toggle: () => (page.phase === 'training' ? pause(page) : void startOrResume(page)),
      reset: () => reset(page),
    },
  };
}

/** Draws the whole page for the current settings (language, view) and state. */
export function render(page: Playground): void {
  destroyCharts(page.charts);
  page.charts = [];
  page.live = undefined;
  const ctx = context(page);
  document.documentElement.lang = page.settings.lang;
  document.title = ctx.t('page.title');
  page.root.textContent = '';
  page.root.appendChild(headerView(ctx));
  const main = h('main', { id: 'pg-main' });
  page.root.appendChild(main);
  if (page.settings.view === 'landscape') {
    main.appendChild(
      landscapeView(ctx, page.landscape, () => {
        page.published.landscape = {
          ready: page.landscape.ready,
          counts: (page.landscape.counts ?? []).map((c) => ({
            batchSize: c.batchSize,
            escaped: c.escaped,
            seeds: c.seeds,
          })),
        };
      }),
    );
  } else {
    renderRunsView(page, main, ctx);
  }
  page.root.appendChild(h('footer', { class: 'pg-footer' }, [h('p', { text: ctx.t('footer.text') })]));
  publish(page);
}

function renderRunsView(page: Playground, main: HTMLElement, ctx: ViewContext): void {
  const status = h('p', { class: 'pg-status', role: 'status', 'aria-live': 'polite' });
  const cards = h('div', { class: 'pg-cards' });
  const charts = h('div', { class: 'pg-charts' });
  const effects = h('div', { class: 'pg-effects' });
  const controls = runsControls(ctx);
  main.append(
    controls.form,
    status,
    h('section', { 'aria-labelledby': 'pg-runs-h' }, [
      h('h2', { id: 'pg-runs-h', text: ctx.t('runs.heading') }),
      cards,
    ]),
    h('section', { 'aria-labelledby': 'pg-charts-h' }, [
      h('h2', { id: 'pg-charts-h', text: ctx.t('charts.heading') }),
      charts,
    ]),
    h('section', { 'aria-labelledby': 'pg-effects-h' }, [
      h('h2', { id: 'pg-effects-h', text: ctx.t('effects.heading') }),
      h('p', { class: 'pg-lead', text: ctx.t('effects.lead') }),
      effects,
    ]),
  );
  page.live = { cards, charts, effects, status, primary: controls.primary };
  if (page.runs.length > 0) page.charts = drawCharts(charts, playgroundSpecs(page.runs, ctx.t));
  else cards.appendChild(h('p', { class: 'pg-hint', text: ctx.t('runs.empty') }));
  refreshLive(page);
}

/** Redraws what changes while training: status line, run cards, chart data, effect panels. */
function refreshLive(page: Playground): void {
  page.lastRefreshMs = performance.now();
  const live = page.live;
  if (live) {
    const ctx = context(page);
    const status = statusText(page, ctx);
    if (live.status.textContent !== status) live.status.textContent = status; // a live region: say changes only
    updatePrimaryButton(ctx, live.primary);
    if (page.runs.length > 0) live.cards.replaceChildren(...page.runs.map((r) => runCard(ctx, r)));
    updateCharts(page.charts, playgroundSpecs(page.runs, ctx.t));
    const verdicts = verdictsOf(page);
    live.effects.replaceChildren(
      ...EFFECTS.map((effect) =>
        effectPanel(
          ctx,
          effect,
          verdicts?.find((v) => v.effect === effect),
        ),
      ),
    );
  }
  publish(page);
}

/** One effect's evidence: the finished runs and the trend test of each of its claims. */
export interface EffectVerdicts {
  effect: EffectId;
  runs: FinishedRun[];
  claims: ReturnType<typeof testEffect>;
}

/** The verdicts once all runs are done (computed once), else undefined. */
function verdictsOf(page: Playground): EffectVerdicts[] | undefined {
  if (page.phase !== 'done') return undefined;
  if (page.verdicts) return page.verdicts;
  const runs = finishedRuns(page);
  page.verdicts = runs.length >= 2 ? EFFECTS.map((effect) => ({ effect, runs, claims: testEffect(effect, runs) })) : [];
  return page.verdicts;
}

function statusText(page: Playground, ctx: ViewContext): string {
  if (page.phase === 'failed') return ctx.t('status.failed', { message: page.error ?? '' });
  const key: Record<Exclude<Phase, 'failed'>, StringKey> = {
    starting: 'backend.starting',
    idle: 'status.idle',
    loading: 'status.loading',
    training: 'status.training',
    paused: 'status.paused',
    done: 'status.done',
  };
  return ctx.t(key[page.phase]);
}

/** The finished runs with what the verdicts need. */
function finishedRuns(page: Playground): FinishedRun[] {
  return page.runs
    .filter((r) => r.summary !== undefined)
    .map((r) => ({
      summary: r.summary!,
      steps: r.steps,
      heldOutSamples: r.config.data.test.count,
      trainEvalSamples: Math.min(TRAIN_EVAL_LIMIT, r.config.data.train.count),
    }));
}

/**
 * New settings from the form. The language and the view only redraw; anything else clears the runs
 * (they no longer match the settings); a new backend reloads the page, since TF.js picks it at start.
 */
function changeSettings(page: Playground, next: PlaygroundSettings, opts: { redraw: boolean }): void {
  const backendChanged = next.backend !== page.settings.backend;
  const runsChanged = (
    ['dataset', 'batchSizes', 'optimizer', 'lr', 'lrRule', 'baseBatch', 'epochs', 'seed', 'hidden'] as const
  ).some((k) => String(next[k]) !== String(page.settings[k]));
  page.settings = next;
  page.problems = [];
  history.replaceState(null, '', settingsToQuery(next) || location.pathname);
  if (backendChanged) {
    location.reload();
    return;
  }
  if (runsChanged) clearRuns(page);
  if (opts.redraw || runsChanged) render(page);
  else publish(page);
}

function clearRuns(page: Playground): void {
  page.generation++;
  const old = page.runs;
  const dispose = () => {
    for (const r of old) r.dispose();
  };
  if (page.stepping) void page.stepping.then(dispose, dispose);
  else dispose();
  page.runs = [];
  page.verdicts = undefined;
  if (page.phase !== 'failed' || page.backend) page.phase = 'idle';
}

function reset(page: Playground): void {
  clearRuns(page);
  render(page);
}

function pause(page: Playground): void {
  if (page.phase !== 'training') return;
  page.phase = 'paused';
  refreshLive(page);
}

/** Train: starts fresh runs (or resumes paused ones) and trains them until done, paused or reset. */
async function startOrResume(page: Playground): Promise<void> {
  if (page.phase === 'training' || page.phase === 'loading' || !page.backend) return;
  if (page.phase !== 'paused') clearRuns(page);
  const gen = page.generation;
  try {
    if (page.phase !== 'paused') {
      page.phase = 'loading';
      render(page);
      const runs = await createRuns(page);
      if (gen !== page.generation) {
        for (const r of runs) r.dispose();
        return;
      }
      page.runs = runs;
      render(page);
    }
    page.phase = 'training';
    refreshLive(page);
    await trainLoop(page, gen);
  } catch (err) {
    if (gen !== page.generation) return; // a step of cleared runs: nothing to report
    fail(page, err);
    refreshLive(page);
  }
}

async function createRuns(page: Playground): Promise<PlaygroundRun[]> {
  const s = page.settings;
  let data = page.datasets.get(s.dataset);
  if (!data) {
    data = await loadPlaygroundDataset(s.dataset, loadScript);
    page.datasets.set(s.dataset, data);
  }
  const dataset = data;
  const tooBig = s.batchSizes.find((b) => b > dataset.train.count);
  if (tooBig !== undefined) {
    throw new Error(context(page).t('error.batchTooBig', { b: tooBig, n: dataset.train.count }));
  }
  return s.batchSizes.map(
    (batchSize) =>
      new PlaygroundRun({
        data: dataset,
        batchSize,
        lr: scaleLr({ rule: s.lrRule, baseLr: s.lr, baseBatch: s.baseBatch, batch: batchSize }),
        optimizer: { name: s.optimizer },
        hidden: s.hidden,
        seed: s.seed,
        epochs: s.epochs,
        backend: page.backend!.name,
      }),
  );
}

/** Steps the run that has trained least so far, in slices of SLICE_MS, until all are done. */
async function trainLoop(page: Playground, gen: number): Promise<void> {
  while (gen === page.generation && page.phase === 'training') {
    const sliceEnd = performance.now() + SLICE_MS;
    let next = nextRun(page.runs);
    while (next && page.phase === 'training' && performance.now() < sliceEnd) {
      page.stepping = next.step();
      try {
        await page.stepping;
      } finally {
        page.stepping = undefined;
      }
      if (gen !== page.generation) return;
      next = nextRun(page.runs);
    }
    if (!next && gen === page.generation) page.phase = 'done';
    if (gen !== page.generation) return;
    if (page.phase === 'done' || performance.now() - page.lastRefreshMs >= REFRESH_EVERY_MS) refreshLive(page);
    // A timer, not requestAnimationFrame: a background tab keeps training.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function nextRun(runs: readonly PlaygroundRun[]): PlaygroundRun | undefined {
  let best: PlaygroundRun | undefined;
  for (const r of runs) if (!r.finished && (!best || r.trainMs < best.trainMs)) best = r;
  return best;
}

function fail(page: Playground, err: unknown): void {
  page.phase = 'failed';
  page.error = err instanceof Error ? err.message : String(err);
  console.error(err);
}

/** Updates window.__batchlab: the state tests and tools read. */
function publish(page: Playground): void {
  const p = page.published;
  p.lang = page.settings.lang;
  p.view = page.settings.view;
  p.phase = page.phase;
  p.backend = page.backend ?? null;
  p.charts = publishCharts(page.charts);
  p.tensors = page.backend ? liveTensors() : 0; // tf.memory() before a backend is set would start the default one
  p.runs = page.runs.map((r) => ({
    batchSize: r.config.batchSize,
    lr: r.config.lr,
    status: r.status,
    steps: r.steps.length,
    samples: r.samples,
    trainMs: r.trainMs,
    losses: r.steps.map((s) => s.loss),
    samplesPerSec: r.summary?.samplesPerSec ?? null,
    finalTrainLoss: r.summary?.final.train.loss ?? null,
    finalTestAccuracy: r.summary?.final.test.accuracy ?? null,
  }));
  p.verdicts = (verdictsOf(page) ?? []).flatMap((v) =>
    v.claims.map((c) => ({ effect: v.effect, claim: c.claim, verdict: c.result?.verdict ?? 'none' })),
  );
}
