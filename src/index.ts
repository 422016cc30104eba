/**
 * batchlab as a library: `import { sweep, findMax, recommend, train } from 'batchlab'`.
 *
 * The experiments record into a SQLite store (openStore reads it back) and run every run in a child
 * process of its own, as the command line does; `train` runs one TF.js run in the caller's process.
 * The math under them is pure and exported too: the gradient noise scale, the memory, step-time and
 * steps-to-target fits, the LR rules, the margin. Errors are BatchlabError with a stable `code`.
 * See examples/library/ for a sweep in a dozen lines.
 */

// ---- Experiments (they record into the store at `dbPath`) ----

/** A sweep: the same model at many batch sizes from the same initial weights; `sweepSettings` fills the defaults. */
export {
  runSweep as sweep,
  sweepSettings,
  type SweepHooks,
  type SweepLaunch,
  type SweepOptions,
  type SweepResult,
  type SweepSettings,
} from './lab/sweep/sweep.js';
/** A study: steps to a target with the LR searched per batch size, the fitted B_crit; `studySettings` fills the defaults. */
export {
  runStudy as study,
  studySettings,
  trialConfig,
  type StudyHooks,
  type StudyResult,
  type StudySettings,
} from './lab/study/study.js';
export type { StudyBatch, StudySummary, StoredTrial } from './core/study-plan.js';
/** A sweep from what a user types (batch list and budget in the command line's syntax), checked against the data. */
export { planSweep, type SweepRequest } from './lab/sweep/plan.js';
/** find-max: the largest batch whose step fits a memory budget, probed both ways and verified. */
export { findMax, type FindMaxHooks, type FindMaxReport, type ProbeRecord } from './lab/find-max/find-max.js';
export {
  commandProber,
  tfjsProber,
  warmCommandProber,
  type CommandProberOptions,
  type Prober,
  type TfjsProberOptions,
  type WarmCommandProberOptions,
} from './lab/find-max/probers.js';
export { findMaxSettings, targetAdvice, type FindMaxSettings, type TargetAdvice } from './core/find-max.js';
/** find-max from a request (a TF.js model or a command under a budget): the prober built, the search run. */
export {
  planFindMax,
  runFindMax,
  type FindMaxPlan,
  type FindMaxRequest,
  type FindMaxSubject,
  type RunFindMaxHooks,
} from './lab/find-max/request.js';
/** recommend: a cheap probe (memory, noise scale, throughput), then a batch size, LR and warm-up with reasons. */
export {
  recommendJson,
  runRecommend as recommend,
  type RecommendHooks,
  type RecommendOptions,
  type RecommendResult,
} from './lab/recommend/recommend.js';
export {
  recommendAndValidate,
  validateAgainstStudy,
  validateRecommend,
  validationStudy,
  type CheckedRecommendation,
  type StudyValidation,
} from './lab/recommend/validate.js';
export type { NoiseToTarget } from './lab/recommend/noise-to-target.js';
/** The gradient noise scale B_simple at a chosen point of training, stored as an experiment. */
export { runNoiseExperiment as noise, type NoiseMeasurement } from './lab/noise/noise.js';
/** The critical batch over training, measured by branching at checkpoints (Merrill et al. 2025), beside B_simple. */
export {
  branchSettings,
  runBranch as branch,
  type BranchHooks,
  type BranchResult,
  type BranchSettings,
} from './lab/branch/branch.js';

// ---- One run ----

/** One TF.js run in this process, nothing stored; `trainConfig` fills the defaults. */
export { train, type TrainOptions, type TrainOutcome, type TrainStart } from './lab/run/train.js';
export {
  checkTrainConfig,
  trainConfig,
  TfjsTrainer,
  type DataFacts,
  type RunContext,
  type TrainConfig,
} from './engine/tfjs/trainer.js';
/** The checks every run's settings pass before any work (the limits of --hidden among them). */
export {
  checkRunSettings,
  MAX_HIDDEN_LAYERS,
  MAX_HIDDEN_WIDTH,
  MAX_LAYER_WEIGHTS,
  type RunSettingsToCheck,
} from './core/run-checks.js';
/** One run as experiments run it: a TF.js run in a child process, or a training command; recorded when asked. */
export { executeRun, type ExecuteOptions, type RunSpec } from './lab/run/execute.js';
export type { RunHooks, RunOutcome, RunRecord } from './lab/run/outcome.js';
/** Where runs go and how many at once: warm local workers (--parallel, --gpus) or Slurm jobs (docs/cluster.md). */
export {
  createLauncher,
  localLauncher,
  runEach,
  SlurmLauncher,
  type Launcher,
  type LaunchSettings,
  type LocalLaunchOptions,
  type SlurmLaunchOptions,
} from './lab/launch/index.js';
export { ExternalTrainer, type CommandSpec, type ExternalTrainerOptions } from './engine/external/trainer.js';
export type {
  ProbeMeasurement,
  RunPlan,
  StepProgress,
  Trainer,
  TrainHooks,
  TrainSettings,
} from './engine/trainer.js';

