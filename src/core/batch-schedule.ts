/**
 * Batch-size schedules: the `--batch-schedule` syntax, the batch and LR at each step of a schedule run,
 * and a batch-size warm-up built from the critical batch measured over training (Merrill et al. 2025,
 * arXiv 2505.23971: start small and double the batch as the critical batch grows; with it OLMo 1B
 * reached a slightly better loss in 43% fewer steps).
 *
 * Syntax: comma-separated phases BATCH@START, e.g. "64@0,128@2000,256@6000": batch 64 from the start,
 * 128 once 2,000 samples have been seen, 256 from 6,000. START is a whole number of samples by default;
 * the suffix "steps" ("64@0,128@500steps,256@1500steps") or the option `unit: 'steps'` (a CLI flag)
 * counts optimizer steps instead ("samples" may be written out too). One schedule has one unit: suffixes
 * that disagree with each other or with the option are an error. The first phase starts at 0 and starts
 * strictly increase; batches are positive integers (they may go down as well as up). Spaces around
 * the parts are allowed.
 *
 * Phases switch on step boundaries: step t (1-based) uses the last phase whose START is at or below the
 * samples (steps) seen before it, so "64@0,128@2000" runs 32 steps of 64 (2,048 samples) before its
 * first step of 128. A phase shorter than one step of the batch before it is skipped.
 */
import { type AccumulationChoice, accumulationPlan } from './search.js';
import type { CheckpointCritical } from './critical-batch.js';
import { UsageError } from './errors.js';
import { num } from './format.js';
import { scaleLr, type LrRule } from './lr.js';
import { parsePositiveInt } from './units.js';

/** What a phase's START counts. */
export type ScheduleUnit = 'samples' | 'steps';
export const SCHEDULE_UNITS: readonly ScheduleUnit[] = ['samples', 'steps'];

/** One phase: `batch` from `start` (in the schedule's unit) on. */
export interface SchedulePhase {
  batch: number;
  start: number;
}

/** A parsed schedule: phases with starts 0 = s_0 < s_1 < ... */
export interface BatchSchedule {
  unit: ScheduleUnit;
  phases: readonly SchedulePhase[];
}

/** An example for error messages. */
const EXAMPLE = '--batch-schedule "64@0,128@2000,256@6000"';

/** One entry split into its parts, or a UsageError naming it. */
function splitEntry(entry: string, index: number): { batch: string; start: string; unit: ScheduleUnit | undefined } {
  const where = `batch schedule entry ${index + 1} ("${entry.trim()}")`;
  if (entry.trim() === '') throw new UsageError(`${where} is empty; write BATCH@START, e.g. ${EXAMPLE}`);
  const m = /^\s*([^@\s]+)\s*@\s*(\d*)\s*([A-Za-z]*)\s*$/.exec(entry);
  if (m === null) throw new UsageError(`${where} is not BATCH@START; e.g. ${EXAMPLE}`);
  const [, batch, start, suffix] = m as unknown as [string, string, string, string];
  if (start === '') throw new UsageError(`${where} has no start after "@"; e.g. ${EXAMPLE}`);
  const unit = suffix === '' ? undefined : unitOf(suffix, where);
  return { batch, start, unit };
}

/** The unit a suffix names ("samples"/"sample", "steps"/"step"), or a UsageError. */
function unitOf(suffix: string, where: string): ScheduleUnit {
  const s = suffix.toLowerCase();
  if (s === 'samples' || s === 'sample') return 'samples';
  if (s === 'steps' || s === 'step') return 'steps';
  throw new UsageError(`${where} has an unknown unit "${suffix}"; use "samples" (the default) or "steps"`);
}

/**
 * Parses a `--batch-schedule` value (syntax in the file comment). `unit` is the unit of starts written
 * without a suffix (default 'samples'). Throws a BatchSizeError (BATCHLAB_BAD_BATCH_SIZE) for a batch
 * that is not a positive integer and a UsageError (BATCHLAB_BAD_ARGUMENT) for anything else malformed;
 * both name the entry and exit 2.
 */
