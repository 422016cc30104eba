/**
 * Validates `batchlab recommend --target` against the study it replaces (issue 14, product.md goals) on
 * three tasks:
 * - mnist-mlp: MNIST, MLP 784-256-10, SGD with momentum, target held-out accuracy 0.97;
 * - fashion-cnn: Fashion-MNIST, the CNN, on a 12,000-sample subset (--limit 12000: its held-out split is
 *   capped at 2,400), target held-out accuracy 0.85;
 * - linreg: linear regression with a known answer (d = 10, sigma = 0.5, 16,384 training samples, 8,192
 *   held-out), the linear model, plain SGD, target held-out loss 0.135 (8% above the floor sigma^2/2 =
 *   0.125), where B_simple is also known in closed form (data/synthetic.ts linregNoiseScaleAtLoss).
 * Every task uses base LR 0.05 at batch 64 (recommend scales it by the optimizer's rule; the study
 * centres its LR grid there). For each: the recommendation (a run to the target measuring B_simple along
 * training), the study with the LR searched per batch size (16..1024, 5-point grid, one seed), then one
 * run at the recommended (B, LR); printed: the study's B_crit next to the prediction, the recommended
 * run's steps next to the study's at that B, the recommendation's compute as a share of the study's,
 * the wall times and the machine load. Results: bench/results/validate-study-<task>.json.
 *
 * Usage: npx tsx bench/validate-study.ts --task mnist-mlp|fashion-cnn|linreg [--db PATH] [--study ID]
 *   --study ID reuses (or resumes) a study already in the store instead of starting one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { defaultLrRule } from '../src/core/lr.js';
import { isKnownError } from '../src/core/errors.js';
import { num } from '../src/core/format.js';
import type { RecommendOptimizer } from '../src/core/recommend.js';
import type { TrainTarget } from '../src/core/run.js';
import { linregNoiseScaleAtLoss } from '../src/data/synthetic.js';
import { trainConfig, type TrainConfig } from '../src/engine/tfjs/trainer.js';
import { type RecommendResult, runRecommend } from '../src/lab/recommend/recommend.js';
import { validateAgainstStudy, validationStudy } from '../src/lab/recommend/validate.js';
import { runStudy, type StudySettings } from '../src/lab/study/study.js';
import { noiseToTargetLines, validationText } from '../src/cli/commands/recommend.js';
import { studyFindingLines, studyTable } from '../src/cli/commands/study.js';

interface Task {
  base: TrainConfig;
  optimizer: RecommendOptimizer;
  target: TrainTarget;
  /** linreg: the closed form of B_simple at a loss. */
  closedForm?: (loss: number) => number;
}

const BASE_LR = 0.05;
const BASE_BATCH = 64;
const LINREG = { dim: 10, noiseSigma: 0.5, trainCount: 16_384, testCount: 8192 };

const TASKS: Record<string, Task> = {
  'mnist-mlp': {
    base: trainConfig({ dataset: 'mnist', model: { name: 'mlp', hidden: [256] }, lr: BASE_LR }),
    optimizer: 'momentum',
    target: { metric: 'accuracy', value: 0.97 },
  },
  'fashion-cnn': {
    base: trainConfig({
      dataset: 'fashion-mnist',
      datasetOptions: { limit: 12_000 },
      model: { name: 'cnn' },
      lr: BASE_LR,
    }),
    optimizer: 'momentum',
    target: { metric: 'accuracy', value: 0.85 },
  },
  linreg: {
    base: trainConfig({
      dataset: 'linreg',
      datasetOptions: LINREG,
      model: { name: 'linear' },
      optimizer: { name: 'sgd' },
      lr: BASE_LR,
    }),
    optimizer: 'sgd',
    target: { metric: 'loss', value: 0.135 },
    closedForm: (loss) => linregNoiseScaleAtLoss({ dim: LINREG.dim, noiseSigma: LINREG.noiseSigma, loss }),
  },
};

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function recommendFor(task: Task, dbPath: string): Promise<{ result: RecommendResult; wallMs: number }> {
  const started = performance.now();
  const result = await runRecommend(
    {
      base: { ...task.base, evalEvery: 0, evalTrainLimit: 256 },
      optimizer: task.optimizer,
      objective: 'time',
      baseLr: BASE_LR,
      baseBatch: BASE_BATCH,
      target: task.target,
      dbPath,
    },
    { onPhase: ({ text }) => console.error(`recommend: ${text}`) },
  );
  return { result, wallMs: performance.now() - started };
}

