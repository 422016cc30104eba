/**
 * The JSON the store keeps in its TEXT columns (experiment settings, summary and env; run settings and
 * summary), as zod schemas of schema version SCHEMA_VERSION. Every value is checked when it is written
 * (a bug that writes a wrong shape fails where it happens) and when it is read (a file edited by hand or
 * written by another program fails at the door with BATCHLAB_STORE, not deep inside a report).
 *
 * Shapes. Run summaries (RunSummary) and sweep summaries (SweepSummary) are read field by field by the
 * terminal, the report and the dashboard, so every object and string they promise must be there. Other
 * values (settings, env, the summaries of other experiment kinds) are checked field by field where a field
 * is present, since old experiments may lack fields added later. Unknown fields are kept, never dropped.
 *
 * Numbers. JSON has no NaN or Infinity: JSON.stringify writes them as null. A number field that is null
 * or absent reads back as NaN ("not measured"), as the per-step REAL columns do; an optional number that
 * is absent stays absent.
 *
 * Versioning. These shapes belong to SCHEMA_VERSION (schema.ts). A change that old values would fail
 * (a renamed or retyped field) must bump SCHEMA_VERSION with a migration that rewrites the stored JSON.
 */
import { z } from 'zod';
import { BatchlabError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';
import { FINDING_CLAIMS, type RunSummary, type SweepSummary } from '../core/summary.js';
import { SCHEMA_VERSION } from './schema.js';
import type { ExperimentKind, JsonObject } from './types.js';

/** A measured number: null (a NaN or Infinity that JSON could not hold) or absent reads as NaN. */
const measured = z
  .number()
  .nullish()
  .transform((v) => v ?? Number.NaN);
/** An optional measured number: absent stays absent; null reads as NaN. */
const optionalMeasured = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN)
  .optional();
/** A JSON object with any fields. */
const anyObject = z.looseObject({});

const splitMetrics = z.looseObject({ loss: measured, accuracy: optionalMeasured, count: optionalMeasured });

/** A target's metric (core/run.ts TARGET_METRICS). */
const targetMetric = z.enum(['accuracy', 'loss', 'train-loss']);

/** An interval of one run's own measurement (core/intervals.ts MeasuredInterval). */
const measuredInterval = z.looseObject({
  estimate: measured,
  low: measured,
  high: measured,
  confidence: measured,
  method: z.enum(['wilson', 'student-t', 'circular-block-bootstrap']),
  n: measured,
  blockLength: optionalMeasured,
});

const noiseSummary = z.looseObject({
  bSimple: optionalMeasured,
  ciLow: optionalMeasured,
  ciHigh: optionalMeasured,
  confidence: measured,
  fromStep: measured,
  toStep: measured,
  measuredSteps: measured,
  status: z.string(),
  series: z.array(z.tuple([measured, measured])),
});

/** `runs.summary`: what summarizeRun wrote when the run finished (core/summary.ts RunSummary). */
export const runSummarySchema = z.looseObject({
  batchSize: measured,
  microBatchSize: measured,
  accumSteps: measured,
  seed: measured,
  lr: measured,
  backend: z.string(),
  steps: measured,
  samples: measured,
  wallMs: measured,
  trainMs: measured,
  stepMs: z.looseObject({ median: measured, p90: measured, warmupExcluded: measured }),
  samplesPerSec: measured,
  peakBytes: measured,
  vmHwmBytes: optionalMeasured,
  lossNoise: measured,
  noise: noiseSummary,
  final: z.looseObject({ train: splitMetrics, test: splitMetrics }),
  gap: z.looseObject({ accuracy: optionalMeasured, loss: measured }),
  distanceFromInit: measured,
  sharpness: z
    .looseObject({
      topEigenvalue: measured,
      batchSamples: measured,
      iterations: measured,
      method: z.enum(['power', 'lanczos']).optional(),
      products: optionalMeasured,
    })
    .optional(),
  phasesMs: z
    .looseObject({
      processStart: optionalMeasured,
      data: optionalMeasured,
      setup: optionalMeasured,
      train: measured,
      eval: optionalMeasured,
      sharpness: optionalMeasured,
      record: optionalMeasured,
      other: optionalMeasured,
    })
    .optional(),
  timing: z
    .looseObject({
      runsAtOnce: measured,
      threads: optionalMeasured,
      stepTimeFrom: z.enum(['run', 'isolated']),
      isolatedSteps: optionalMeasured,
      shared: z
        .looseObject({
          stepMs: z.looseObject({ median: measured, p90: measured, warmupExcluded: measured }),
          samplesPerSec: measured,
        })
        .optional(),
    })
    .optional(),
  intervals: z
    .looseObject({
      testAccuracy: measuredInterval.optional(),
      stepMs: measuredInterval.optional(),
      lossNoise: measuredInterval.optional(),
    })
    .optional(),
  target: z
    .looseObject({
      metric: targetMetric,
      value: measured,
      reached: z.boolean(),
      steps: optionalMeasured,
      samples: optionalMeasured,
      wallMs: optionalMeasured,
    })
    .optional(),
}) satisfies z.ZodType<RunSummary>;

