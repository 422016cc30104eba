/**
 * The playground's settings and their shareable URL: `?lang=ro&b=8,256&lr=0.01...` (the query string, so a
 * link works from a file:// page and from any static host). Pure: the page passes `location.search` in and
 * writes the result back, so parsing is tested in Node. A bad value in a link falls back to the default
 * and is reported by name, never thrown: a shared link must always open.
 */
import { LR_RULES, type LrRule } from '../../../src/core/lr.js';

export const LANGS = ['en', 'ro'] as const;
export type Lang = (typeof LANGS)[number];
export const VIEWS = ['runs', 'landscape'] as const;
export type View = (typeof VIEWS)[number];
export const DATASETS = ['spiral', 'gauss', 'mnist'] as const;
export type PlaygroundDataset = (typeof DATASETS)[number];
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type PlaygroundOptimizer = (typeof OPTIMIZERS)[number];
/** Backends in the order the page tries them ('auto'); naming one forces it. */
export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];
export const BACKENDS = ['auto', ...BACKEND_ORDER] as const;
export type BackendSetting = (typeof BACKENDS)[number];

/** Runs side by side: at least two (a comparison), at most four (readable charts). */
export const MIN_RUNS = 2;
export const MAX_RUNS = 4;
/** Largest batch size a run or a landscape path may use. */
export const MAX_BATCH = 2048;
export const MAX_LANDSCAPE_BATCH = 256;

export interface LandscapeSettings {
  batchSizes: number[];
  lr: number;
  steps: number;
  seeds: number;
}

export interface PlaygroundSettings {
  lang: Lang;
  view: View;
  dataset: PlaygroundDataset;
  /** Ascending, MIN_RUNS..MAX_RUNS distinct sizes. */
  batchSizes: number[];
  optimizer: PlaygroundOptimizer;
  /** Learning rate at `baseBatch`; each run's LR follows `lrRule` (core/lr.ts scaleLr). */
  lr: number;
  lrRule: LrRule;
  baseBatch: number;
  epochs: number;
  /** Seeds the initial weights and the sample order of every run (the same for all of them). */
  seed: number;
  /** MLP hidden widths. */
  hidden: number[];
  backend: BackendSetting;
  landscape: LandscapeSettings;
}

/**
 * Defaults chosen on this repository's machine: the spiral learns to about 80% held-out accuracy at B = 8
 * in 40 epochs with Adam at 0.01; B = 256 gets LR 0.01 x sqrt(32) by the square-root rule for Adam
 * (Malladi et al. 2022). The landscape's B = 1, 2, 64 at LR 0.06 show a clear escape, a partial one
 * (some seeds stay) and none.
 */
export const DEFAULT_SETTINGS: PlaygroundSettings = {
  lang: 'en',
  view: 'runs',
  dataset: 'spiral',
  batchSizes: [8, 256],
  optimizer: 'adam',
  lr: 0.01,
  lrRule: 'sqrt',
  baseBatch: 8,
  epochs: 40,
  seed: 1,
  hidden: [32, 32],
  backend: 'auto',
  landscape: { batchSizes: [1, 2, 64], lr: 0.06, steps: 500, seeds: 20 },
};

/** A setting a link got wrong: its query key and the raw value (the default was used instead). */
export interface SettingProblem {
  key: string;
  value: string;
}

type Reader<T> = (raw: string) => T | undefined;

const oneOf =
  <T extends string>(values: readonly T[]): Reader<T> =>
  (raw) =>
    (values as readonly string[]).includes(raw) ? (raw as T) : undefined;

const intIn =
  (min: number, max: number): Reader<number> =>
  (raw) => {
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  };

/** A decimal number; "0,05" is read as 0.05 (Romanian and many other languages write a decimal comma). */
const numberIn =
  (min: number, max: number): Reader<number> =>
  (raw) => {
    const text = /^\s*\d*,\d+\s*$/.test(raw) ? raw.replace(',', '.') : raw;
    const n = text.trim() === '' ? Number.NaN : Number(text);
    return Number.isFinite(n) && n > min && n <= max ? n : undefined;
  };

/** A comma list of integers in [min, max], `count` entries allowed; duplicates dropped, sorted ascending. */
const intList =
  (min: number, max: number, count: readonly [number, number], sorted = true): Reader<number[]> =>
  (raw) => {
    const parts = raw.split(',').map((p) => intIn(min, max)(p.trim()));
    if (parts.some((p) => p === undefined)) return undefined;
    const values = sorted ? [...new Set(parts as number[])].sort((a, b) => a - b) : (parts as number[]);
    return values.length >= count[0] && values.length <= count[1] ? values : undefined;
  };

