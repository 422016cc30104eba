/**
 * Validation of the batch-size warm-up (issue 19): does the schedule `batchlab branch` recommends reach a
 * held-out target in fewer steps than a fixed small batch, at an equal or better final held-out metric?
 *
 * For each task:
 * 1. the branch measurement (lab/branch runBranch, defaults: 6 geometric checkpoints over the run, windows
 *    of 1/16 of it, branches at 2..16x the base batch, 3 seeds, LR by the linear rule) gives the schedule;
 * 2. three arms train for the same samples budget (the full run), 3 seeds each, in this process:
 *    - fixed small: the base batch and LR;
 *    - schedule: the recommended --batch-schedule (LR by the rule at each change);
 *    - fixed large: the schedule's largest batch (8x the base batch when the schedule never grows), LR by
 *      the rule;
 *    the same seed gives the same initial weights in every arm (so arms pair by seed);
 * 3. steps to the target: the first periodic evaluation (EVALS_PER_RUN per run, on the first
 *    `evalTestLimit` held-out samples) at or above the target accuracy; the final held-out accuracy and
 *    loss on the whole held-out split. Means over seeds with 95% t intervals; schedule against fixed small
 *    paired by seed (steps ratio, accuracy difference).
 * Prints the table, the verdict, the held-out accuracy curves (mean over seeds at each tenth of the budget),
 * what the measurement cost, the wall time and the load average; writes bench/results/validate-schedule.json.
 *
 * Usage: npx tsx bench/validate-schedule.ts [--task mlp,cnn|all] [--keep DIR] [--quick]
 * (--keep DIR: keep each task's measurement in DIR/<task>.db, and reuse a finished one found there)
 * (--quick: a tenth of the budgets, 3 checkpoints, branches at 2x and 4x, 2 seeds: to check the script, not
 * to validate)
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBatchSchedule } from '../src/core/batch-schedule.js';
import type { BranchSummary } from '../src/core/branch-summary.js';
import { geometricCheckpoints } from '../src/core/critical-batch.js';
import { duration, num, pct } from '../src/core/format.js';
import { tInterval } from '../src/core/intervals.js';
import { scaleLr } from '../src/core/lr.js';
import type { EvalRecord } from '../src/core/types.js';
import { trainConfig, type TrainConfig } from '../src/engine/tfjs/trainer.js';
import { type BranchSettings, branchSettings, runBranch } from '../src/lab/branch/branch.js';
import { type Experiment, openStore } from '../src/store/index.js';
import { train } from '../src/lab/run/train.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = resolve(HERE, 'results', 'validate-schedule.json');
const EVALS_PER_RUN = 60;
const SEEDS = [1, 2, 3];
const CONFIDENCE = 0.95;

interface Task {
  id: string;
  name: string;
  base: TrainConfig;
  /** The full run: the budget of every arm, and the run the checkpoints are placed in. */
  totalSamples: number;
  targetAccuracy: number;
  evalTestLimit: number;
}

const TASKS: Task[] = [
  {
    id: 'mlp',
    name: 'MNIST MLP 784-256-10, SGD momentum 0.9, LR 0.02 at B = 32 (linear rule), 2 epochs (120,000 samples)',
    base: trainConfig({
      dataset: 'mnist',
      model: { name: 'mlp', hidden: [256] },
      optimizer: { name: 'momentum' },
      lr: 0.02,
      batchSize: 32,
      seed: 1,
      evalTrainLimit: 2_000,
    }),
    totalSamples: 120_000,
    // 95%, not 97%: in the full run of 2026-11-29 no arm's periodic evaluation reached 97% (the fixed small
    // batch ended at 96.4% on these 2,000 samples), so steps to 97% compared nothing.
    targetAccuracy: 0.95,
    evalTestLimit: 2_000,
  },
  {
    id: 'cnn',
    name: 'Fashion-MNIST CNN (first 12,000 training samples, full 10,000 held-out), SGD momentum 0.9, LR 0.02 at B = 32, 3 epochs (36,000 samples)',
    base: trainConfig({
      dataset: 'fashion-mnist',
      datasetOptions: { limit: 12_000 },
      model: { name: 'cnn' },
      optimizer: { name: 'momentum' },
      lr: 0.02,
      batchSize: 32,
      seed: 1,
      evalTrainLimit: 2_000,
    }),
    totalSamples: 36_000,
    targetAccuracy: 0.84,
    evalTestLimit: 1_000,
  },
];

