/**
 * The plan of a study (`batchlab study`): steps to a target with the LR searched at every batch size
 * (Shallue et al. 2018, arXiv 1811.03600), as pure pieces the orchestration (lab/study) calls:
 * - per batch size B, the search settings of lr-search.planLrSearch: the grid's centre is the LR the
 *   scaling rule gives at B (lr.scaleLr), every trial runs at most `maxEpochs` epochs;
 * - how a trial is evaluated: on the same held-out samples every `evalEvery` steps, the step budget a
 *   multiple of evalEvery, so steps-to-target is read at the same resolution by every trial of a batch
 *   size and a trial cut at the best's steps is evaluated at exactly that step;
 * - a stored run read back as a trial (lr-search.LrTrial), so a resumed study replays its trials;
 * - the study's summary: the fit of the tuned points (study-fit.fitStudy), the best LR against B
 *   (lr-relation.fitLrRelation), the compute, and the findings in words.
 *
 * Every update has exactly B samples (the partial last batch of an epoch is dropped), so the examples to
 * the target are E = B S.
 *
 * The study's compute, as `recommend` compares with it: the training samples its trials processed,
 * sum over trials of steps run x B (forward and backward passes; evaluations not counted), including
 * the trials cut early and those that diverged.
 */
import type { Interval } from './distributions.js';
import { UsageError } from './errors.js';
import { num } from './format.js';
import { type LrRule, scaleLr } from './lr.js';
import { fitLrRelation, type LrRelationFit } from './lr-relation.js';
import {
  DEFAULT_LR_GRID_POINTS,
  DEFAULT_LR_GRID_RATIO,
  DEFAULT_LR_WIDEN_LIMIT,
  type LrSearchResult,
  type LrSearchSettings,
  type LrTrial,
  trialOutcome,
} from './lr-search.js';
import { createRng } from './random.js';
import type { TrainTarget } from './run.js';
import { median } from './stats.js';
import { fitStudy, type StudyFit, studyInputs } from './study-fit.js';

/** Default give-up point of one trial, in epochs (a trial that has not reached the target by then is 'not-reached'). */
export const DEFAULT_STUDY_MAX_EPOCHS = 10;
/**
 * Held-out evaluations per epoch: the resolution of steps-to-target in examples is N / 20, a constant
 * number of samples at every B (about 3% of the examples MNIST needs to reach 97%).
 */
export const DEFAULT_STUDY_EVALS_PER_EPOCH = 20;
/** Held-out samples every evaluation uses (the same ones each time, so every trial is judged alike). */
export const DEFAULT_STUDY_EVAL_SAMPLES = 2000;
/** Confidence of the study's intervals (B_crit, S_min, E_min, the LR slope). */
export const STUDY_CONFIDENCE = 0.9;
/** Seed of the study fit's bootstrap (fixed: the same trials give the same intervals, resumed or not). */
const STUDY_BOOTSTRAP_SEED = 14;

/** What the plan needs of a study's settings (lab/study StudySettings holds these and the run config). */
export interface StudyPlanSettings {
  batchSizes: readonly number[];
  /** The first seed searches the LR; the others replicate the best LR. */
  seeds: readonly number[];
  lrRule: LrRule;
  baseLr: number;
  baseBatch: number;
  target: TrainTarget;
  maxEpochs: number;
  gridPoints: number;
  gridRatio: number;
  widenLimit: number;
  /** Training-set size (steps per epoch, evaluation interval). */
  trainCount: number;
  evalsPerEpoch: number;
}

/** Default search settings of a study: the LR grid, widening and trial length of lr-search.ts and above. */
export const STUDY_DEFAULTS = {
  seeds: [1],
  lrRule: 'sqrt' as LrRule,
  baseBatch: 64,
  maxEpochs: DEFAULT_STUDY_MAX_EPOCHS,
  gridPoints: DEFAULT_LR_GRID_POINTS,
  gridRatio: DEFAULT_LR_GRID_RATIO,
  widenLimit: DEFAULT_LR_WIDEN_LIMIT,
  evalsPerEpoch: DEFAULT_STUDY_EVALS_PER_EPOCH,
} as const;

