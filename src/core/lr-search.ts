/**
 * The LR search at one batch size of a study (Shallue et al. 2018, arXiv 1811.03600: steps to
 * the target at the best learning rate of a search, per batch size), as a pure planner: given the
 * settings and the trials stored so far, `planLrSearch` says which trial to run next, to wait, or that
 * the search is done. Nothing is kept between calls, so a study resumed after Ctrl-C replays its stored
 * trials and continues exactly where it stopped (a trial that was running when it stopped is simply run
 * again, since it was never stored).
 *
 * 1. Grid: `gridPoints` LRs spaced by `gridRatio` around the centre (the LR the scaling rule gives at
 *    this batch, lr.scaleLr): lr_i = centre * ratio^(i - (N - 1)/2), i = 0..N-1, run from the centre
 *    outwards, the larger LR first at equal distance (a fast trial early sets the bar that cuts the rest).
 * 2. Widen: when the best LR is the largest (smallest) LR tried, the next trial is one grid step beyond
 *    it, until the best has a tried LR on both sides (then it is interior: a better LR would have to lie
 *    between grid points) or `widenLimit` steps beyond the grid were tried on that side ('edge-limit'
 *    says so). With no trial reaching the target, the grid widens upwards while the largest LR did not
 *    diverge (a larger LR may be fast enough), else downwards while the smallest diverged.
 * 3. Replicate: with seeds [s0, s1, ...] the search runs on s0; s1, ... then run at the best LR, uncut,
 *    for the study's points (s0's own best is the minimum over noisy trials and so biased low; the
 *    replicates are not).
 *
 * Early stopping: a search trial that has run as many steps as the best steps-to-target known at this
 * batch without reaching the target is cut: it can only reach it later, so it cannot become the best.
 * This never cuts the eventual winner (it reaches the target in fewer steps than every other trial, so
 * at every moment in at most the best known). Successive halving (Jamieson & Talwalkar 2016) is not
 * used: it ranks trials by an intermediate loss, and a trial that is behind at a rung but reaches the
 * target first (a large LR with warm-up, a small LR that does not plateau) would be cut; the step rule is
 * exact and already stops every losing trial once it has cost as much as the winner.
 */
import { UsageError } from './errors.js';
import { num } from './format.js';

/** Default number of LRs in the first grid (`--lr-grid`). */
export const DEFAULT_LR_GRID_POINTS = 5;
/** Default ratio between neighbouring LRs: 5 points span 16x around the centre. */
export const DEFAULT_LR_GRID_RATIO = 2;
/** Default most grid steps added beyond the first grid on each side: up to 2^(2+3) = 32x from the centre with the defaults. */
export const DEFAULT_LR_WIDEN_LIMIT = 3;

/**
 * How a trial ended. 'reached': hit the target at `steps`; 'not-reached': ran its whole budget
 * without it; 'cut': stopped at `steps` by the early-stopping rule; 'diverged': loss became NaN/Inf at `steps`.
 */
export type TrialOutcome = 'reached' | 'not-reached' | 'cut' | 'diverged';

/** A finished trial, as stored. */
export interface LrTrial {
  lr: number;
  seed: number;
  outcome: TrialOutcome;
  /** Steps run: the steps to the target when 'reached'. */
  steps: number;
}

/** Settings of one batch size's search. */
export interface LrSearchSettings {
  /** The LR the scaling rule gives at this batch size: the grid's centre. */
  centerLr: number;
  /** LRs in the first grid; default DEFAULT_LR_GRID_POINTS. */
  gridPoints?: number;
  /** Ratio between neighbouring LRs (> 1); default DEFAULT_LR_GRID_RATIO. */
  gridRatio?: number;
  /** Most grid steps added on each side; default DEFAULT_LR_WIDEN_LIMIT. */
  widenLimit?: number;
  /** Seeds: the first runs the search, the others replicate the best LR. */
  seeds: readonly number[];
  /** Step budget of one trial (a trial that has not reached the target by then is 'not-reached'). */
  maxSteps: number;
}

/** A trial to run. */
export interface TrialPlan {
  kind: 'run';
  lr: number;
  seed: number;
  /** Grid index (0..gridPoints-1 in the first grid; below 0 or above it when widened). */
  gridIndex: number;
  phase: 'grid' | 'widen' | 'replicate';
  /** Stop the trial after this many steps if it has not reached the target (the best known steps, or maxSteps). */
  stepLimit: number;
  reason: string;
}

