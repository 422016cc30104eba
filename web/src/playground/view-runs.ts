/**
 * The DOM of the playground's header and of the side-by-side view: the settings form, a card per run and
 * a panel per effect. Data in, elements out; every text comes from the string table (`ctx.t`) and is set
 * as text, never parsed as HTML.
 */
import type { TrendResult } from '../../../src/core/trend.js';
import { colorForBatch } from '../../../src/report/palette.js';
import { h } from '../dom.js';
import type { BackendAttempt } from './backend.js';
import type { ChartId } from './chart-specs.js';
import { fmt, fmtPct, type ViewContext } from './context.js';
import type { EffectId, FinishedRun } from './evidence.js';
import {
  BACKENDS,
  DATASETS,
  LANGS,
  OPTIMIZERS,
  type PlaygroundSettings,
  readSetting,
  type SettingName,
  settingText,
  VIEWS,
} from './settings.js';
import type { StringKey } from './strings.js';
import type { PlaygroundRun } from './trainer.js';

/** Languages by their own names (the same in every language). */
const LANGUAGE_NAMES: Readonly<Record<(typeof LANGS)[number], string>> = { en: 'English', ro: 'Română' };
/** How the page writes backend names. */
const BACKEND_NAMES: Readonly<Record<string, string>> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'wasm', cpu: 'cpu' };
/** Steps whose mean loss a run card shows (one step's loss is too noisy to read). */
const CARD_LOSS_STEPS = 20;

function select(
  id: string,
  value: string,
  options: readonly { value: string; label: string }[],
  onChange: (value: string) => void,
): HTMLSelectElement {
  const el = h(
    'select',
    { id, name: id, onchange: (ev: Event) => onChange((ev.target as HTMLSelectElement).value) },
    options.map((o) => h('option', { value: o.value, text: o.label, selected: o.value === value })),
  );
  el.value = value;
  return el;
}

function backendLine(ctx: ViewContext): HTMLElement {
  const { t, backend } = ctx;
  const attempt = (a: BackendAttempt) =>
    a.ok
      ? t('backend.attempt.ok', { name: BACKEND_NAMES[a.name] ?? a.name })
      : t('backend.attempt.failed', {
          name: BACKEND_NAMES[a.name] ?? a.name,
          reason: t(`backend.reason.${a.reason ?? 'init'}`),
        });
  const text = backend
    ? `${t('backend.using', { name: BACKEND_NAMES[backend.name] ?? backend.name })} · ${t('backend.tried', { list: backend.attempts.map(attempt).join('; ') })}`
    : t('backend.starting');
  return h('p', { class: 'pg-backend', 'data-backend': backend?.name ?? '' }, [
    h('strong', { text: `${t('backend.label')}: ` }),
    text,
  ]);
}

/** Title, language switch, view tabs, the backend in use and any bad setting from the link. */
export function headerView(ctx: ViewContext): HTMLElement {
  const { t, settings } = ctx;
  const tabs = VIEWS.map((view) =>
    h('button', {
      type: 'button',
      class: 'pg-tab',
      id: `pg-tab-${view}`,
      'aria-pressed': String(settings.view === view),
      text: t(view === 'runs' ? 'tab.runs' : 'tab.landscape'),
      onclick: () => ctx.actions.change({ ...settings, view }, { redraw: true }),
    }),
  );
  const lang = select(
    'pg-lang',
    settings.lang,
    LANGS.map((l) => ({ value: l, label: LANGUAGE_NAMES[l] })),
    (value) => ctx.actions.change({ ...settings, lang: value as PlaygroundSettings['lang'] }, { redraw: true }),
  );
  return h('header', { class: 'pg-header' }, [
    h('div', { class: 'pg-headline' }, [
      h('h1', { text: t('page.title') }),
      h('label', { class: 'pg-lang', for: 'pg-lang' }, [h('span', { text: t('lang.label') }), lang]),
    ]),
    h('p', { class: 'pg-lead', text: t('page.lead') }),
    h('nav', { class: 'pg-tabs', 'aria-label': t('page.tabs') }, tabs),
    backendLine(ctx),
    ctx.problems.length > 0
      ? h('p', {
          class: 'pg-problems',
          role: 'alert',
          text: t('link.problems', { list: ctx.problems.map((p) => `${p.key}=${p.value}`).join(', ') }),
        })
      : null,
  ]);
}

/** What a text field of a settings form needs: its id, label, help and text, and how to apply a new text. */
export interface TextFieldOptions {
  id: string;
  label: StringKey;
  help?: StringKey;
  value: string;
  /** 'decimal' brings up a number keyboard on phones; lists need commas, so 'text'. */
  inputMode: 'text' | 'decimal';
  /** Applies the text when it is a valid value; false when it is not (the field then says so). */
  apply: (text: string) => boolean;
}

