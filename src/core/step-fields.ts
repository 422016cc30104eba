/**
 * The per-step fields, defined once. StepRecord (core/types.ts), the `steps` table and its inserts and
 * row mapping (store), the CSV export's columns and the external-command protocol's field names
 * (engine/external/metrics.ts) are all derived from this table; adding a field here adds it everywhere.
 *
 * `column` is the snake_case name used by SQLite and the CSV export; `protocol` is the name an external
 * training command reports (docs/protocol.md). `type` 'int' is a count stored as INTEGER; 'real' a
 * measurement stored as REAL. `nanAsNull` marks the fields that may be NaN (a diverged loss, a norm not
 * measured): SQLite stores NaN as NULL, so these columns are nullable and NULL reads back as NaN.
 */
export const STEP_FIELDS = [
  /** 1-based index of the update. */
  { key: 'step', column: 'step', protocol: 'step', type: 'int', nanAsNull: false },
  /** Training samples seen after this step (cumulative). */
  { key: 'samples', column: 'samples', protocol: 'samples', type: 'int', nanAsNull: false },
  /** Mean training loss over the samples of this step. */
  { key: 'loss', column: 'loss', protocol: 'loss', type: 'real', nanAsNull: true },
  /** Learning rate used for this update. */
  { key: 'lr', column: 'lr', protocol: 'lr', type: 'real', nanAsNull: true },
  /** Wall time of the step (all micro-batches + update), in ms. */
  { key: 'stepMs', column: 'step_ms', protocol: 'step_ms', type: 'real', nanAsNull: true },
  /** Samples in this update (the effective batch; the last one of an epoch may be partial). */
  { key: 'batchSize', column: 'batch_size', protocol: 'batch', type: 'int', nanAsNull: false },
  /** Samples per forward/backward pass. */
  { key: 'microBatchSize', column: 'micro_batch_size', protocol: 'micro_batch', type: 'int', nanAsNull: false },
  /** Number of micro-batches averaged into this update. */
  { key: 'accumSteps', column: 'accum_steps', protocol: 'accum', type: 'int', nanAsNull: false },
  /** |g|^2 of the applied (averaged) gradient. */
  { key: 'gradSqNorm', column: 'grad_sq_norm', protocol: 'grad_sq_norm', type: 'real', nanAsNull: true },
  /** Mean over the micro-batches of |g_micro|^2; equals gradSqNorm when accumSteps = 1. */
  {
    key: 'microGradSqNorm',
    column: 'micro_grad_sq_norm',
    protocol: 'micro_grad_sq_norm',
    type: 'real',
    nanAsNull: true,
  },
  /** Tensor-memory high-water mark during this step, in bytes. */
  { key: 'peakBytes', column: 'peak_bytes', protocol: 'peak_mem_bytes', type: 'int', nanAsNull: true },
] as const;

/** One row of STEP_FIELDS. */
export type StepField = (typeof STEP_FIELDS)[number];

/** The name of a per-step field in StepRecord. */
export type StepFieldKey = StepField['key'];

/**
 * Protocol name -> StepRecord key for every field an external command may report besides `step`. A
 * null-prototype object, so that a reported field named `constructor` or `__proto__` maps to nothing.
 */
export const STEP_PROTOCOL_FIELDS: Readonly<Record<string, Exclude<StepFieldKey, 'step'> | undefined>> = Object.assign(
  Object.create(null) as Record<string, Exclude<StepFieldKey, 'step'>>,
  Object.fromEntries(STEP_FIELDS.filter((f) => f.key !== 'step').map((f) => [f.protocol, f.key])),
);