/** Result of a finished search. */
export interface LrSearchResult {
  /** 'found': best LR interior to the LRs tried; 'edge-limit': best at an edge after widening to the limit; 'none-reached': no LR reached the target. */
  outcome: 'found' | 'edge-limit' | 'none-reached';
  bestLr?: number;
  /** The search seed's steps at the best LR (biased low: the minimum over the trials). */
  searchSteps?: number;
  /** Which edge the limit was hit at, for 'edge-limit'. */
  limitHit?: 'low' | 'high';
  /** Every seed's run at the best LR: the study's points at this batch size (only 'reached' ones carry steps to the target). */
  atBest: LrTrial[];
  /** LRs tried by the search, ascending. */
  lrsTried: number[];
  /** Trials stored, trials cut early, and their steps in total (the search's compute, in steps). */
  trials: number;
  cutTrials: number;
  stepsSpent: number;
  text: string;
}

/** What to do next. */
export type LrSearchStep = TrialPlan | { kind: 'wait'; reason: string } | { kind: 'done'; result: LrSearchResult };

/** Settings with defaults filled in and checked. */
interface Resolved {
  center: number;
  points: number;
  ratio: number;
  limit: number;
  seeds: readonly number[];
  maxSteps: number;
}

/** Fills in and checks the settings. */
function resolve(s: LrSearchSettings): Resolved {
  const r: Resolved = {
    center: s.centerLr,
    points: s.gridPoints ?? DEFAULT_LR_GRID_POINTS,
    ratio: s.gridRatio ?? DEFAULT_LR_GRID_RATIO,
    limit: s.widenLimit ?? DEFAULT_LR_WIDEN_LIMIT,
    seeds: s.seeds,
    maxSteps: s.maxSteps,
  };
  if (!(Number.isFinite(r.center) && r.center > 0)) {
    throw new UsageError(`LR search centre must be a positive LR, got ${r.center}; pass e.g. --base-lr 0.1`);
  }
  if (!Number.isInteger(r.points) || r.points < 2) {
    throw new UsageError(`LR grid needs at least 2 points, got ${r.points}; pass e.g. --lr-grid 5`);
  }
  if (!(Number.isFinite(r.ratio) && r.ratio > 1))
    throw new UsageError(`LR grid ratio must be > 1, got ${r.ratio}; use e.g. 2`);
  if (!Number.isInteger(r.limit) || r.limit < 0)
    throw new UsageError(`LR widen limit must be an integer >= 0, got ${r.limit}`);
  if (r.seeds.length === 0) throw new UsageError('LR search needs at least one seed, got none; pass e.g. --seeds 1');
  if (!Number.isInteger(r.maxSteps) || r.maxSteps < 1) {
    throw new UsageError(`trial step budget must be a positive integer, got ${r.maxSteps}`);
  }
  return r;
}

/** The LR at a grid index: centre * ratio^(i - (N - 1)/2). */
function lrAtIndex(r: Resolved, i: number): number {
  return r.center * r.ratio ** (i - (r.points - 1) / 2);
}

/** The grid index of an LR, or undefined when it is not on the grid (relative miss over 1e-6). */
function indexOfLr(r: Resolved, lr: number): number | undefined {
  const i = Math.round(Math.log(lr / r.center) / Math.log(r.ratio) + (r.points - 1) / 2);
  return Math.abs(lrAtIndex(r, i) / lr - 1) <= 1e-6 ? i : undefined;
}

/** The first grid's LRs, ascending (for the report's per-B chart). */
export function lrGrid(settings: LrSearchSettings): number[] {
  const r = resolve(settings);
  return Array.from({ length: r.points }, (_, i) => lrAtIndex(r, i));
}

/** Search-seed trials by grid index (the first stored trial at an index counts); throws on an LR off the grid. */
function searchTrials(r: Resolved, trials: readonly LrTrial[]): Map<number, LrTrial> {
  const byIndex = new Map<number, LrTrial>();
  for (const t of trials) {
    if (t.seed !== r.seeds[0]) continue;
    const i = indexOfLr(r, t.lr);
    if (i === undefined) {
      throw new UsageError(
        `stored trial at LR ${t.lr} (seed ${t.seed}) is not on this search's grid (centre ${r.center}, ratio ${r.ratio}); resume with the settings the study started with`,
      );
    }
    if (!byIndex.has(i)) byIndex.set(i, t);
  }
  return byIndex;
}

/** Index of the best reached trial: fewest steps, then nearest the centre, then the smaller LR; undefined if none reached. */
function bestIndex(r: Resolved, byIndex: ReadonlyMap<number, LrTrial>): number | undefined {
  const mid = (r.points - 1) / 2;
  let best: number | undefined;
  for (const [i, t] of byIndex) {
    if (t.outcome !== 'reached') continue;
    const b = best === undefined ? undefined : (byIndex.get(best) as LrTrial);
    const better =
      b === undefined ||
      t.steps < b.steps ||
      (t.steps === b.steps &&
        (Math.abs(i - mid) < Math.abs((best as number) - mid) ||
          (Math.abs(i - mid) === Math.abs((best as number) - mid) && i < (best as number))));
    if (better) best = i;
  }
  return best;
}

