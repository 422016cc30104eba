// Checks an esbuild metafile of a browser bundle for Node-only code: every `node:` import (the playground
// build marks them external so that they show up here instead of failing to resolve) and every Node
// built-in imported by batchlab's own code. Packages may keep Node code paths whose built-ins their
// package.json "browser" field switches off (esbuild lists those as "(disabled):fs"); our code may not.
import { builtinModules } from 'node:module';

const BUILTINS = new Set(builtinModules);

/** True for a Node built-in module name, with or without the `node:` prefix. */
function isBuiltin(path) {
  return path.startsWith('node:') || BUILTINS.has(path);
}

/**
 * The Node-only imports of a bundle, as "importer -> module" lines; empty when the bundle can run in a
 * browser. `metafile` is esbuild's (build option `metafile: true`).
 */
export function nodeImportProblems(metafile) {
  const problems = [];
  for (const [importer, input] of Object.entries(metafile.inputs)) {
    const ours = !importer.includes('node_modules/');
    for (const imp of input.imports) {
      const disabled = imp.path.startsWith('(disabled):');
      const name = disabled ? imp.path.slice('(disabled):'.length) : imp.path;
      if (imp.path.startsWith('node:') || (isBuiltin(name) && (ours || !disabled))) {
        problems.push(`${importer} -> ${imp.original ?? imp.path}`);
      }
    }
  }
  return problems;
}