// ---- The store ----

export { openStore, Store, type Experiment, type Run } from './store/index.js';

// ---- Data and models ----

export { listDatasets, loadDataset } from './data/registry.js';
export type { Dataset, DatasetInfo, LoadOptions } from './data/types.js';
export type { ModelSpec } from './models/index.js';

// ---- The math (pure, no training) ----

/** Gradient noise scale (McCandlish et al. 2018, App. A): B_simple with a confidence interval. */
export { noiseScaleSeries, noiseScaleWithCI, NoiseScaleTracker, simpleNoiseScale } from './core/noise.js';
/** Fits across batch sizes: memory peak = a + b B, step time t(B) = alpha + beta B, steps/examples to target. */
export { fitMemory, predictMaxBatch, accumulationPlan, type MemoryFit } from './core/search.js';
export { batchWorthUsing, fitStepTime, saturationBatch, type BatchWorth, type StepTimeFit } from './core/throughput.js';
/** A failure as a measurement: an out-of-memory message's figures, and the limit search that reads them (issue 17). */
export { parseOomMessage, type OomFigures } from './core/oom-message.js';
export { failurePoint, searchLimit, startBatch } from './core/limit.js';
export { fitTradeoff, type TradeoffFit } from './core/tradeoff.js';
/** The study's math: the tuned S(B) fit with intervals, the LR search planner, the best LR against B, B_simple at a loss. */
export { fitStudy, curveRegions, studyInputs, type StudyFit } from './core/study-fit.js';
export { planLrSearch, shouldCutTrial, trialOutcome, type LrSearchResult, type LrTrial } from './core/lr-search.js';
export { fitLrRelation, type LrRelationFit } from './core/lr-relation.js';
export {
  noiseAlongTraining,
  noiseAtLoss,
  trainLossAtStep,
  type NoiseAtLoss,
  type NoiseAtTarget,
} from './core/noise-at-loss.js';
export { fitLine, type LineFit } from './core/fit.js';
/** LR scaling (linear, square-root) and schedules. */
export { defaultLrRule, lrAt, scaleLr, type LrRule } from './core/lr.js';
/** The safety margin of a memory budget, and the largest batch it leaves. */
export { ceilingOf, deriveMargin, memoryCeiling, type MarginDerivation } from './core/margin.js';
/** The recommender's decision from measurements (what `recommend` calls after its probe). */
export { recommend as recommendFrom, type Recommendation, type RecommendInputs } from './core/recommend.js';
/** Batch-size schedules: the `--batch-schedule` syntax, the batch and LR per step, a warm-up from a critical-batch curve. */
export {
  formatBatchSchedule,
  parseBatchSchedule,
  phaseSpans,
  scheduleAt,
  scheduleFromCriticalCurve,
  type BatchSchedule,
} from './core/batch-schedule.js';
/** The critical batch from branches at a checkpoint, and the 20%-overhead definition of Zhang et al. 2024. */
export { criticalBatchCurve, overheadCriticalBatch } from './core/critical-batch.js';
export { summarizeBranches, type BranchSummary } from './core/branch-summary.js';
/** Summaries of a run and of a sweep, as stored; per batch size, means over seeds with their intervals. */
export { summarizeRun } from './core/summarize-run.js';
export { summarizeSweep, type FindingContext } from './core/summarize-sweep.js';
export { batchStats } from './core/batch-stats.js';
export type {
  BatchStats,
  BatchValue,
  Comparison,
  Finding,
  FindingClaim,
  NoiseSummary,
  RunIntervals,
  RunSummary,
  SweepSummary,
} from './core/summary.js';
/** The statistics behind the verdicts: trend test, best batch sets, saturation, intervals. */
export { testTrend, USUAL_ADVICE, type ClaimId, type TrendResult } from './core/trend.js';
export { bestBatches, throughputSaturation } from './core/extremes.js';
export { accuracyInterval, tInterval, wilsonInterval, type MeasuredInterval } from './core/intervals.js';
export type { RestsOn, Verdict } from './core/evidence.js';
export type {
  OptimizerConfig,
  SplitMetrics,
  SweepBudget,
  TrainBudget,
  TrainResult,
  TrainTarget,
} from './core/run.js';
export type { EvalRecord, StepRecord } from './core/types.js';
/** Typed errors and the one exit-code table (error code -> exit status) the command line exits by. */
export {
  BatchlabError,
  EXIT_CODES,
  EXIT_MEANINGS,
  SIGNAL_EXIT_CODES,
  type ErrorCode,
  type ExitCode,
} from './core/errors.js';
export { BATCHLAB_VERSION } from './version.js';
