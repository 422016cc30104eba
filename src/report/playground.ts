/**
 * The browser playground that `npm run build` writes into dist/playground/ (web/playground.mjs): a static
 * page that trains with TF.js in the browser, no server and no network. Here: where it is, and a copy of
 * it in another folder (to host it as static files). src/report/*.ts (tsx) and dist/report/*.js both sit
 * two folders below the package root, so the folder is found the same way from either.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchlabError } from '../core/errors.js';
import { writeOutputFile } from '../store/index.js';

export const PLAYGROUND_DIR = fileURLToPath(new URL('../../dist/playground/', import.meta.url));

/** Every file of the page; index.html loads the others by relative paths, so they travel together. */
export const PLAYGROUND_FILES = [
  'index.html',
  'playground.js',
  'playground.css',
  'uPlot.min.css',
  'tfjs-wasm.js',
  'mnist-subset.js',
] as const;

/** The path of index.html in `dir`; BATCHLAB_NOT_BUILT naming the missing file when the page was never built. */
export function playgroundIndex(dir: string = PLAYGROUND_DIR): string {
  const missing = PLAYGROUND_FILES.find((name) => !existsSync(join(dir, name)));
  if (missing !== undefined) {
    throw new BatchlabError(
      'BATCHLAB_NOT_BUILT',
      `${join(dir, missing)} is missing: the playground is built by \`npm run build\` (web/build.mjs); run it in the batchlab folder`,
    );
  }
  return join(dir, 'index.html');
}

/** Copies the page's files into `target` (created if needed) and returns the copy's index.html. */
export function copyPlayground(target: string, from: string = PLAYGROUND_DIR): string {
  playgroundIndex(from);
  const dir = resolve(target);
  mkdirSync(dir, { recursive: true });
  for (const name of PLAYGROUND_FILES) writeOutputFile({ path: join(dir, name), data: readFileSync(join(from, name)) });
  return join(dir, 'index.html');
}