/** The step count at which a search trial is cut now: the best known steps-to-target, else maxSteps. */
function stepLimitNow(r: Resolved, byIndex: ReadonlyMap<number, LrTrial>): number {
  const best = bestIndex(r, byIndex);
  return best === undefined ? r.maxSteps : Math.min(r.maxSteps, (byIndex.get(best) as LrTrial).steps);
}

/** A key for a running trial. */
type RunningTrial = Pick<LrTrial, 'lr' | 'seed'>;

/** True when `running` holds a trial at this LR and seed (same relative 1e-6 tolerance as the grid). */
function isRunning(running: readonly RunningTrial[], lr: number, seed: number): boolean {
  return running.some((t) => t.seed === seed && Math.abs(t.lr / lr - 1) <= 1e-6);
}

/**
 * The next step of the search at one batch size, from its settings and the trials stored so far
 * (in any order). `running`: trials started but not stored yet (for parallel runs): they are not
 * planned again, and a decision that depends on them answers 'wait'.
 */
export function planLrSearch(
  settings: LrSearchSettings,
  trials: readonly LrTrial[],
  options: { running?: readonly RunningTrial[] } = {},
): LrSearchStep {
  const r = resolve(settings);
  const running = options.running ?? [];
  const byIndex = searchTrials(r, trials);
  const search0 = r.seeds[0] as number;
  const pending = gridOrder(r).filter((i) => !byIndex.has(i));
  const free = pending.find((i) => !isRunning(running, lrAtIndex(r, i), search0));
  if (free !== undefined) return runAt(r, byIndex, free, 'grid', `grid point ${free + 1} of ${r.points}`);
  if (pending.length > 0 || running.some((t) => t.seed === search0)) {
    return { kind: 'wait', reason: 'the search waits for running trials before it decides whether to widen the grid' };
  }
  const widen = widenStep(r, byIndex);
  if (widen !== undefined) return runAt(r, byIndex, widen.index, 'widen', widen.reason);
  return replicateOrDone(r, byIndex, trials, running);
}

/** First-grid indices in run order: from the centre outwards, the larger LR first at equal distance. */
function gridOrder(r: Resolved): number[] {
  const mid = (r.points - 1) / 2;
  return Array.from({ length: r.points }, (_, i) => i).sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid) || b - a);
}

/** A search trial plan at a grid index. */
function runAt(
  r: Resolved,
  byIndex: ReadonlyMap<number, LrTrial>,
  i: number,
  phase: 'grid' | 'widen',
  reason: string,
): TrialPlan {
  return {
    kind: 'run',
    lr: lrAtIndex(r, i),
    seed: r.seeds[0] as number,
    gridIndex: i,
    phase,
    stepLimit: stepLimitNow(r, byIndex),
    reason,
  };
}

/** Tried index range [lo, hi] (contiguous by construction). */
function triedRange(byIndex: ReadonlyMap<number, LrTrial>): { lo: number; hi: number } {
  const idx = [...byIndex.keys()];
  return { lo: Math.min(...idx), hi: Math.max(...idx) };
}

/** The widening trial, if the search should widen (see the file comment, step 2). */
function widenStep(r: Resolved, byIndex: ReadonlyMap<number, LrTrial>): { index: number; reason: string } | undefined {
  const { lo, hi } = triedRange(byIndex);
  const best = bestIndex(r, byIndex);
  const canUp = hi + 1 <= r.points - 1 + r.limit;
  const canDown = lo - 1 >= -r.limit;
  if (best !== undefined) {
    if (best === hi && canUp)
      return { index: hi + 1, reason: `best LR ${num(lrAtIndex(r, hi))} is the largest tried: widening up` };
    if (best === lo && canDown)
      return { index: lo - 1, reason: `best LR ${num(lrAtIndex(r, lo))} is the smallest tried: widening down` };
    return undefined;
  }
  if ((byIndex.get(hi) as LrTrial).outcome !== 'diverged' && canUp) {
    return { index: hi + 1, reason: 'no LR reached the target and the largest did not diverge: widening up' };
  }
  if ((byIndex.get(lo) as LrTrial).outcome === 'diverged' && canDown) {
    return { index: lo - 1, reason: 'every LR diverged: widening down' };
  }
  return undefined;
}