/** A run summary as the store returns it: a RunSummary (with any extra fields it was stored with). */
export type StoredRunSummary = z.output<typeof runSummarySchema>;

/** A per-batch number with its interval (core/summary.ts BatchValue). */
const batchValue = z
  .looseObject({
    estimate: measured,
    low: optionalMeasured,
    high: optionalMeasured,
    confidence: optionalMeasured,
    method: z.string().optional(),
    runs: measured,
  })
  .optional();

const batchStats = z.looseObject({
  batchSize: measured,
  runs: measured,
  seeds: z.array(z.number()),
  peakBytes: batchValue,
  stepMs: batchValue,
  samplesPerSec: batchValue,
  lossNoise: batchValue,
  bSimple: batchValue,
  testAccuracy: batchValue,
  testLoss: batchValue,
  gapAccuracy: batchValue,
  gapLoss: batchValue,
  sharpness: batchValue,
  reachedTarget: optionalMeasured,
  stepsToTarget: batchValue,
});

const comparison = z.enum(['equal-samples', 'equal-steps', 'equal-train-loss', 'equal-held-out-target']);

const restsOn = z.looseObject({
  seeds: measured,
  batchSizes: z.array(z.number()),
  runs: measured,
  heldOutSamples: optionalMeasured,
  test: z.string(),
  confidence: measured,
  noise: z.enum(['spread between runs', 'sampling error of each run', 'not estimable']),
});

/**
 * One finding. A finding stored before verdicts (schema v2 as first released) has `agreesWithSeed`, an
 * endpoint comparison of one seed, and no `verdict`: it reads back with `verdict: null`, `claim: 'none'` and
 * `predatesVerdicts: true` (its old field kept), so every reader says it was not tested, never that it agrees.
 */
const finding = z
  .looseObject({
    effect: z.enum(['memory', 'speed', 'stability', 'generalization']),
    claim: z.enum(FINDING_CLAIMS).optional(),
    text: z.string(),
    verdict: z.enum(['agrees', 'contradicts', 'inconclusive']).nullable().optional(),
    agreesWithSeed: z.boolean().nullable().optional(),
    statistic: z.looseObject({ name: z.literal('t'), value: measured, df: measured }).optional(),
    pValue: optionalMeasured,
    interval: z
      .looseObject({
        scale: z.enum(['log', 'linear']),
        estimate: measured,
        low: measured,
        high: measured,
        confidence: measured,
      })
      .optional(),
    toSettle: z.looseObject({ seeds: optionalMeasured, heldOutSamples: optionalMeasured }).optional(),
    restsOn: restsOn.optional(),
    comparison: comparison.optional(),
    best: z
      .looseObject({
        outcome: z.enum(['single', 'set', 'inconclusive']),
        best: z.array(z.number()),
        worse: z.array(z.number()),
      })
      .optional(),
    saturation: z
      .looseObject({
        outcome: z.enum(['saturated', 'still-rising', 'inconclusive']),
        saturatedFrom: optionalMeasured,
        largestBatch: measured,
      })
      .optional(),
    predatesVerdicts: z.boolean().optional(),
  })
  .transform(({ claim, verdict, ...rest }) =>
    verdict === undefined
      ? { ...rest, claim: claim ?? ('none' as const), verdict: null, predatesVerdicts: true }
      : { ...rest, claim: claim ?? ('none' as const), verdict },
  );

