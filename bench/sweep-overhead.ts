/**
 * The lab's own overhead on a sweep: runs `batchlab demo` (or a sweep with the arguments after `--`) and
 * prints where the time went, per phase summed over the runs, and the ratio
 *   sweep wall / sum of training time,
 * with sweep wall = the sweep's own wall time as it reports it ("sweep N finished in ...", the stored
 * SweepSummary.wallMs: from the first run's start to the summary) and training time = each run's trainMs
 * (the sum of its step times). The goal (../shared/product.md) is at most 1.25. The command's whole wall
 * time (Node start, the parent's own dataset load for the settings, the store) is printed beside it.
 *
 * The phases come from each run's stored summary (RunSummary.phasesMs): process start (Node, TF.js, the
 * backend's modules), data (loading the dataset, picking the backend), setup (model, weights, tensors),
 * train (= trainMs), eval, sharpness, record (steps and evaluations to the store), other (the trainer's
 * wall time less those), and "between runs": the sweep's wall time less the runs' own wall times (the
 * parent's scheduling, process exits, the summary). A batchlab from before phases were recorded shows
 * only train, "in the runs, not training" and "outside the runs".
 *
 * Side by side: `--compare DIR` (repeatable) adds another built checkout (e.g. the main branch's, with
 * node_modules linked and `npm run build` done); rounds interleave the checkouts, so a busy machine
 * slows all alike. The machine's load average is printed with each round: on a shared machine read the
 * ratios, not the seconds.
 *
 * Usage: npm run bench:sweep-overhead -- [--rounds N] [--compare DIR]... [--json] [-- SWEEP ARGS]
 *   e.g. npm run bench:sweep-overhead -- --rounds 3 --compare /tmp/main-build
 *        npm run bench:sweep-overhead -- -- --batch-sizes 16,64,256 --budget samples=20000 --parallel 2
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Phases in the order printed; `between` and `notTraining` are derived here, the rest stored per run. */
const PHASES = [
  'processStart',
  'data',
  'setup',
  'train',
  'eval',
  'sharpness',
  'record',
  'other',
  'notTraining',
  'between',
] as const;
type Phase = (typeof PHASES)[number];

const PHASE_LABELS: Record<Phase, string> = {
  processStart: 'process start (Node, TF.js)',
  data: 'data load, backend',
  setup: 'model, weights, tensors',
  train: 'training steps (trainMs)',
  eval: 'evaluations',
  sharpness: 'sharpness',
  record: 'store writes',
  other: 'other, in the trainer',
  notTraining: 'in the runs, not training',
  between: 'between runs (parent)',
};

interface Round {
  tree: string;
  load: number;
  commandMs: number;
  sweepMs: number;
  trainMs: number;
  runs: number;
  phases: Partial<Record<Phase, number>>;
}

interface Options {
  rounds: number;
  trees: string[];
  sweepArgs: string[];
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const o: Options = { rounds: 1, trees: [ROOT], sweepArgs: dash < 0 ? [] : argv.slice(dash + 1), json: false };
  for (let i = 0; i < own.length; i++) {
    if (own[i] === '--rounds') o.rounds = Number(own[++i]);
    else if (own[i] === '--compare') o.trees.push(resolve(own[++i]!));
    else if (own[i] === '--json') o.json = true;
    else throw new Error(`unknown argument ${own[i]}; see the usage at the top of bench/sweep-overhead.ts`);
  }
  if (!Number.isSafeInteger(o.rounds) || o.rounds < 1) throw new Error('--rounds takes a positive integer');
  return o;
}

