/** What the view functions draw with: the page's language, settings and state, and its actions. */
import { num, pct } from '../../../src/core/format.js';
import type { BackendChoice } from './backend.js';
import type { Lang, PlaygroundSettings, SettingProblem } from './settings.js';
import { localizeNumber, type StringKey } from './strings.js';

export type Phase = 'starting' | 'idle' | 'loading' | 'training' | 'paused' | 'done' | 'failed';

export type Translate = (key: StringKey, params?: Record<string, string | number>) => string;

export interface ViewContext {
  lang: Lang;
  t: Translate;
  settings: PlaygroundSettings;
  problems: readonly SettingProblem[];
  backend: BackendChoice | undefined;
  phase: Phase;
  error: string | undefined;
  actions: {
    /** New settings; `redraw` when the page must be drawn again (language, view). */
    change(next: PlaygroundSettings, opts: { redraw: boolean }): void;
    /** Starts (or resumes) training; nothing while training. */
    train(): void;
    /** The primary button: pause while training, else train or resume. */
    toggle(): void;
    reset(): void;
  };
}

/** A number through batchlab's one formatter, with the language's separators. */
export function fmt(ctx: Pick<ViewContext, 'lang'>, x: number | undefined, digits = 3): string {
  return localizeNumber(ctx.lang, num(x, digits));
}

/** A fraction as a percentage with one decimal, with the language's separators. */
export function fmtPct(ctx: Pick<ViewContext, 'lang'>, x: number | undefined): string {
  return localizeNumber(ctx.lang, pct(x, 1));
}