/** One arm's run for one seed. */
interface ArmRun {
  seed: number;
  steps: number;
  stepsToTarget: number | undefined;
  samplesToTarget: number | undefined;
  finalAccuracy: number;
  finalLoss: number;
  /** Periodic held-out evaluations: [samples, step, accuracy]. */
  curve: [number, number, number][];
  wallMs: number;
}

interface Arm {
  name: string;
  describe: string;
  config: (seed: number) => TrainConfig;
  runs: ArmRun[];
}

function args(): { tasks: Task[]; quick: boolean; keep: string | undefined } {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const which = (value('--task') ?? 'all').split(',');
  const tasks = TASKS.filter((t) => which.includes('all') || which.includes(t.id));
  if (tasks.length === 0) throw new Error(`--task takes ${TASKS.map((t) => t.id).join(', ')} or all, got ${which}`);
  const keep = value('--keep');
  return { tasks: quick ? tasks.map((t) => ({ ...t, totalSamples: t.totalSamples / 10 })) : tasks, quick, keep };
}

/** A finished branch measurement of `settings` kept in `dbPath` (--keep), if any. */
function keptMeasurement(dbPath: string, settings: BranchSettings): BranchSummary | undefined {
  if (!existsSync(dbPath)) return undefined;
  const store = openStore(dbPath, { readonly: true });
  try {
    const same = (e: Experiment) =>
      e.status === 'done' &&
      JSON.stringify(e.settings['checkpoints']) === JSON.stringify(settings.checkpoints) &&
      e.settings['lrRule'] === settings.lrRule;
    const e = store.listExperiments({ kind: 'branch' }).find(same);
    return e?.summary as unknown as BranchSummary | undefined;
  } finally {
    store.close();
  }
}

/** Steps to the target: the first periodic evaluation at or above it. */
function toTarget(evals: readonly EvalRecord[], target: number): { step: number; samples: number } | undefined {
  const hit = evals.find((e) => e.split === 'test' && (e.accuracy ?? 0) >= target);
  return hit && { step: hit.step, samples: hit.samples };
}

async function runArm(task: Task, arm: Arm, seeds: number[]): Promise<void> {
  for (const seed of seeds) {
    const started = performance.now();
    const config = arm.config(seed);
    const { result } = await train(config);
    // Only the periodic evaluations (on the same held-out subset); the final one is on the whole split.
    const periodic = result.evals.filter((e) => e.split === 'test' && e.step % config.evalEvery === 0);
    const reached = toTarget(periodic, task.targetAccuracy);
    arm.runs.push({
      seed,
      steps: result.steps.length,
      stepsToTarget: reached?.step,
      samplesToTarget: reached?.samples,
      finalAccuracy: result.final.test.accuracy ?? Number.NaN,
      finalLoss: result.final.test.loss,
      curve: periodic.map((e) => [e.samples, e.step, e.accuracy ?? Number.NaN]),
      wallMs: performance.now() - started,
    });
    process.stderr.write(
      `  ${arm.name} seed ${seed}: ${result.steps.length} steps, to target ${reached ? `${reached.step} steps` : 'not reached'}, final ${pct(result.final.test.accuracy)}\n`,
    );
  }
}

/** "1,234 (1,100..1,380)" from values over seeds; "-" for fewer than 2. */
function meanCi(values: readonly number[], digits = 3, asPct = false): string {
  const f = (x: number) => (asPct ? pct(x) : num(x, digits));
  if (values.length === 0) return '-';
  if (values.length === 1) return f(values[0]!);
  const ci = tInterval(values, { confidence: CONFIDENCE });
  return `${f(ci.estimate)} (${f(ci.low)}..${f(ci.high)})`;
}