/** A labelled text input with its help and an error line that names the field when its text is not valid. */
export function textInputField(ctx: ViewContext, o: TextFieldOptions): HTMLElement {
  const error = h('span', { class: 'pg-error', id: `${o.id}-error`, 'aria-live': 'polite' });
  const input = h('input', {
    id: o.id,
    name: o.id,
    type: 'text',
    inputmode: o.inputMode,
    value: o.value,
    'aria-describedby': o.help ? `${o.id}-help ${o.id}-error` : `${o.id}-error`,
    onchange: (ev: Event) => {
      const el = ev.target as HTMLInputElement;
      const ok = o.apply(el.value);
      el.setAttribute('aria-invalid', String(!ok));
      error.textContent = ok ? '' : ctx.t('field.invalid', { field: ctx.t(o.label) });
    },
  });
  return h('div', { class: 'pg-field' }, [
    h('label', { for: o.id, text: ctx.t(o.label) }),
    input,
    o.help ? h('span', { class: 'pg-help', id: `${o.id}-help`, text: ctx.t(o.help) }) : null,
    error,
  ]);
}

/** A field that writes setting `name` on change (when its text is a valid value). */
function textField(ctx: ViewContext, name: SettingName, label: StringKey, help?: StringKey): HTMLElement {
  return textInputField(ctx, {
    id: `pg-${name}`,
    label,
    help,
    value: settingText(ctx.settings[name]),
    inputMode: name === 'batchSizes' || name === 'hidden' ? 'text' : 'decimal',
    apply: (text) => {
      const value = readSetting(name, text);
      if (value !== undefined) ctx.actions.change({ ...ctx.settings, [name]: value }, { redraw: false });
      return value !== undefined;
    },
  });
}

function selectField(
  ctx: ViewContext,
  name: 'dataset' | 'optimizer' | 'lrRule' | 'backend',
  label: StringKey,
  options: readonly { value: string; label: string }[],
): HTMLElement {
  const id = `pg-${name}`;
  const control = select(id, String(ctx.settings[name]), options, (value) => {
    const parsed = readSetting(name, value);
    if (parsed !== undefined) ctx.actions.change({ ...ctx.settings, [name]: parsed }, { redraw: false });
  });
  return h('div', { class: `pg-field pg-field-${name}` }, [h('label', { for: id, text: ctx.t(label) }), control]);
}

const optionsOf = <T extends string>(ctx: ViewContext, values: readonly T[], prefix: string) =>
  values.map((v) => ({ value: v, label: ctx.t(`${prefix}.${v}` as StringKey) }));

/** The Train / Pause / Resume button's text and state for the page's phase (updated in place while training). */
export function updatePrimaryButton(ctx: ViewContext, button: HTMLButtonElement): void {
  const { phase, t } = ctx;
  button.textContent = t(phase === 'training' ? 'button.pause' : phase === 'paused' ? 'button.resume' : 'button.train');
  button.disabled = phase === 'loading' || phase === 'starting' || !ctx.backend;
}

/** The settings of the runs and the Train (Pause, Resume) / Reset / Copy link buttons. */
export function runsControls(ctx: ViewContext): { form: HTMLElement; primary: HTMLButtonElement } {
  const { t } = ctx;
  const copyNote = h('span', { class: 'pg-copied', 'aria-live': 'polite' });
  const copy = () => {
    const done = (key: StringKey) => () => {
      copyNote.textContent = t(key);
    };
    // no clipboard API (an insecure context): say where the link is
    if (!navigator.clipboard) done('button.copyFailed')();
    else navigator.clipboard.writeText(location.href).then(done('button.copied'), done('button.copyFailed'));
  };
  const rules = (['fixed', 'linear', 'sqrt'] as const).map((r) => ({ value: r, label: t(`rule.${r}`) }));
  const backends = BACKENDS.map((b) => ({ value: b, label: b === 'auto' ? t('backend.auto') : BACKEND_NAMES[b]! }));
  const primary = h('button', {
    type: 'button',
    class: 'pg-primary',
    id: 'pg-train',
    onclick: () => ctx.actions.toggle(),
  });
  updatePrimaryButton(ctx, primary);
  const form = h(
    'form',
    {
      class: 'pg-controls',
      'aria-labelledby': 'pg-controls-legend',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        ctx.actions.train();
      },
    },
    [
      h('fieldset', {}, [
        h('legend', { id: 'pg-controls-legend', text: t('controls.legend') }),
        h('div', { class: 'pg-fields' }, [
          selectField(ctx, 'dataset', 'field.dataset', optionsOf(ctx, DATASETS, 'dataset')),
          textField(ctx, 'batchSizes', 'field.batchSizes', 'field.batchSizes.help'),
          selectField(ctx, 'optimizer', 'field.optimizer', optionsOf(ctx, OPTIMIZERS, 'optimizer')),
          textField(ctx, 'lr', 'field.lr'),
          textField(ctx, 'baseBatch', 'field.baseBatch'),
          selectField(ctx, 'lrRule', 'field.lrRule', rules),
          textField(ctx, 'hidden', 'field.hidden', 'field.hidden.help'),
          textField(ctx, 'epochs', 'field.epochs'),
          textField(ctx, 'seed', 'field.seed'),
          selectField(ctx, 'backend', 'field.backend', backends),
        ]),
      ]),
      h('div', { class: 'pg-buttons' }, [
        primary,
        h('button', { type: 'button', id: 'pg-reset', text: t('button.reset'), onclick: () => ctx.actions.reset() }),
        h('button', { type: 'button', id: 'pg-copy', text: t('button.copyLink'), onclick: copy }),
        copyNote,
        // Enter in a field submits the form: a hidden submit button makes that start training
        h('button', { type: 'submit', hidden: true, tabindex: -1, 'aria-hidden': 'true' }),
      ]),
    ],
  );
  return { form, primary };
}

