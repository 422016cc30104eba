/**
 * The browser files a report inlines and the dashboard serves: the page code bundled by `npm run build`
 * (web/build.mjs: web/src -> dist/web/report.js and dashboard.js, each with uPlot inside), the styles in
 * web/app.css, and uPlot's stylesheet from node_modules. Both src/report/*.ts (run by tsx) and
 * dist/report/*.js sit two folders below the package root, so the files are found the same way from either.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchlabError } from '../core/errors.js';

/** The package's web/ folder (the page styles; the TypeScript sources of the page code). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/** Where `npm run build` writes the page bundles. */
export const BUNDLE_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** uPlot's dist folder (its stylesheet; its code is inside the bundles). */
export function uplotDistDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot/dist/uPlot.min.css'));
}

/** Files a page needs, by the name the dashboard serves them under /static/. */
export const ASSET_FILES = {
  'uPlot.min.css': () => join(uplotDistDir(), 'uPlot.min.css'),
  'app.css': () => join(WEB_DIR, 'app.css'),
  'report.js': () => join(BUNDLE_DIR, 'report.js'),
  'dashboard.js': () => join(BUNDLE_DIR, 'dashboard.js'),
} as const;

export type AssetName = keyof typeof ASSET_FILES;

export function isAssetName(name: string): name is AssetName {
  return Object.hasOwn(ASSET_FILES, name);
}

/**
 * Reads one asset as UTF-8 text (read on each call: a report is rendered once, a server caches nothing).
 * A missing bundle means the browser code was never built: BATCHLAB_NOT_BUILT saying so (exit 1).
 */
export function readAsset(name: AssetName): string {
  const path = ASSET_FILES[name]();
  if (!existsSync(path)) {
    throw new BatchlabError(
      'BATCHLAB_NOT_BUILT',
      `${path} is missing: the page code is built by \`npm run build\` (web/build.mjs); run it in the batchlab folder`,
    );
  }
  return readFileSync(path, 'utf8');
}
