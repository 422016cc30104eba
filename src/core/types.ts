/**
 * Records shared by trainers, the store and the reports. Units are in the names.
 * Definitions follow ../shared/product.md: batch size B = samples per update; micro-batch b =
 * samples per forward/backward pass; accumulation steps k; B = b x k.
 */
import type { StepFieldKey } from './step-fields.js';

/**
 * One optimizer update: a number for each field of STEP_FIELDS (core/step-fields.ts), where each
 * field's meaning and unit are written down.
 */
export type StepRecord = { [K in StepFieldKey]: number };

/** One evaluation on held-out (or training) data. */
export interface EvalRecord {
  step: number;
  samples: number;
  /** Which split was evaluated. */
  split: 'train' | 'test';
  loss: number;
  /** Classification accuracy in [0, 1]; undefined for regression. */
  accuracy?: number;
}