/** One run's current numbers: LR, progress, recent loss, held-out accuracy, speed, B_simple. */
export function runCard(ctx: ViewContext, run: PlaygroundRun): HTMLElement {
  const { t } = ctx;
  const b = run.config.batchSize;
  const recent = run.steps.slice(-CARD_LOSS_STEPS);
  const loss = recent.length > 0 ? recent.reduce((a, s) => a + s.loss, 0) / recent.length : undefined;
  const lastTest = run.evals.filter((e) => e.split === 'test').at(-1);
  const sps = run.summary?.samplesPerSec ?? (run.trainMs > 0 ? (run.samples * 1000) / run.trainMs : undefined);
  const state: StringKey = `run.state.${run.status}`;
  const lines = [
    t('run.lr', { lr: fmt(ctx, run.config.lr) }),
    t('run.progress', {
      epoch: Math.min(run.epoch + (run.finished ? 0 : 1), run.config.epochs),
      epochs: run.config.epochs,
      step: run.steps.length,
    }),
    loss !== undefined ? t('run.loss', { loss: fmt(ctx, loss) }) : null,
    lastTest?.accuracy !== undefined ? t('run.accuracy', { acc: fmtPct(ctx, lastTest.accuracy) }) : null,
    sps !== undefined ? t('run.speed', { sps: fmt(ctx, sps) }) : null,
    run.noise.length > 0 ? t('run.noise', { value: fmt(ctx, run.noise.at(-1)!.bSimple) }) : null,
  ];
  return h('article', { class: 'pg-card', 'data-batch': b }, [
    h('h3', {}, [
      h('span', { class: 'pg-swatch', style: `background:${colorForBatch(b)}`, 'aria-hidden': 'true' }),
      t('run.title', { b }),
      h('span', { class: `pg-state pg-state-${run.status}`, text: ` · ${t(state)}` }),
    ]),
    h(
      'ul',
      {},
      lines.filter((l): l is string => l !== null).map((l) => h('li', { text: l })),
    ),
  ]);
}

/** The charts each effect points at. */
const EFFECT_CHARTS: Readonly<Record<EffectId, readonly ChartId[]>> = {
  memory: ['memory'],
  speed: ['speed', 'loss-time'],
  stability: ['loss-steps', 'noise'],
  generalization: ['accuracy'],
};
const CHART_TITLE_KEYS: Readonly<Record<ChartId, StringKey>> = {
  'loss-steps': 'chart.lossSteps',
  'loss-samples': 'chart.lossSamples',
  'loss-time': 'chart.lossTime',
  accuracy: 'chart.accuracy',
  speed: 'chart.speed',
  noise: 'chart.noise',
  memory: 'chart.memory',
};

function verdictChip(ctx: ViewContext, verdict: TrendResult['verdict'] | 'pending'): HTMLElement {
  return h('span', {
    class: `pg-verdict pg-verdict-${verdict}`,
    'data-verdict': verdict,
    text: ctx.t(`verdict.${verdict}`),
  });
}

