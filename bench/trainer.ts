/**
 * ms/step of batchlab's REAL trainer (`trainTfjs`: row gather, variableGrads over the layers model,
 * softmax cross-entropy, |g|^2, momentum update, one read-back per step) on batchlab-native and wasm,
 * MNIST MLP 784-256-10 at B = 16, 64, 256, 1024 and the CNN at B = 64 (wasm cannot train convolutions).
 *
 * Each cell runs in its own child process (a fresh TF.js engine), trains until `warmup` steps plus
 * about TIMED_MS of steps are done, and reports the median StepRecord.stepMs of the post-warm-up steps
 * (steps that `runStep` memory-profiles are left out: they run under tf.profile and are slower).
 *
 * Comparing with a baseline: pass `--baseline DIR`, a second checkout with its own built addon, e.g.
 *   git worktree add /tmp/bl-base HEAD && ln -s $PWD/node_modules /tmp/bl-base/node_modules \
 *     && (cd /tmp/bl-base && npx node-gyp rebuild --directory native)
 * The machine is shared, so baseline and current cells are interleaved (base, current, base, current,
 * ...) for `--rounds` rounds and each reports its best median: interference only ever slows a cell.
 * Usage: npx tsx bench/trainer.ts [--baseline DIR] [--rounds N] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
/** Steps before timing starts: lets V8 compile the step and the allocator settle. */
const WARMUP_STEPS = 15;
/** Timed training per cell, in ms (at least MIN_TIMED_STEPS steps). */
const TIMED_MS = 1500;
const MIN_TIMED_STEPS = 8;

interface CellSpec {
  model: 'mlp' | 'cnn';
  batch: number;
  backend: 'batchlab-native' | 'wasm';
  tree: string;
}
interface CellResult {
  msPerStep: number;
  steps: number;
}

const CELLS: Omit<CellSpec, 'tree'>[] = [
  ...[16, 64, 256, 1024].flatMap((batch) =>
    (['batchlab-native', 'wasm'] as const).map((backend) => ({ model: 'mlp' as const, batch, backend })),
  ),
  { model: 'cnn', batch: 64, backend: 'batchlab-native' },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Child: trains one cell with the `tree` checkout's trainer and prints one JSON line. */
async function runCell(spec: CellSpec): Promise<void> {
  const load = (p: string) => import(pathToFileURL(join(spec.tree, p)).href);
  const { selectBackend } = await load('src/engine/backends/select.ts');
  const { loadDataset } = await load('src/data/registry.ts');
  const { trainTfjs } = await load('src/engine/tfjs/train.ts');
  await selectBackend({ requested: spec.backend, needsConv: spec.model === 'cnn' });
  const data = loadDataset('mnist', {});
  // The final evaluations are outside the timed steps; a small held-out split keeps them short.
  const test = { ...data.test, count: 256, x: data.test.x.subarray(0, 256 * 784), y: data.test.y.subarray(0, 256) };
  const times: number[] = [];
  const controller = new AbortController();
  let timedMs = 0;
  await trainTfjs({
    data: { ...data, test },
    model: { name: spec.model },
    settings: {
      batchSize: spec.batch,
      accumSteps: 1,
      budget: { maxSteps: 100_000 },
      lastBatch: 'drop',
      seed: 1,
      optimizer: { name: 'momentum' },
      lrAt: () => 0.05,
      evalEvery: 0,
      evalTrainLimit: 256,
    },
    hooks: {
      signal: controller.signal,
      onStep: (s: { step: number; stepMs: number }) => {
        if (s.step <= WARMUP_STEPS || s.step % 100 === 0) return; // warm-up, or a memory-profiled step
        times.push(s.stepMs);
        timedMs += s.stepMs;
        if (timedMs >= TIMED_MS && times.length >= MIN_TIMED_STEPS) controller.abort();
      },
    },
  });
  const result: CellResult = { msPerStep: median(times), steps: times.length };
  console.log(JSON.stringify(result));
}

function spawnCell(spec: CellSpec): CellResult | { error: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--cell', JSON.stringify(spec)],
    { encoding: 'utf8', cwd: ROOT },
  );
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as CellResult;
  } catch {
    return { error: (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ') };
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const cellArg = argv.indexOf('--cell');
  if (cellArg >= 0) return runCell(JSON.parse(argv[cellArg + 1]!) as CellSpec);
  const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const baseline = opt('--baseline');
  if (baseline !== undefined && !existsSync(join(baseline, 'src', 'engine', 'tfjs', 'train.ts')))
    throw new Error(`--baseline ${baseline}: not a batchlab checkout`);
  const rounds = Number(opt('--rounds') ?? (baseline ? 2 : 1));
  const cells = argv.includes('--quick') ? CELLS.filter((c) => c.batch === 64) : CELLS;
  const trees: [string, string][] = [
    ...(baseline ? [['baseline', resolve(baseline)] as [string, string]] : []),
    ['current', ROOT],
  ];
  console.log(
    `load average: ${existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').trim() : 'n/a'}; rounds ${rounds}`,
  );
  console.log(
    [
      'model',
      'B',
      'backend',
      ...trees.flatMap(([t]) => [`${t} ms/step`, `${t} samples/s`]),
      ...(baseline ? ['speed-up'] : []),
    ].join('\t'),
  );
  const rows: Record<string, unknown>[] = [];
  for (const cell of cells) {
    const best = new Map<string, number>();
    for (let r = 0; r < rounds; r++) {
      for (const [label, tree] of trees) {
        const res = spawnCell({ ...cell, tree });
        if ('error' in res) console.log(`  ${label} ${cell.model}/${cell.batch}/${cell.backend} failed: ${res.error}`);
        else best.set(label, Math.min(best.get(label) ?? Infinity, res.msPerStep));
      }
    }
    const cols = trees.flatMap(([t]) => {
      const ms = best.get(t);
      return ms === undefined ? ['', ''] : [ms.toFixed(3), ((cell.batch * 1000) / ms).toFixed(0)];
    });
    const b = best.get('baseline'),
      c = best.get('current');
    const speedup = b !== undefined && c !== undefined ? `${(b / c).toFixed(2)}x` : '';
    console.log([cell.model, cell.batch, cell.backend, ...cols, ...(baseline ? [speedup] : [])].join('\t'));
    rows.push({ ...cell, msPerStep: Object.fromEntries(best) });
  }
  mkdirSync(join(HERE, 'results'), { recursive: true });
  writeFileSync(
    join(HERE, 'results', 'trainer.json'),
    JSON.stringify(
      { date: new Date().toISOString(), warmupSteps: WARMUP_STEPS, timedMs: TIMED_MS, rounds, baseline, rows },
      null,
      2,
    ),
  );
  console.log(`\nwrote ${join('bench', 'results', 'trainer.json')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
