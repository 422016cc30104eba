#!/usr/bin/env node
// Bundles the browser code for `npm run build`:
// - web/src/report.ts -> dist/web/report.js (inlined into every HTML report) and web/src/dashboard.ts ->
//   dist/web/dashboard.js (served by `batchlab serve`). Each bundle holds uPlot and the pieces of src/core it
//   imports, so a page needs no other script.
// - the playground, dist/playground/ (web/playground.mjs): a static page that trains with TF.js in the browser.
// Type checking is `tsc -p web/tsconfig.json` (esbuild only strips types).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildPlayground } from './playground.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const uplot = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('uplot/package.json'), 'utf8'));
// uPlot's own header is not a legal comment esbuild keeps; its MIT notice must travel with the bundle
const uplotBanner = `/*! uPlot v${uplot.version} (c) Leon Sorokin, MIT License, https://github.com/leeoniya/uPlot */`;

await build({
  absWorkingDir: root,
  entryPoints: { report: 'web/src/report.ts', dashboard: 'web/src/dashboard.ts' },
  outdir: 'dist/web',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  legalComments: 'inline',
  banner: { js: uplotBanner },
  logLevel: 'warning',
});

await buildPlayground({ root, banner: uplotBanner });