/** One claim's trend in words: the factor (or points) per doubling of B with its 95% interval. */
function trendLine(ctx: ViewContext, claim: string, result: TrendResult | undefined, runs: number): string {
  const { t } = ctx;
  const name = t(`claim.${claim}` as StringKey);
  if (!result) return `${name}: ${t('result.notMeasured')}`;
  if (!result.interval) return t('trend.noNoise', { claim: name });
  const f = result.factorPerDoubling;
  const words = f
    ? f.low === f.high
      ? t('trend.factorExact', { claim: name, factor: fmt(ctx, f.estimate) })
      : t('trend.factor', { claim: name, factor: fmt(ctx, f.estimate), low: fmt(ctx, f.low), high: fmt(ctx, f.high) })
    : t('trend.points', {
        claim: name,
        slope: fmt(ctx, result.slopePerDoubling * 100, 2),
        low: fmt(ctx, result.interval.low * 100, 2),
        high: fmt(ctx, result.interval.high * 100, 2),
      });
  return `${words}. ${result.verdict === 'inconclusive' ? t('trend.within', { runs }) : t('trend.beyond')}`;
}

/** The numbers of one effect, smallest and largest batch. */
function resultText(ctx: ViewContext, effect: EffectId, runs: readonly FinishedRun[]): string[] {
  const { t } = ctx;
  const sorted = [...runs].sort((a, b) => a.summary.batchSize - b.summary.batchSize);
  const lo = sorted[0]!.summary;
  const hi = sorted.at(-1)!.summary;
  const ends = { bLo: lo.batchSize, bHi: hi.batchSize };
  const list = (value: (r: FinishedRun) => string) =>
    sorted.map((r) => `B = ${r.summary.batchSize}: ${value(r)}`).join('; ');
  if (effect === 'memory') {
    return [t('result.memory', { ...ends, lo: fmt(ctx, lo.peakBytes / 1e6), hi: fmt(ctx, hi.peakBytes / 1e6) })];
  }
  if (effect === 'speed') {
    return [
      t('result.speed', {
        ...ends,
        lo: fmt(ctx, lo.samplesPerSec),
        hi: fmt(ctx, hi.samplesPerSec),
        msLo: fmt(ctx, lo.stepMs.median),
        msHi: fmt(ctx, hi.stepMs.median),
      }),
    ];
  }
  if (effect === 'stability') {
    return [
      t('result.stability', { ...ends, lo: fmt(ctx, lo.lossNoise), hi: fmt(ctx, hi.lossNoise) }),
      t('result.noiseScale', {
        list: list((r) =>
          r.summary.noise.bSimple === undefined ? t('result.notMeasured') : fmt(ctx, r.summary.noise.bSimple),
        ),
      }),
    ];
  }
  return [
    t('result.accuracy', { list: list((r) => fmtPct(ctx, r.summary.final.test.accuracy)) }),
    t('result.gap', {
      list: list((r) =>
        fmtPct(ctx, (r.summary.final.train.accuracy ?? Number.NaN) - (r.summary.final.test.accuracy ?? Number.NaN)),
      ),
    }),
    t('result.sharpness', { list: list((r) => fmt(ctx, r.summary.sharpness?.topEigenvalue)) }),
  ];
}

/** A panel per effect: the usual advice, why, the numbers of the runs just trained, the verdicts, the charts. */
export function effectPanel(
  ctx: ViewContext,
  effect: EffectId,
  evidence: { runs: FinishedRun[]; claims: { claim: string; result?: TrendResult }[] } | undefined,
): HTMLElement {
  const { t } = ctx;
  const headline = evidence?.claims[0]?.result?.verdict ?? 'pending';
  const charts = EFFECT_CHARTS[effect].map((id) => h('a', { href: `#chart-${id}`, text: t(CHART_TITLE_KEYS[id]) }));
  const pointer = h('p', { class: 'pg-see' }, [
    `${t('see.label')} `,
    ...charts.flatMap((a, i) => (i === 0 ? [a] : [', ', a])),
  ]);
  const body = evidence
    ? [
        ...resultText(ctx, effect, evidence.runs).map((line) => h('p', { class: 'pg-result', text: line })),
        h(
          'ul',
          { class: 'pg-claims' },
          evidence.claims.map((c) =>
            h('li', { 'data-claim': c.claim }, [
              verdictChip(ctx, c.result?.verdict ?? 'inconclusive'),
              ' ',
              trendLine(ctx, c.claim, c.result, evidence.runs.length),
            ]),
          ),
        ),
      ]
    : [h('p', { class: 'pg-result', text: t('result.pending') })];
  return h('section', { class: 'pg-effect', 'data-effect': effect, 'aria-labelledby': `pg-effect-${effect}` }, [
    h('h3', { id: `pg-effect-${effect}` }, [
      t(`effect.${effect}`),
      ' ',
      h('span', { class: 'pg-verdict-label', text: `${t('verdict.label')}: ` }),
      verdictChip(ctx, headline),
    ]),
    h('p', { class: 'pg-advice', text: t(`advice.${effect}`) }),
    h('p', { class: 'pg-why', text: t(`why.${effect}`) }),
    ...body,
    pointer,
  ]);
}