/** Query key, reader and where the value goes, for every setting. */
const FIELDS = {
  lang: ['lang', oneOf(LANGS)],
  view: ['view', oneOf(VIEWS)],
  dataset: ['data', oneOf(DATASETS)],
  batchSizes: ['b', intList(1, MAX_BATCH, [MIN_RUNS, MAX_RUNS])],
  optimizer: ['opt', oneOf(OPTIMIZERS)],
  lr: ['lr', numberIn(0, 10)],
  lrRule: ['rule', oneOf(LR_RULES)],
  baseBatch: ['base', intIn(1, MAX_BATCH)],
  epochs: ['epochs', intIn(1, 1000)],
  seed: ['seed', intIn(0, 2 ** 31 - 1)],
  hidden: ['hidden', intList(1, 512, [1, 3], false)],
  backend: ['backend', oneOf(BACKENDS)],
} as const satisfies { [K in keyof Omit<PlaygroundSettings, 'landscape'>]: readonly [string, Reader<unknown>] };

const LANDSCAPE_FIELDS = {
  batchSizes: ['lb', intList(1, MAX_LANDSCAPE_BATCH, [1, MAX_RUNS])],
  lr: ['llr', numberIn(0, 1)],
  steps: ['steps', intIn(10, 5000)],
  seeds: ['seeds', intIn(1, 100)],
} as const satisfies { [K in keyof LandscapeSettings]: readonly [string, Reader<unknown>] };

/** The names of the settings a form field edits (all but the landscape's). */
export type SettingName = keyof typeof FIELDS;

/** A setting from a form field's text, or undefined when the text is not a valid value (the link rules). */
export function readSetting<K extends SettingName>(name: K, raw: string): PlaygroundSettings[K] | undefined {
  return (FIELDS[name][1] as Reader<PlaygroundSettings[K]>)(raw.trim());
}

/** A landscape setting from a form field's text, or undefined when it is not valid. */
export function readLandscapeSetting<K extends keyof LandscapeSettings>(
  name: K,
  raw: string,
): LandscapeSettings[K] | undefined {
  return (LANDSCAPE_FIELDS[name][1] as Reader<LandscapeSettings[K]>)(raw.trim());
}

/** A setting's value as a form field shows it: lists as "8, 256". */
export function settingText(value: unknown): string {
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** Reads every known key of `query` (a location.search); unknown keys are ignored, bad values reported. */
export function parseSettings(query: string): { settings: PlaygroundSettings; problems: SettingProblem[] } {
  const params = new URLSearchParams(query);
  const problems: SettingProblem[] = [];
  const read = <T>(key: string, reader: Reader<T>, fallback: T): T => {
    const raw = params.get(key);
    if (raw === null) return fallback;
    const value = reader(raw);
    if (value === undefined) problems.push({ key, value: raw });
    return value ?? fallback;
  };
  const settings = { ...DEFAULT_SETTINGS, landscape: { ...DEFAULT_SETTINGS.landscape } };
  const out = settings as unknown as Record<string, unknown>;
  for (const [name, [key, reader]] of Object.entries(FIELDS)) {
    out[name] = read(key, reader as Reader<unknown>, out[name]);
  }
  const landscape = settings.landscape as unknown as Record<string, unknown>;
  for (const [name, [key, reader]] of Object.entries(LANDSCAPE_FIELDS)) {
    landscape[name] = read(key, reader as Reader<unknown>, landscape[name]);
  }
  return { settings, problems };
}

const text = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));

/** The query string of `s` (with a leading '?'): only what differs from the defaults, in a fixed order. */
export function settingsToQuery(s: PlaygroundSettings): string {
  const params = new URLSearchParams();
  const add = (key: string, value: unknown, fallback: unknown): void => {
    if (text(value) !== text(fallback)) params.set(key, text(value));
  };
  for (const [name, [key]] of Object.entries(FIELDS)) {
    add(key, s[name as keyof typeof FIELDS], DEFAULT_SETTINGS[name as keyof typeof FIELDS]);
  }
  for (const [name, [key]] of Object.entries(LANDSCAPE_FIELDS)) {
    const field = name as keyof LandscapeSettings;
    add(key, s.landscape[field], DEFAULT_SETTINGS.landscape[field]);
  }
  const query = params.toString().replaceAll('%2C', ',');
  return query === '' ? '' : `?${query}`;
}