export function parseBatchSchedule(text: string, options: { unit?: ScheduleUnit } = {}): BatchSchedule {
  if (text.trim() === '') throw new UsageError(`batch schedule is empty; pass e.g. ${EXAMPLE}`);
  const parts = text.split(',').map(splitEntry);
  const named = new Set(parts.flatMap((p) => (p.unit === undefined ? [] : [p.unit])));
  if (named.size > 0 && options.unit !== undefined) named.add(options.unit);
  if (named.size > 1) {
    throw new UsageError(
      `batch schedule "${text}" mixes units (${[...named].join(' and ')}); one schedule counts either samples or steps`,
    );
  }
  const unit = [...named][0] ?? options.unit ?? 'samples';
  const phases = parts.map((p, i) => {
    const where = `batch schedule entry ${i + 1} ("${p.batch}@${p.start}")`;
    const batch = parsePositiveInt(p.batch, `batch size in ${where}`, {
      code: 'BATCHLAB_BAD_BATCH_SIZE',
      example: '64',
    });
    const start = Number(p.start);
    if (!Number.isSafeInteger(start)) throw new UsageError(`${where}: start ${p.start} is too large`);
    return { batch, start };
  });
  const first = phases[0] as SchedulePhase;
  if (first.start !== 0) {
    throw new UsageError(
      `batch schedule must start at 0, but its first entry starts at ${first.start} ${unit}; e.g. ${EXAMPLE}`,
    );
  }
  for (let i = 1; i < phases.length; i++) {
    const [a, b] = [phases[i - 1] as SchedulePhase, phases[i] as SchedulePhase];
    if (b.start <= a.start) {
      throw new UsageError(
        `batch schedule starts must increase: entry ${i + 1} (${b.batch}@${b.start}) does not start after entry ${i} (${a.batch}@${a.start})`,
      );
    }
  }
  return { unit, phases };
}

/** The schedule in the `--batch-schedule` syntax (parseBatchSchedule(formatBatchSchedule(s)) gives s back). */
export function formatBatchSchedule(schedule: BatchSchedule): string {
  const suffix = schedule.unit === 'steps' ? 'steps' : '';
  return schedule.phases.map((p) => `${p.batch}@${p.start}${suffix}`).join(',');
}

/** How a schedule run sets the LR: the scaling rule from a base LR tuned at a base batch (lr.scaleLr). */
export interface ScheduleLr {
  rule: LrRule;
  baseLr: number;
  baseBatch: number;
}

/** A phase as it runs: its steps and samples. */
export interface PhaseSpan {
  /** Index into schedule.phases. */
  phase: number;
  batch: number;
  /** The LR for this batch under the rule (the peak LR; a warm-up or decay multiplies it). */
  lr: number;
  /** First step (1-based) of the phase and the samples seen before it. */
  firstStep: number;
  samplesBefore: number;
}

/** Throws as parseBatchSchedule does unless the schedule is valid (for schedules built in code rather than parsed). */
function checkSchedule(schedule: BatchSchedule): void {
  if (schedule.phases.length === 0) throw new UsageError(`batch schedule has no phases; pass e.g. ${EXAMPLE}`);
  parseBatchSchedule(formatBatchSchedule(schedule), { unit: schedule.unit });
}

/**
 * The phases of a schedule run in the order they run, with the step each begins at (phases shorter than
 * one step are left out). Phase k+1 begins at the first step whose samples before it reach its start:
 * from phase k's first step f_k with s_k samples before it, f_k + ceil((start_{k+1} - s_k) / B_k).
 */
export function phaseSpans(schedule: BatchSchedule, lr: ScheduleLr): PhaseSpan[] {
  checkSchedule(schedule);
  const spans: PhaseSpan[] = [];
  let step = 1;
  let samples = 0;
  const phases = schedule.phases;
  for (let k = 0; k < phases.length; k++) {
    const p = phases[k] as SchedulePhase;
    const next = phases[k + 1];
    const position = schedule.unit === 'samples' ? samples : step - 1;
    if (next !== undefined && next.start <= position) continue; // shorter than one step: skipped
    spans.push({
      phase: k,
      batch: p.batch,
      lr: scaleLr({ ...lr, batch: p.batch }),
      firstStep: step,
      samplesBefore: samples,
    });
    if (next === undefined) break;
    const steps = schedule.unit === 'samples' ? Math.ceil((next.start - samples) / p.batch) : next.start - (step - 1);
    step += steps;
    samples += steps * p.batch;
  }
  return spans;
}

/** The batch and LR at one step of a schedule run. */
export interface ScheduledStep {
  step: number;
  batch: number;
  lr: number;
  phase: number;
  /** Samples seen before this step. */
  samplesBefore: number;
}

/** The effective batch and LR at a 1-based step of a schedule run (phaseSpans, then spanAt). */
export function scheduleAt(schedule: BatchSchedule, step: number, lr: ScheduleLr): ScheduledStep {
  return spanAt(phaseSpans(schedule, lr), step);
}

/**
 * The step's place in precomputed spans (phaseSpans): the last span whose first step is at or before it.
 * A training loop computes the spans once and calls this every step.
 */
export function spanAt(spans: readonly PhaseSpan[], step: number): ScheduledStep {
  if (!Number.isInteger(step) || step < 1)
    throw new UsageError(`step must be a positive integer (1-based), got ${step}`);
  let span = spans[0];
  if (span === undefined) throw new UsageError('a schedule run needs at least one phase');
  for (const s of spans) if (s.firstStep <= step) span = s;
  return {
    step,
    batch: span.batch,
    lr: span.lr,
    phase: span.phase,
    samplesBefore: span.samplesBefore + (step - span.firstStep) * span.batch,
  };
}