async function studyFor(
  rec: RecommendResult,
  dbPath: string,
  studyId: number | undefined,
): Promise<{
  id: number;
  settings: StudySettings;
  summary: Awaited<ReturnType<typeof runStudy>>['summary'];
  wallMs: number;
}> {
  const settings = validationStudy(rec);
  const started = performance.now();
  const study = await runStudy(studyId === undefined ? { dbPath, settings } : { dbPath, resumeId: studyId }, {
    onTrialStart: ({ batchSize, plan, trialNumber, expectedTotal }) =>
      console.error(
        `study trial ${trialNumber} of ~${expectedTotal}: B=${batchSize} lr ${num(plan.lr)} (${plan.reason})`,
      ),
    onBatchDone: ({ batch }) => console.error(`B=${batch.batchSize}: ${batch.failure ?? batch.result?.text}`),
  });
  if (study.status !== 'done')
    throw new Error(`study ${study.experiment.id} was interrupted; rerun with --study ${study.experiment.id}`);
  return { id: study.experiment.id, settings, summary: study.summary, wallMs: performance.now() - started };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const name = flag(argv, 'task') ?? 'mnist-mlp';
  const task = TASKS[name];
  if (task === undefined) throw new Error(`unknown --task ${name}; tasks: ${Object.keys(TASKS).join(', ')}`);
  const dbPath = flag(argv, 'db') ?? `/tmp/batchlab-validate-study-${name}.db`;
  const studyId = flag(argv, 'study');
  const loadBefore = load();
  const rec = await recommendFor(task, dbPath);
  const study = await studyFor(rec.result, dbPath, studyId === undefined ? undefined : Number(studyId));
  const validation = await validateAgainstStudy(rec.result, {
    experimentId: study.id,
    settings: study.settings,
    summary: study.summary,
  });
  const loadAfter = load();
  const t = rec.result.noiseToTarget;
  // The closed form at the held-out target loss: the held-out loss on 8,192 samples estimates the population
  // loss the formula takes (the per-step training loss of a small batch is too noisy near the floor, where
  // B_simple(L) changes fast).
  const closed = task.closedForm && task.target.metric === 'loss' ? task.closedForm(task.target.value) : undefined;
  const r = rec.result.recommendation;
  console.log(
    `task ${name}: ${JSON.stringify(task.target)}, base LR ${BASE_LR} at ${BASE_BATCH} (${defaultLrRule(task.optimizer)} rule)`,
  );
  console.log(studyTable(study.summary));
  console.log(studyFindingLines(study.summary));
  console.log(noiseToTargetLines(t!).join('\n'));
  if (closed !== undefined)
    console.log(`closed form of B_simple at the held-out target loss ${task.target.value}: ${num(closed)}`);
  console.log(
    `recommended: B=${r.batch} (x${r.accumSteps}), LR ${num(r.lr)}, ${r.warmupSteps} warm-up steps (${r.binding})`,
  );
  console.log(validationText(validation));
  console.log(
    `wall time: recommend ${(rec.wallMs / 1000).toFixed(0)} s, study ${(study.wallMs / 1000).toFixed(0)} s (stored ${(study.summary.wallMs / 1000).toFixed(0)} s); load average before ${loadBefore}, after ${loadAfter}`,
  );
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/validate-study-${name}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      {
        task: name,
        target: task.target,
        recommendation: r,
        noiseAtTarget: t,
        closedFormAtHeldOutTarget: closed ?? null,
        study: { id: study.id, summary: study.summary, wallMs: study.wallMs },
        validation,
        recommendWallMs: rec.wallMs,
        load: { before: loadBefore, after: loadAfter },
      },
      null,
      2,
    ),
  );
  console.log(`written to ${file}`);
}

main().catch((err) => {
  if (!isKnownError(err)) throw err;
  console.error(`error [${err.code}]: ${err.message}`);
  process.exitCode = err.exitCode;
});
