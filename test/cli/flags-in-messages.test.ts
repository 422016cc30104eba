/**
 * Every flag a message names exists: the string literals and templates of src (read by TypeScript's
 * parser, comments excluded) are scanned for `--flag`, and each must be a flag some command defines
 * (collected from the command definitions), a flag of another program at the one place that calls it,
 * or one named below as coming with work in flight. Text inside a quoted training command ("python3
 * train.py --max-steps {max_steps}") is the user's script's, not batchlab's, and is skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { COMMANDS } from '../../src/cli/main.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Flags of other programs, allowed only in the file that runs that program. */
const FOREIGN_FLAGS: Readonly<Record<string, readonly string[]>> = {
  'engine/external/runner.ts': ['as'], // prlimit --as=BYTES
  'engine/oom.ts': ['as'], // names prlimit --as in the reason of an address-space failure
  'engine/external/gpu.ts': ['query-compute-apps'], // nvidia-smi
  'lab/run/child.ts': ['import', 'expose-gc'], // node --import tsx --expose-gc
  'lab/launch/slurm.ts': ['import'], // the job script's node --import tsx
  'lab/launch/slurm-cli.ts': ['parsable', 'job-name', 'noheader', 'states', 'jobs'], // sbatch, squeue
  'engine/backends/native-addon.ts': ['directory'], // npx node-gyp rebuild --directory native
};

/**
 * Flags that other work in progress defines. Once a command defines one, this test fails until it is
 * removed from here.
 */
const IN_FLIGHT_FLAGS: readonly string[] = [];

/** Flags every command takes, and the top level's. */
function definedFlags(): Set<string> {
  return new Set(['help', 'version', ...COMMANDS.flatMap((c) => c.flags)]);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The text of every string literal and template piece of a source file. */
function stringsOf(path: string): string[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node)) {
      out.push(node.head.text, ...node.templateSpans.map((s) => s.literal.text));
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/**
 * The flags a text names, outside quoted training commands (a quoted text with a {placeholder}) and
 * outside the quoted sbatch options of --slurm ("--partition=gpu" is sbatch's flag).
 */
function flagsNamed(text: string): string[] {
  const outsideCommands = text.replace(/"[^"]*\{[a-z_]+\}[^"]*"/g, '""').replace(/--slurm "[^"]*"/g, '--slurm ""');
  return [...outsideCommands.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!);
}

test('every flag named in a message under src is one a command defines', () => {
  const defined = definedFlags();
  const wrong: string[] = [];
  for (const path of sourceFiles(SRC)) {
    const file = relative(SRC, path);
    const allowed = new Set([...(FOREIGN_FLAGS[file] ?? []), ...IN_FLIGHT_FLAGS]);
    for (const text of stringsOf(path))
      for (const flag of flagsNamed(text))
        if (!defined.has(flag) && !allowed.has(flag)) wrong.push(`${file}: --${flag} in "${text.slice(0, 120)}"`);
  }
  assert.deepEqual(wrong, [], `messages name flags no command defines:\n${wrong.join('\n')}`);
});

test('the flags in flight are not defined yet (remove one from IN_FLIGHT_FLAGS once a command defines it)', () => {
  const defined = definedFlags();
  assert.deepEqual(
    IN_FLIGHT_FLAGS.filter((f) => defined.has(f)),
    [],
  );
});

test('the scan finds flags where they are, and skips quoted training commands', () => {
  assert.deepEqual(flagsNamed('pass --batch-size 64 or --lr=0.1; not a-b--c'), ['batch-size', 'lr']);
  assert.deepEqual(flagsNamed('pass e.g. --cmd "python3 train.py --max-steps {max_steps}"'), ['cmd']);
  assert.deepEqual(flagsNamed('ask with --slurm "--gres=gpu:1" or --parallel 2'), ['slurm', 'parallel']);
  assert.ok(definedFlags().has('memory-budget') && definedFlags().has('resume') && definedFlags().has('output'));
});