/** Checks what the search does not check itself: batch sizes that fit the data, and positive sizes. */
export function checkStudyPlan(s: StudyPlanSettings): void {
  if (s.batchSizes.length < 3) {
    throw new UsageError(
      `a study fits S(B) = S_min (1 + B_crit / B), which needs at least 3 batch sizes, got ${s.batchSizes.length}; pass e.g. --batch-sizes 16,64,256,1024`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  const tooBig = s.batchSizes.find((b) => b > s.trainCount);
  if (tooBig !== undefined) {
    throw new UsageError(
      `batch size ${tooBig} is above the training-set size ${s.trainCount}; use batch sizes up to ${s.trainCount}`,
      'BATCHLAB_BAD_BATCH_SIZE',
    );
  }
  if (!Number.isInteger(s.maxEpochs) || s.maxEpochs < 1) {
    throw new UsageError(`--max-epochs must be a positive integer, got ${s.maxEpochs}; pass e.g. --max-epochs 10`);
  }
  if (!Number.isInteger(s.evalsPerEpoch) || s.evalsPerEpoch < 1) {
    throw new UsageError(`evaluations per epoch must be a positive integer, got ${s.evalsPerEpoch}; use e.g. 20`);
  }
}

/** Steps between held-out evaluations at batch B: N / (evalsPerEpoch B), at least 1. */
export function studyEvalEvery(s: Pick<StudyPlanSettings, 'trainCount' | 'evalsPerEpoch'>, batchSize: number): number {
  return Math.max(1, Math.round(s.trainCount / s.evalsPerEpoch / batchSize));
}

/** Step budget of one trial at B: maxEpochs epochs of floor(N / B) full batches, rounded up to a multiple of evalEvery. */
export function studyMaxSteps(
  s: Pick<StudyPlanSettings, 'trainCount' | 'evalsPerEpoch' | 'maxEpochs'>,
  batchSize: number,
): number {
  const every = studyEvalEvery(s, batchSize);
  return Math.ceil((s.maxEpochs * Math.floor(s.trainCount / batchSize)) / every) * every;
}

/** The LR search at B: centred on the rule's LR at B, the study's grid, seeds and trial budget. */
export function searchSettingsFor(s: StudyPlanSettings, batchSize: number): LrSearchSettings {
  return {
    centerLr: scaleLr({ rule: s.lrRule, baseLr: s.baseLr, baseBatch: s.baseBatch, batch: batchSize }),
    gridPoints: s.gridPoints,
    gridRatio: s.gridRatio,
    widenLimit: s.widenLimit,
    seeds: s.seeds,
    maxSteps: studyMaxSteps(s, batchSize),
  };
}

/** The stable key of a trial in the store: "b=64,lr=0.0707107,seed=1" (6 significant digits tell grid LRs apart). */
export function trialKey(batchSize: number, lr: number, seed: number): string {
  return `b=${batchSize},lr=${lr.toPrecision(6)},seed=${seed}`;
}

/** A trial as the study stores it: the search's trial and the run that holds its steps. */
export interface StoredTrial extends LrTrial {
  runId: number;
}

/** What a stored run says about its trial. */
export interface TrialRunFacts {
  runId: number;
  lr: number;
  seed: number;
  /** The run's status in the store. */
  status: string;
  reason?: string | null;
  /** From its summary when it finished: whether it reached the target, at which step, and the steps it ran. */
  reached?: boolean;
  targetSteps?: number;
  stepsRun?: number;
  /** Last step stored (a diverged run has no summary: its steps are counted instead). */
  lastStoredStep?: number;
}

/** Run statuses a resume runs again: the trial was never finished. */
const UNFINISHED = new Set(['pending', 'running', 'interrupted']);

/**
 * A stored run as a trial: undefined while unfinished (a resume runs it again); 'reached' at its target
 * step; 'cut' or 'not-reached' by the steps it ran (lr-search.trialOutcome); 'diverged' at its last step;
 * any other end (out of memory, a crash) is a failure that ends the search at this batch size.
 */
export function trialFromRun(f: TrialRunFacts, maxSteps: number): StoredTrial | { failed: string } | undefined {
  if (UNFINISHED.has(f.status)) return undefined;
  const base = { runId: f.runId, lr: f.lr, seed: f.seed };
  if (f.status === 'diverged') return { ...base, outcome: 'diverged', steps: Math.max(1, f.lastStoredStep ?? 1) };
  if (f.status !== 'done') return { failed: `${f.status}${f.reason ? `: ${f.reason.split('\n')[0]}` : ''}` };
  const reached = f.reached === true && f.targetSteps !== undefined;
  const steps = reached ? (f.targetSteps as number) : (f.stepsRun ?? 0);
  return { ...base, outcome: trialOutcome({ maxSteps }, { reached, diverged: false, stepsDone: steps }), steps };
}

/**
 * Trials a batch size is expected to take, for the study's ETA: the stored ones when its search is done,
 * else at least the grid plus the replicates, and at least one more than stored (widening adds trials).
 */
export function expectedTrials(o: { gridPoints: number; seeds: number; stored: number; done: boolean }): number {
  if (o.done) return o.stored;
  return Math.max(o.gridPoints + o.seeds - 1, o.stored + 1);
}

/** One batch size of a study: its search settings, its trials, and how its search ended. */
export interface StudyBatch {
  batchSize: number;
  centerLr: number;
  maxSteps: number;
  evalEvery: number;
  trials: StoredTrial[];
  /** Set when the search finished. */
  result?: LrSearchResult;
  /** Set when a trial failed for another reason than divergence (out of memory, a crash): the search stopped there. */
  failure?: string;
  /** Mean training loss around the step where the best trial reached the target (trainLossAtStep). */
  trainLossAtTarget?: number;
}

/** A line of what the study shows (the shape of the report's findings); a measurement, so it tests no claim. */
export interface StudyFinding {
  effect: 'speed' | 'stability';
  text: string;
  verdict: null;
}

/** What a study leaves in the store (`experiments.summary`, kind 'study'). Infinity is stored as null (unbounded). */
export interface StudySummary {
  schema: typeof STUDY_SCHEMA;
  target: TrainTarget;
  batches: StudyBatch[];
  /** The fit of the tuned points; null with fitNote when fewer than 3 batch sizes reached the target. */
  fit: StudyFit | null;
  fitNote?: string;
  lrRelation: LrRelationFit | null;
  /** Training samples the trials processed (the study's compute; see the file comment), and in epochs. */
  computeSamples: number;
  computeEpochs: number;
  trials: number;
  cutTrials: number;
  unreached: number[];
  atEdge: number[];
  /** Median over batch sizes of the training loss where the target was reached. */
  trainLossAtTarget?: number;
  findings: StudyFinding[];
  wallMs: number;
}

export const STUDY_SCHEMA = 'batchlab.study/1';

/** The fit and the LR relation of the finished searches, with why either is missing. */
function studyFits(inputs: ReturnType<typeof studyInputs>): {
  fit: StudyFit | null;
  fitNote?: string;
  lrRelation: LrRelationFit | null;
} {
  const reachedBatches = new Set(inputs.points.map((p) => p.batchSize)).size;
  if (reachedBatches < 3) {
    return {
      fit: null,
      fitNote: `only ${reachedBatches} batch size(s) reached the target: the fit needs 3; raise --max-epochs or widen the LR grid`,
      lrRelation: null,
    };
  }
  const fit = fitStudy(inputs.points, { rng: createRng(STUDY_BOOTSTRAP_SEED), confidence: STUDY_CONFIDENCE });
  const lrBatches = new Set(inputs.bestLrs.map((p) => p.batchSize)).size;
  const lrRelation = lrBatches >= 3 ? fitLrRelation(inputs.bestLrs, { confidence: STUDY_CONFIDENCE }) : null;
  return { fit, lrRelation };
}

/** "1,200 (800..2,100, 90%)" with an unbounded end as "and up". */
export function intervalText(i: Interval): string {
  const high = Number.isFinite(i.high) ? num(i.high) : 'unbounded';
  return `${num(i.estimate)} (${num(i.low)}..${high}, ${Math.round(i.confidence * 100)}%)`;
}

/** The steps-to-target curve in one line, by fit status. */
function fitText(fit: StudyFit, target: TrainTarget): string {
  const what = `steps to ${target.metric} ${target.value}`;
  const params = `S_min = ${intervalText(fit.sMin)} steps, E_min = ${intervalText(fit.eMin)} samples`;
  if (fit.status === 'no-plateau') {
    return `${what} still fall like 1/B up to B = ${num(Math.max(...fit.batchSizes))}: B_crit lies above the swept range (lower end ${num(fit.bCrit.low)}); ${params}`;
  }
  if (fit.status === 'no-scaling') return `${what} do not fall as B grows: every batch size is past B_crit; ${params}`;
  return `${what} follow S(B) = S_min (1 + B_crit / B) with B_crit = E_min / S_min = ${intervalText(fit.bCrit)}; ${params} (r2 ${num(fit.r2)}, typical miss ${num(100 * fit.logResidualStd, 2)}%)`;
}

/** The study's findings in words: the fit, its regions, the best LR against B, the compute, and what is missing. */
function studyFindings(s: Omit<StudySummary, 'findings' | 'schema' | 'wallMs'>): StudyFinding[] {
  const line = (effect: StudyFinding['effect'], text: string): StudyFinding => ({ effect, text, verdict: null });
  const out: StudyFinding[] = [];
  if (s.fit) {
    out.push(line('speed', fitText(s.fit, s.target)));
    if (s.fit.status === 'ok') for (const r of s.fit.regions) out.push(line('speed', r.text));
  } else if (s.fitNote) out.push(line('speed', `no fit: ${s.fitNote}`));
  if (s.lrRelation) out.push(line('stability', s.lrRelation.text));
  if (s.unreached.length > 0) {
    out.push(line('speed', `no LR reached the target at B = ${s.unreached.join(', ')} (left out of the fit)`));
  }
  if (s.atEdge.length > 0) {
    out.push(
      line(
        'stability',
        `the best LR sat at an edge of the widened grid at B = ${s.atEdge.join(', ')}: their steps may be too high`,
      ),
    );
  }
  out.push(
    line(
      'speed',
      `the study processed ${num(s.computeSamples)} training samples (${num(s.computeEpochs)} epochs) in ${s.trials} trials, ${s.cutTrials} cut early`,
    ),
  );
  return out;
}

/** The study's summary from its batch sizes (finished or failed searches); deterministic in its inputs. */
export function summarizeStudy(
  batches: readonly StudyBatch[],
  o: { target: TrainTarget; trainCount: number; wallMs: number },
): StudySummary {
  const finished = batches.filter((b) => b.result !== undefined);
  const inputs = studyInputs(finished.map((b) => ({ batchSize: b.batchSize, result: b.result as LrSearchResult })));
  const failedSamples = batches
    .filter((b) => b.result === undefined)
    .reduce((sum, b) => sum + b.trials.reduce((t, x) => t + x.steps, 0) * b.batchSize, 0);
  const computeSamples = inputs.computeSamples + failedSamples;
  const losses = batches.map((b) => b.trainLossAtTarget).filter((x): x is number => x !== undefined);
  const partial: Omit<StudySummary, 'findings' | 'schema' | 'wallMs'> = {
    target: o.target,
    batches: [...batches],
    ...studyFits(inputs),
    computeSamples,
    computeEpochs: computeSamples / o.trainCount,
    trials: batches.reduce((n, b) => n + b.trials.length, 0),
    cutTrials: batches.reduce((n, b) => n + b.trials.filter((t) => t.outcome === 'cut').length, 0),
    unreached: [...inputs.unreached, ...batches.filter((b) => b.failure !== undefined).map((b) => b.batchSize)],
    atEdge: inputs.atEdge,
  };
  if (losses.length > 0) partial.trainLossAtTarget = median(losses);
  return { schema: STUDY_SCHEMA, ...partial, findings: studyFindings(partial), wallMs: o.wallMs };
}

/**
 * Steps to the target at B from a finished study: the replicates' mean at the best LR when there are
 * replicates (else the search seed's steps), or undefined when B was not studied or never reached it.
 */
export function studyStepsAt(summary: Pick<StudySummary, 'batches'>, batchSize: number): number | undefined {
  const b = summary.batches.find((x) => x.batchSize === batchSize);
  if (b?.result?.bestLr === undefined) return undefined;
  const reps = b.result.atBest.slice(1).filter((t) => t.outcome === 'reached');
  const runs = b.result.atBest.length > 1 ? reps : b.result.atBest;
  return runs.length === 0 ? undefined : runs.reduce((s, t) => s + t.steps, 0) / runs.length;
}