/** The arms of a task once its schedule is known. */
function arms(task: Task, summary: BranchSummary, settings: BranchSettings): Arm[] {
  const b = settings.baseBatch;
  const schedule = parseBatchSchedule(summary.schedule.text);
  const largest = Math.max(...schedule.phases.map((p) => p.batch));
  const large = largest > b ? largest : 8 * b;
  const lr = (batch: number) => scaleLr({ rule: settings.lrRule, baseLr: settings.baseLr, baseBatch: b, batch });
  const common = (seed: number, steps: number): Partial<TrainConfig> => ({
    seed,
    budget: { maxSamples: task.totalSamples },
    evalEvery: Math.max(1, Math.round(steps / EVALS_PER_RUN)),
    evalTestLimit: task.evalTestLimit,
  });
  const fixed = (batch: number) => (seed: number) => ({
    ...task.base,
    ...common(seed, task.totalSamples / batch),
    batchSize: batch,
    lr: lr(batch),
  });
  // The schedule run's steps: fewer than the small batch's; its evaluations are spread over them too.
  const scheduleSteps = schedule.phases.reduce((steps, p, i) => {
    const end = schedule.phases[i + 1]?.start ?? task.totalSamples;
    return steps + Math.max(0, end - p.start) / p.batch;
  }, 0);
  return [
    { name: 'fixed small', describe: `B = ${b}, LR ${num(lr(b))}`, config: fixed(b), runs: [] },
    {
      name: 'schedule',
      describe: `--batch-schedule "${summary.schedule.text}" (${settings.lrRule} LR rule)`,
      config: (seed) => ({
        ...task.base,
        ...common(seed, scheduleSteps),
        batchSize: schedule.phases[0]!.batch,
        lr: settings.baseLr,
        batchSchedule: { schedule, lrRule: settings.lrRule, baseBatch: b },
      }),
      runs: [],
    },
    { name: 'fixed large', describe: `B = ${large}, LR ${num(lr(large))}`, config: fixed(large), runs: [] },
  ];
}

/** The table of one task: steps to target and final held-out metrics per arm, with intervals. */
function armTable(task: Task, list: Arm[]): string[] {
  const rows = list.map((a) => {
    const reached = a.runs.filter((r) => r.stepsToTarget !== undefined);
    return [
      a.name.padEnd(12),
      `${reached.length}/${a.runs.length}`.padEnd(8),
      meanCi(
        reached.map((r) => r.stepsToTarget!),
        4,
      ).padEnd(26),
      meanCi(
        a.runs.map((r) => r.steps),
        4,
      ).padEnd(10),
      meanCi(
        a.runs.map((r) => r.finalAccuracy),
        3,
        true,
      ).padEnd(26),
      meanCi(
        a.runs.map((r) => r.finalLoss),
        3,
      ).padEnd(24),
      a.describe,
    ].join(' ');
  });
  return [
    `${task.name}; target held-out accuracy ${pct(task.targetAccuracy)} (on the first ${num(task.evalTestLimit)} held-out samples, ${EVALS_PER_RUN} evaluations per run)`,
    `${'arm'.padEnd(12)} ${'reached'.padEnd(8)} ${'steps to target (95% CI)'.padEnd(26)} ${'steps'.padEnd(10)} ${'final held-out acc'.padEnd(26)} ${'final held-out loss'.padEnd(24)} setting`,
    ...rows,
  ];
}

/** Schedule against fixed small, paired by seed: the steps ratio and the accuracy difference. */
function verdict(list: Arm[]): string[] {
  const [small, sched] = [list[0]!, list[1]!];
  const pairs = small.runs
    .map((r) => r.seed)
    .map((s) => [small.runs.find((r) => r.seed === s), sched.runs.find((r) => r.seed === s)])
    .filter((p): p is [ArmRun, ArmRun] => p[0] !== undefined && p[1] !== undefined);
  const both = pairs.filter(([a, b]) => a.stepsToTarget !== undefined && b.stepsToTarget !== undefined);
  const ratios = both.map(([a, b]) => b.stepsToTarget! / a.stepsToTarget!);
  const diffs = pairs.map(([a, b]) => b.finalAccuracy - a.finalAccuracy);
  const ratio = ratios.length >= 2 ? tInterval(ratios, { confidence: CONFIDENCE }) : undefined;
  const diff = diffs.length >= 2 ? tInterval(diffs, { confidence: CONFIDENCE }) : undefined;
  const fewer = ratio !== undefined && ratio.high < 1;
  const notWorse = diff !== undefined && diff.high >= 0;
  const better = diff !== undefined && diff.low > 0;
  const ratioText = ratio
    ? `${num(ratio.estimate, 3)} (95% CI ${num(ratio.low, 3)}..${num(ratio.high, 3)}) of the fixed small batch's steps to target`
    : `steps to target not comparable (reached in ${both.length} of ${pairs.length} paired seeds)`;
  const diffText = diff
    ? `final held-out accuracy ${diff.estimate >= 0 ? '+' : ''}${num(diff.estimate * 100, 2)} points (95% CI ${num(diff.low * 100, 2)}..${num(diff.high * 100, 2)})`
    : 'final accuracy not comparable';
  const missed = [fewer ? '' : 'not fewer steps with confidence', notWorse ? '' : 'a worse final metric'].filter(
    Boolean,
  );
  const goal =
    missed.length === 0
      ? `goal met: fewer steps${better ? ' and a better final metric' : ' at a final metric not shown worse (the interval of the difference includes 0)'}`
      : `goal not met: ${missed.join('; ')}`;
  return [`schedule vs fixed small (paired by seed): ${ratioText}; ${diffText}`, goal];
}