/** After the search: the next replicate at the best LR, 'wait' for running ones, or the result. */
function replicateOrDone(
  r: Resolved,
  byIndex: ReadonlyMap<number, LrTrial>,
  trials: readonly LrTrial[],
  running: readonly RunningTrial[],
): LrSearchStep {
  const best = bestIndex(r, byIndex);
  if (best === undefined) return { kind: 'done', result: searchResult(r, byIndex, trials, undefined) };
  const lr = lrAtIndex(r, best);
  const atBest = (seed: number): LrTrial | undefined =>
    trials.find((t) => t.seed === seed && Math.abs(t.lr / lr - 1) <= 1e-6);
  const missing = r.seeds.slice(1).filter((s) => atBest(s) === undefined);
  const next = missing.find((s) => !isRunning(running, lr, s));
  if (next !== undefined) {
    return {
      kind: 'run',
      lr,
      seed: next,
      gridIndex: best,
      phase: 'replicate',
      stepLimit: r.maxSteps,
      reason: `replicate seed ${next} at the best LR`,
    };
  }
  if (missing.length > 0) return { kind: 'wait', reason: 'waiting for replicate runs at the best LR' };
  return { kind: 'done', result: searchResult(r, byIndex, trials, best) };
}

/** Builds the result of a finished search. */
function searchResult(
  r: Resolved,
  byIndex: ReadonlyMap<number, LrTrial>,
  trials: readonly LrTrial[],
  best: number | undefined,
): LrSearchResult {
  const { lo, hi } = triedRange(byIndex);
  const result: LrSearchResult = {
    outcome: 'none-reached',
    atBest: [],
    lrsTried: [...byIndex.keys()].sort((a, b) => a - b).map((i) => lrAtIndex(r, i)),
    trials: trials.length,
    cutTrials: trials.filter((t) => t.outcome === 'cut').length,
    stepsSpent: trials.reduce((s, t) => s + t.steps, 0),
    text: '',
  };
  if (best !== undefined) {
    const bestLr = lrAtIndex(r, best);
    result.bestLr = bestLr;
    result.searchSteps = (byIndex.get(best) as LrTrial).steps;
    result.atBest = r.seeds.map(
      (s) => trials.find((t) => t.seed === s && Math.abs(t.lr / bestLr - 1) <= 1e-6) as LrTrial,
    );
    result.outcome = best === hi || best === lo ? 'edge-limit' : 'found';
    if (result.outcome === 'edge-limit') result.limitHit = best === hi ? 'high' : 'low';
  }
  result.text = describeSearch(result, r);
  return result;
}

/** The search's outcome in one line. */
function describeSearch(res: LrSearchResult, r: Resolved): string {
  const tried = res.lrsTried;
  const range = `${tried.length} LRs ${num(tried[0])}..${num(tried[tried.length - 1])}`;
  if (res.outcome === 'none-reached') return `no LR reached the target (${range}, ${r.maxSteps} steps each)`;
  const cut = res.cutTrials > 0 ? `; ${res.cutTrials} trial(s) cut early` : '';
  const best = `best LR ${num(res.bestLr)} (${res.searchSteps} steps)`;
  if (res.outcome === 'found') return `${best} among ${range}${cut}`;
  const side = res.limitHit === 'high' ? 'largest' : 'smallest';
  return `${best} is the ${side} of ${range} after widening ${r.limit} step(s): the true best may lie beyond it${cut}`;
}

/**
 * "Stop this trial now?": true when a search trial (seed = the search seed) has run `stepsDone` steps
 * without reaching the target and the best steps-to-target stored so far is <= stepsDone. Replicates
 * are never cut. Call it after checking the target at that step; with parallel trials, with the latest
 * stored trials (the bar only falls).
 */
export function shouldCutTrial(
  settings: LrSearchSettings,
  trials: readonly LrTrial[],
  trial: { seed: number; stepsDone: number },
): boolean {
  const r = resolve(settings);
  if (trial.seed !== r.seeds[0]) return false;
  const byIndex = searchTrials(r, trials);
  const best = bestIndex(r, byIndex);
  return best !== undefined && trial.stepsDone >= (byIndex.get(best) as LrTrial).steps;
}

/**
 * The outcome to store for a search or replicate trial that stopped: 'reached' at the target,
 * 'diverged', 'cut' when it stopped before its budget without either (the early-stopping bar, from the
 * plan's stepLimit or shouldCutTrial), else 'not-reached'.
 */
export function trialOutcome(
  settings: Pick<LrSearchSettings, 'maxSteps'>,
  run: { reached: boolean; diverged: boolean; stepsDone: number },
): TrialOutcome {
  if (run.reached) return 'reached';
  if (run.diverged) return 'diverged';
  return run.stepsDone < settings.maxSteps ? 'cut' : 'not-reached';
}
