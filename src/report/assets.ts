/**
 * The browser files a report inlines and the dashboard serves: uPlot (bundled from node_modules, so a
 * report needs no network) and batchlab's own page code in web/. Both src/report/*.ts (run by tsx) and
 * dist/report/*.js sit two folders below the package root, so web/ is found the same way from either.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's web/ folder (static files of the report and the dashboard). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/** uPlot's dist folder (the IIFE build defines a global `uPlot`, which the page code uses). */
export function uplotDistDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
}

/** Files a page needs, by the name the dashboard serves them under /static/. */
export const ASSET_FILES = {
  'uPlot.iife.min.js': () => join(uplotDistDir(), 'uPlot.iife.min.js'),
  'uPlot.min.css': () => join(uplotDistDir(), 'uPlot.min.css'),
  'app.js': () => join(WEB_DIR, 'app.js'),
  'app.css': () => join(WEB_DIR, 'app.css'),
  'dashboard.js': () => join(WEB_DIR, 'dashboard.js'),
} as const;

export type AssetName = keyof typeof ASSET_FILES;

/** Reads one asset as UTF-8 text (read on each call: a report is rendered once, a server caches nothing). */
export function readAsset(name: AssetName): string {
  return readFileSync(ASSET_FILES[name](), 'utf8');
}