/** `experiments.summary` of a sweep (core/summary.ts SweepSummary). */
export const sweepSummarySchema = z.looseObject({
  memoryFit: z.looseObject({ interceptBytes: measured, bytesPerSample: measured, r2: measured }).optional(),
  stepTimeFit: z.looseObject({ alphaMs: measured, betaMsPerSample: measured, r2: measured }).optional(),
  saturationBatch: optionalMeasured,
  tradeoff: z.looseObject({ sMin: measured, eMin: measured, bCrit: optionalMeasured, r2: measured }).optional(),
  perBatch: z.array(batchStats).optional(),
  budget: z.string().optional(),
  comparison: comparison.optional(),
  findings: z.array(finding),
  wallMs: measured,
}) satisfies z.ZodType<SweepSummary>;

/** A run's training config (lab/train.ts TrainConfig); `runs.settings`, and `base` of the experiment kinds. */
export const trainConfigSchema = z
  .looseObject({
    dataset: z.string(),
    datasetOptions: anyObject,
    model: z.looseObject({ name: z.string() }),
    batchSize: z.number(),
    accumSteps: z.number(),
    budget: z.looseObject({ epochs: z.number(), maxSteps: z.number(), maxSamples: z.number() }).partial(),
    lastBatch: z.string(),
    optimizer: z.looseObject({ name: z.string() }),
    lr: measured,
    schedule: z.string(),
    warmupSteps: z.number(),
    seed: z.number(),
    backend: z.string(),
    evalEvery: z.number(),
    evalTrainLimit: z.number(),
    target: z.looseObject({ metric: targetMetric, value: z.number() }),
  })
  .partial();

/** A sweep's budget (lab/sweep.ts SweepBudget). */
const sweepBudget = z.discriminatedUnion('kind', [
  z.looseObject({ kind: z.enum(['epochs', 'steps', 'samples']), value: z.number() }),
  z.looseObject({
    kind: z.literal('target'),
    target: z.looseObject({ metric: targetMetric, value: z.number() }),
    maxEpochs: z.number(),
  }),
]);

/** What a sweep's and a study's settings share: the run config, the batch sizes and seeds, the LR rule. */
const batchFamilySettings = {
  base: trainConfigSchema,
  batchSizes: z.array(z.number()),
  seeds: z.array(z.number()),
  lrRule: z.string(),
  baseLr: z.number(),
  baseBatch: z.number(),
};

/** `experiments.settings` by experiment kind. */
export const EXPERIMENT_SETTINGS_SCHEMAS: Readonly<Record<ExperimentKind, z.ZodType<JsonObject>>> = {
  sweep: z
    .looseObject({
      ...batchFamilySettings,
      budget: sweepBudget,
      trainCount: z.number(),
      command: z.looseObject({ template: z.string(), timeoutMs: z.number().optional() }),
    })
    .partial(),
  'find-max': z
    .looseObject({
      budgetBytes: z.number(),
      budgetOn: z.string(),
      cap: z.number(),
      analyticBatches: z.array(z.number()),
      subject: anyObject,
    })
    .partial(),
  recommend: z.looseObject({ base: trainConfigSchema, objective: z.string() }).partial(),
  noise: z.looseObject({ base: trainConfigSchema, batchSize: z.number() }).partial(),
  train: anyObject,
  branch: z
    .looseObject({
      base: trainConfigSchema,
      baseBatch: z.number(),
      baseLr: z.number(),
      lrRule: z.string(),
      totalSamples: z.number(),
      checkpoints: z.array(z.number()),
      windowSamples: z.number(),
      branchBatches: z.array(z.number()),
      seeds: z.array(z.number()),
      tolerance: z.number(),
      command: z.looseObject({ template: z.string(), timeoutMs: z.number().optional() }),
    })
    .partial(),
  study: z
    .looseObject({
      ...batchFamilySettings,
      target: z.looseObject({ metric: z.enum(['accuracy', 'loss']), value: z.number() }),
      maxEpochs: z.number(),
      gridPoints: z.number(),
      gridRatio: z.number(),
      widenLimit: z.number(),
      trainCount: z.number(),
      evalsPerEpoch: z.number(),
      evalSamples: z.number(),
    })
    .partial(),
};

