/**
 * The layers hold: every import and export-from of every .ts file under src (as TypeScript's own
 * scanner reads them, comments and strings excluded) points at its own layer or one below it, and
 * src/core imports nothing outside itself, node: built-ins and packages included. Bottom to top
 * (../shared/product.md): core < data, models < engine < store < lab < report < server < cli < index.
 * Tests next to the source (src/core/*.test.ts) are not part of the library and may import node:test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Rank of each layer: a file may import its own rank or lower. data and models are peers. */
const LAYER_RANK: Readonly<Record<string, number>> = {
  core: 0,
  'version.ts': 0, // a constant that imports nothing
  data: 1,
  models: 1,
  engine: 2,
  store: 3,
  lab: 4,
  report: 5,
  server: 6,
  cli: 7,
  'index.ts': 8,
};

/** Every .ts file under `dir` but tests, as paths relative to src. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [relative(SRC, path)] : [];
  });
}

/** The layer of a path relative to src: its first folder, or the file itself at the top. */
function layerOf(path: string): string {
  return path.split(sep)[0]!;
}

/** The module specifiers a source text imports or re-exports (static, dynamic and side-effect imports). */
function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** What is wrong with one import of `file`, or undefined when it respects the layers. */
function violation(file: string, specifier: string): string | undefined {
  const from = layerOf(file);
  if (!specifier.startsWith('.')) {
    return from === 'core' ? `${file} imports "${specifier}": src/core imports nothing outside itself` : undefined;
  }
  const target = relative(SRC, resolve(SRC, dirname(file), specifier)).replace(/\.js$/, '.ts');
  if (target.startsWith('..')) return `${file} imports "${specifier}", outside src`;
  const to = layerOf(target);
  if (!(from in LAYER_RANK)) return `${file} is in no layer (add "${from}" to LAYER_RANK)`;
  if (!(to in LAYER_RANK)) return `${file} imports "${specifier}", in no layer`;
  if (from === 'core' && to !== 'core')
    return `${file} imports "${specifier}": src/core imports nothing outside itself`;
  return LAYER_RANK[to]! > LAYER_RANK[from]!
    ? `${file} (${from}) imports "${specifier}" (${to}), a layer above it`
    : undefined;
}

test('the layer rule itself: core imports nothing outside, no layer imports one above it', () => {
  assert.match(violation(join('core', 'fit.ts'), 'node:fs') ?? '', /src\/core imports nothing outside itself/);
  assert.match(violation(join('core', 'fit.ts'), 'zod') ?? '', /src\/core imports nothing outside itself/);
  assert.match(violation(join('core', 'fit.ts'), '../data/types.js') ?? '', /src\/core imports nothing/);
  assert.match(violation(join('engine', 'trainer.ts'), '../lab/run/execute.js') ?? '', /a layer above it/);
  assert.match(violation(join('data', 'csv.ts'), '../store/index.js') ?? '', /a layer above it/);
  assert.match(violation(join('lab', 'run', 'child.ts'), '../../cli/main.js') ?? '', /a layer above it/);
  assert.equal(violation(join('cli', 'main.ts'), '../lab/sweep/sweep.js'), undefined);
  assert.equal(violation(join('models', 'index.ts'), '../data/types.js'), undefined, 'peers');
  assert.equal(violation(join('engine', 'backends', 'native.ts'), 'node:module'), undefined);
  assert.equal(violation('index.ts', './cli/main.js'), undefined);
  assert.deepEqual(importsOf("// import x from 'y'\nimport type { A } from './a.js';\nexport * from './b.js';"), [
    './a.js',
    './b.js',
  ]);
});

test('every import under src respects the layers', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 50, `found only ${files.length} files under ${SRC}`);
  const problems = files.flatMap((file) =>
    importsOf(readFileSync(join(SRC, file), 'utf8'))
      .map((specifier) => violation(file, specifier))
      .filter((v): v is string => v !== undefined),
  );
  assert.deepEqual(problems, []);
});
