/**
 * Probes: short runs that measure memory or speed, not learning. One config for every probe of a TF.js
 * model (find-max, recommend, noise) and one reading of a probe's outcome.
 */
import { BatchlabError } from '../../core/errors.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { ProbeMeasurement } from '../../engine/trainer.js';
import type { RunOutcome } from './outcome.js';

/**
 * Learning rate of a probe that measures bytes or milliseconds: memory and step time do not depend on
 * it, and a tiny one keeps a few steps at a huge batch from diverging (a NaN would end the probe early).
 */
export const MEASURE_ONLY_LR = 1e-6;
/** Samples of each split a probe evaluates at its end (the evaluation is not what is measured). */
export const PROBE_EVAL_SAMPLES = 256;

/**
 * The config of one probe, a copy of `base` (which is never written): `steps` updates at `batchSize`,
 * no accumulation, no noise measurement, sharpness, target or periodic evaluation, the measure-only LR;
 * `extra` overrides any of it (the noise probe trains at a real LR and measures the noise).
 */
export function probeConfig(
  base: TrainConfig,
  batchSize: number,
  steps: number,
  extra: Partial<TrainConfig> = {},
): TrainConfig {
  return {
    ...base,
    batchSize,
    accumSteps: 1,
    budget: { maxSteps: steps },
    lr: MEASURE_ONLY_LR,
    schedule: 'constant',
    warmupSteps: 0,
    target: undefined,
    evalEvery: 0,
    evalTrainLimit: PROBE_EVAL_SAMPLES,
    evalTestLimit: PROBE_EVAL_SAMPLES,
    noiseEvery: 0,
    noiseFromStep: undefined,
    sharpness: undefined,
    ...extra,
  };
}

/** Which number of a finished probe's summary is its peak: the step's peak (tensor, or a command's budget measure) or the process's VmHWM. */
export type ProbePeak = 'peakBytes' | 'vmHwmBytes';

/**
 * A run's outcome as a probe measurement. An out-of-memory (an allocation failure, a SIGKILL) is 'oom'
 * and an overrun of a command's budget 'over-budget': they steer a search. A timeout stays a timeout,
 * and a divergence or a crash is an 'error': a search stops there, never reading it as "too big".
 * An interrupt throws BATCHLAB_INTERRUPTED: the user stopped the search, so it must not go on.
 */
export function probeOf(outcome: RunOutcome, peak: ProbePeak): ProbeMeasurement {
  const ms = outcome.wallMs;
  if (outcome.status === 'interrupted') throw new BatchlabError('BATCHLAB_INTERRUPTED', 'interrupted while probing');
  if (outcome.status === 'done') {
    const s = outcome.summary!;
    const peakBytes = s[peak];
    if (peakBytes === undefined)
      return {
        kind: 'error',
        ms,
        message:
          'the process high-water mark (VmHWM) is not readable here; budget on tensor memory instead (--budget-on tensor)',
      };
    return {
      kind: 'ok',
      peakBytes,
      vmHwmBytes: s.vmHwmBytes,
      ms,
      stepMs: outcome.stepMs,
      ...(outcome.statedMemory ? { statedMemory: outcome.statedMemory } : {}),
    };
  }
  const failed = { ms, vmHwmBytes: outcome.vmHwmBytes, message: outcome.reason };
  if (outcome.status === 'oom') return { kind: 'oom', ...failed, ...(outcome.oom ? { oom: outcome.oom } : {}) };
  if (outcome.status === 'timeout') return { kind: 'timeout', ...failed };
  if (outcome.status === 'over-budget') return { kind: 'over-budget', peakBytes: outcome.peakBytes, ...failed };
  return {
    kind: 'error',
    ...failed,
    message: `${outcome.status === 'diverged' ? 'diverged' : outcome.code}: ${outcome.reason}`,
  };
}