/** `experiments.summary` by experiment kind. */
export const EXPERIMENT_SUMMARY_SCHEMAS: Readonly<Record<ExperimentKind, z.ZodType<JsonObject>>> = {
  sweep: sweepSummarySchema,
  'find-max': z
    .looseObject({
      budgetBytes: measured,
      answer: z.looseObject({ batch: z.number(), peakBytes: measured, budgetFraction: measured }).nullable(),
      wallMs: measured,
      error: z.string(),
      probes: z.number(),
    })
    .partial(),
  recommend: z.looseObject({ schema: z.string() }).partial(),
  noise: z.looseObject({ noise: anyObject }).partial(),
  train: anyObject,
  // lab/branch (core/branch-summary.ts BranchSummary): the web page reads points, proxy, schedule, compute.
  branch: z
    .looseObject({
      points: z.array(
        z.looseObject({
          samples: z.number(),
          baseLoss: measured,
          critical: z.looseObject({ status: z.string(), low: z.number(), high: measured, text: z.string() }),
          noise: z.looseObject({ bSimple: optionalMeasured, low: optionalMeasured, high: optionalMeasured }),
        }),
      ),
      proxy: z.looseObject({ verdict: z.enum(['agrees', 'differs', 'cannot-tell']), text: z.string() }),
      schedule: z.looseObject({ text: z.string(), changes: z.array(anyObject) }),
      compute: z.looseObject({ ratio: measured, text: z.string() }),
      findings: z.array(z.string()),
    })
    .partial(),
  // core/study-plan.ts StudySummary; an interval's unbounded end (Infinity) is stored as null.
  study: z
    .looseObject({
      schema: z.string(),
      batches: z.array(z.looseObject({ batchSize: z.number(), trials: z.array(anyObject) })),
      fit: anyObject.nullable(),
      lrRelation: anyObject.nullable(),
      computeSamples: measured,
      findings: z.array(z.looseObject({ text: z.string() })),
      wallMs: measured,
    })
    .partial(),
};

/** `experiments.env`: versions and hardware (lab/sweep.ts environment()). */
export const envSchema = z
  .looseObject({
    node: z.string(),
    tfjs: z.string(),
    batchlab: z.string(),
    cpu: z.string(),
    cores: z.number(),
    memoryBytes: z.number(),
    os: z.string(),
  })
  .partial();

/** Where a stored JSON value lives, for messages: table, column, row id. */
export interface JsonPlace {
  table: 'experiments' | 'runs';
  column: 'settings' | 'summary' | 'env';
  id: number;
}

/**
 * Parses and validates stored JSON text read from `path`; throws BATCHLAB_STORE (exit 2) naming the
 * row, the first field that does not match and what to do.
 */
export function readStoredJson<T>(schema: z.ZodType<T>, text: string, where: JsonPlace & { path: string }): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw storedJsonError(where, 'is not valid JSON', err);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw storedJsonError(
      where,
      `does not match batchlab's schema version ${SCHEMA_VERSION} (${firstIssue(parsed.error)})`,
    );
  }
  return parsed.data;
}

/**
 * Serializes a value for a JSON column after checking that it will read back: the JSON text (NaN and
 * Infinity already turned into null, as the reader will see them) must match `schema`. A mismatch is a
 * caller's bug, reported as BATCHLAB_BAD_ARGUMENT naming the field.
 */
export function writeStoredJson(schema: z.ZodType<unknown>, value: unknown, what: string): string {
  const text = typeof value === 'object' && value !== null && !Array.isArray(value) ? JSON.stringify(value) : undefined;
  if (text === undefined) throw new BatchlabError('BATCHLAB_BAD_ARGUMENT', `${what} must be a JSON object`);
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new BatchlabError(
      'BATCHLAB_BAD_ARGUMENT',
      `${what} does not match the store's schema version ${SCHEMA_VERSION} (${firstIssue(parsed.error)}); it was not written`,
    );
  }
  return text;
}

function storedJsonError(where: JsonPlace & { path: string }, why: string, cause?: unknown): BatchlabError {
  const row = `${where.table === 'experiments' ? 'experiment' : 'run'} ${where.id}`;
  return new BatchlabError(
    'BATCHLAB_STORE',
    `${escapeControl(where.path)}: the ${where.column} of ${row} ${why}; the file was edited or written by ` +
      'another program; restore it from a copy or pass --db PATH',
    { cause },
  );
}

/** "final.test.loss: expected number, received string", with the path and the user's text escaped. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  const at = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
  return escapeControl(`${at}: ${issue.message.replace(/^Invalid input: /, '')}`);
}