/** A point of the critical-batch curve the schedule follows. */
export interface CriticalBatchPoint {
  /** Samples seen at the checkpoint. */
  samples: number;
  /**
   * The critical batch that can be relied on there: the lower end of its measurement (the branch rule's
   * `low`, which is the critical batch when measured and the last batch within tolerance when it
   * cannot tell; B_simple's interval low).
   */
  criticalBatch: number;
}

/**
 * The branch rule's curve (critical-batch.criticalBatchCurve) as schedule input: every checkpoint's lower
 * end `low`, which is the critical batch when measured, the largest branch for 'at-least', and the last
 * branch within tolerance when it cannot tell (a schedule never bets on what the noise left open).
 */
export function criticalPointsFromBranches(
  curve: readonly Pick<CheckpointCritical, 'samples' | 'low'>[],
): CriticalBatchPoint[] {
  return curve.map((c) => ({ samples: c.samples, criticalBatch: c.low }));
}

/**
 * Default safety factor: 1, the batch follows the critical batch's lower end itself. The lower end is
 * already the safety margin against noise (a 'cannot tell' counts only up to the last branch that was
 * within tolerance), and the branch rule's critical batch is a power of two at or below the crossing.
 * Pass 2 to stay a factor 2 below (for a proxy such as B_simple, or to trade steps for loss).
 */
export const DEFAULT_SCHEDULE_SAFETY_FACTOR = 1;

/** Options of scheduleFromCriticalCurve. */
export interface ScheduleFromCurveOptions extends ScheduleLr {
  /** Largest micro-batch that fits (find-max), for the micro-batch x accumulation split. */
  maxMicroBatch: number;
  /** Largest batch the schedule may reach (e.g. the training-set size); default unbounded. */
  maxBatch?: number;
  /** The batch doubles to 2B once criticalBatch / safetyFactor >= 2B; default DEFAULT_SCHEDULE_SAFETY_FACTOR. */
  safetyFactor?: number;
}

/** One phase of a recommended schedule with its reason. */
export interface ScheduleChange {
  atSamples: number;
  batch: number;
  lr: number;
  /** Micro-batch x accumulation steps for this batch. */
  plan: AccumulationChoice;
  reason: string;
}

/** A recommended schedule. */
export interface RecommendedSchedule {
  schedule: BatchSchedule;
  /** Every phase, the first (the base batch from 0) included. */
  changes: ScheduleChange[];
}

/**
 * A batch-size warm-up from the critical batch measured over training: start at the base batch; at each
 * checkpoint (in order of samples) the batch doubles as many times as it can while 2B <= criticalBatch /
 * safetyFactor (and <= maxBatch), so it doubles each time the critical batch passes the next power of two
 * times the base batch; it never shrinks. The LR follows the rule at each change (lr.scaleLr) and each
 * batch is split into micro-batches that fit (search.accumulationPlan).
 */
export function scheduleFromCriticalCurve(
  curve: readonly CriticalBatchPoint[],
  options: ScheduleFromCurveOptions,
): RecommendedSchedule {
  const safety = options.safetyFactor ?? DEFAULT_SCHEDULE_SAFETY_FACTOR;
  if (!(safety >= 1 && Number.isFinite(safety)))
    throw new UsageError(`schedule safety factor must be >= 1, got ${safety}; use e.g. 1 or 2`);
  const maxBatch = options.maxBatch ?? Number.POSITIVE_INFINITY;
  let batch = parsePositiveInt(options.baseBatch, 'base batch size', { code: 'BATCHLAB_BAD_BATCH_SIZE' });
  const rule = `${options.rule} rule`;
  const lrOf = (b: number): number => scaleLr({ ...options, batch: b });
  const changes: ScheduleChange[] = [
    {
      atSamples: 0,
      batch,
      lr: lrOf(batch),
      plan: accumulationPlan(batch, options.maxMicroBatch),
      reason: `start at the base batch ${batch}, LR ${num(lrOf(batch))}`,
    },
  ];
  for (const point of [...curve].sort((a, b) => a.samples - b.samples)) {
    const usable = point.criticalBatch / safety;
    let next = batch;
    while (next * 2 <= usable && next * 2 <= maxBatch) next *= 2;
    if (next === batch) continue;
    const plan = accumulationPlan(next, options.maxMicroBatch);
    const capped = next * 2 <= usable ? ` (capped at the largest batch ${maxBatch})` : '';
    const safetyWords = safety === 1 ? '' : ` / safety ${safety}`;
    changes.push({
      atSamples: point.samples,
      batch: next,
      lr: lrOf(next),
      plan,
      reason: `at ${num(point.samples)} samples the critical batch is at least ${num(point.criticalBatch)}${safetyWords}: ${batch} -> ${next}${capped}, LR ${num(lrOf(batch))} -> ${num(lrOf(next))} (${rule}), ${plan.text}`,
    });
    batch = next;
  }
  return {
    schedule: { unit: 'samples', phases: changes.map((c) => ({ batch: c.batch, start: c.atSamples })) },
    changes,
  };
}