/** Held-out accuracy per arm at each tenth of the budget (mean over seeds): the curves, in text. */
function curves(task: Task, list: Arm[]): string[] {
  const tenths = Array.from({ length: 10 }, (_, i) => ((i + 1) * task.totalSamples) / 10);
  const at = (r: ArmRun, s: number) => {
    const before = r.curve.filter((p) => p[0] <= s + 1e-9);
    return before.at(-1)?.[2] ?? Number.NaN;
  };
  return [
    `held-out accuracy (first ${num(task.evalTestLimit)} samples) at each tenth of the budget, mean over seeds:`,
    `  ${'samples'.padEnd(12)} ${tenths.map((s) => num(s).padStart(8)).join('')}`,
    ...list.map(
      (a) =>
        `  ${a.name.padEnd(12)} ${tenths
          .map((s) => pct(a.runs.reduce((sum, r) => sum + at(r, s), 0) / a.runs.length, 1).padStart(8))
          .join('')}`,
    ),
  ];
}

async function validate(task: Task, quick: boolean, dbPath: string): Promise<Record<string, unknown>> {
  const seeds = quick ? SEEDS.slice(0, 2) : SEEDS;
  const started = performance.now();
  const load = loadavg()[0]!;
  process.stderr.write(`\n== ${task.name}\nbranch measurement...\n`);
  const full = branchSettings({
    base: task.base,
    totalSamples: task.totalSamples,
    checkpointDir: join(dirname(dbPath), `checkpoints-${task.id}`),
  });
  const b = full.baseBatch;
  const settings = quick
    ? branchSettings({
        ...full,
        seeds: seeds,
        branchBatches: [2 * b, 4 * b],
        checkpoints: geometricCheckpoints({
          totalSamples: task.totalSamples,
          baseBatch: b,
          count: 3,
          windowSamples: full.windowSamples,
        }),
      })
    : full;
  let lastPrintMs = 0;
  const kept = keptMeasurement(dbPath, settings);
  if (kept) process.stderr.write(`  (reusing the finished measurement in ${dbPath})\n`);
  const summary =
    kept ??
    (
      await runBranch(
        { dbPath, settings },
        {
          onProgress: ({ doneSamples, totalSamples }) => {
            if (performance.now() - lastPrintMs < 30_000) return;
            lastPrintMs = performance.now();
            process.stderr.write(`  branch: ${num(doneSamples)} / ${num(totalSamples)} samples\n`);
          },
        },
      )
    ).summary!;
  const branchMs = performance.now() - started;
  const list = arms(task, summary, settings);
  for (const arm of list) await runArm(task, arm, seeds);
  const lines = [
    ...armTable(task, list),
    ...verdict(list),
    ...curves(task, list),
    'branch measurement:',
    ...summary.findings.map((f) => `  ${f}`),
    `wall time: branch measurement ${kept ? 'reused (measured before)' : duration(branchMs)}, arms ${duration(performance.now() - started - branchMs)}; load average ${num(load, 2)} at the start, ${num(loadavg()[0]!, 2)} at the end (2 shared cores)`,
  ];
  console.log(`\n${lines.join('\n')}`);
  return {
    task: task.name,
    summary,
    arms: list.map((a) => ({ name: a.name, describe: a.describe, runs: a.runs })),
    lines,
    wallMs: performance.now() - started,
    loadAverage: { start: load, end: loadavg()[0] },
  };
}

const { tasks, quick, keep } = args();
const dir = keep === undefined ? mkdtempSync(join(tmpdir(), 'batchlab-validate-schedule-')) : resolve(keep);
mkdirSync(dir, { recursive: true });
try {
  const out = [];
  for (const task of tasks) out.push(await validate(task, quick, join(dir, `${task.id}.db`)));
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({ quick, results: out }, null, 2));
  console.log(`\nwrote ${RESULTS}`);
} finally {
  if (keep === undefined) rmSync(dir, { recursive: true, force: true });
}