/** Sums the stored phases of the runs of the sweep in `dbPath`. */
function readSweep(dbPath: string): Omit<Round, 'tree' | 'load' | 'commandMs'> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const exp = db.prepare("SELECT summary FROM experiments WHERE kind = 'sweep' ORDER BY id DESC").get() as {
      summary: string;
    };
    const rows = db.prepare("SELECT summary FROM runs WHERE status = 'done'").all() as { summary: string }[];
    const phases: Partial<Record<Phase, number>> = {};
    let trainMs = 0;
    let runWallMs = 0;
    for (const row of rows) {
      const s = JSON.parse(row.summary) as { trainMs: number; wallMs: number; phasesMs?: Record<string, number> };
      trainMs += s.trainMs;
      // A run's wall time: its trainer's, plus what the trainer did not see (process start, data load).
      const outside = (s.phasesMs?.processStart ?? 0) + (s.phasesMs?.data ?? 0);
      runWallMs += s.wallMs + outside;
      for (const [k, v] of Object.entries(s.phasesMs ?? {})) phases[k as Phase] = (phases[k as Phase] ?? 0) + v;
    }
    const sweepMs = (JSON.parse(exp.summary) as { wallMs: number }).wallMs;
    if (phases.train === undefined) {
      phases.train = trainMs;
      phases.notTraining = runWallMs - trainMs;
    }
    phases.between = sweepMs - runWallMs;
    return { sweepMs, trainMs, runs: rows.length, phases };
  } finally {
    db.close();
  }
}

/** One sweep with the checkout `tree`'s batchlab, in a fresh folder. */
function runOnce(tree: string, sweepArgs: string[]): Round {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-overhead-'));
  try {
    const load = loadavg()[0]!;
    const startMs = performance.now();
    const r = spawnSync(
      process.execPath,
      [join(tree, 'bin', 'batchlab.js'), 'demo', '--db', join(dir, 'b.db'), '--no-report', ...sweepArgs],
      { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const commandMs = performance.now() - startMs;
    if (r.status !== 0) throw new Error(`batchlab demo in ${tree} exited with ${r.status}:\n${r.stderr.slice(-2000)}`);
    return { tree, load, commandMs, ...readSweep(join(dir, 'b.db')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The table of one checkout: medians over its rounds. */
function report(tree: string, rounds: Round[]): string {
  const m = (f: (r: Round) => number) => median(rounds.map(f));
  const train = m((r) => r.trainMs);
  const lines = [
    `${tree}: ${rounds.length} round(s), ${rounds[0]!.runs} runs; load average ${rounds.map((r) => r.load.toFixed(2)).join(', ')}`,
    `  sweep wall ${sec(m((r) => r.sweepMs))}, command wall ${sec(m((r) => r.commandMs))}, training ${sec(train)}`,
    `  ratio sweep wall / training: ${m((r) => r.sweepMs / r.trainMs).toFixed(3)} (per round: ${rounds.map((r) => (r.sweepMs / r.trainMs).toFixed(3)).join(', ')})`,
    `  ratio command wall / training: ${m((r) => r.commandMs / r.trainMs).toFixed(3)}`,
    '  phase (summed over runs; median of rounds)     time     share of sweep wall',
  ];
  for (const p of PHASES) {
    if (rounds.every((r) => r.phases[p] === undefined)) continue;
    const ms = m((r) => r.phases[p] ?? 0);
    const share = ms / m((r) => r.sweepMs);
    lines.push(`    ${PHASE_LABELS[p].padEnd(44)} ${sec(ms).padStart(9)}  ${(share * 100).toFixed(1).padStart(5)}%`);
  }
  return lines.join('\n');
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const rounds: Round[] = [];
  for (let i = 0; i < o.rounds; i++) {
    for (const tree of o.trees) {
      const r = runOnce(tree, o.sweepArgs);
      rounds.push(r);
      console.error(
        `round ${i + 1}/${o.rounds} ${tree}: sweep ${sec(r.sweepMs)}, training ${sec(r.trainMs)}, ratio ${(r.sweepMs / r.trainMs).toFixed(3)} (load ${r.load.toFixed(2)})`,
      );
    }
  }
  if (o.json) {
    console.log(JSON.stringify({ sweepArgs: o.sweepArgs, rounds }, null, 2));
    return;
  }
  console.log(`batchlab demo ${o.sweepArgs.join(' ')}`.trim());
  for (const tree of o.trees)
    console.log(
      `\n${report(
        tree,
        rounds.filter((r) => r.tree === tree),
      )}`,
    );
}

main();
