/**
 * A probe recorded as a run of its experiment (recommend's memory, throughput and noise probes, a noise
 * measurement, a validation run): the run row, executeRun, and a typed error for a run that did not finish.
 */
import { BatchlabError } from '../../core/errors.js';
import type { RunSummary } from '../../core/summary.js';
import type { StepRecord } from '../../core/types.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import type { Store } from '../../store/index.js';
import { type ExecuteRun, executeRun } from './execute.js';
import type { RunOutcome } from './outcome.js';

/** Where probes are recorded, and the progress hooks. */
export interface ProbeContext {
  store: Store;
  dbPath: string;
  experimentId: number;
  signal?: AbortSignal;
  /** The user's LR flag and value, for the advice when a probe diverges (default: --base-lr and the probe's LR). */
  lrFlag?: { flag: '--base-lr' | '--lr'; value: number };
  onProbe?(info: { key: string; batchSize: number; steps: number }): void;
  onStep?(info: { key: string; step: number; loss: number; stepMs: number }): void;
  /** Runs the runs; tests pass a stand-in. Default executeRun. */
  execute?: ExecuteRun;
}

/** A finished probe: its summary and its per-step records. */
export interface ProbeRun {
  runId: number;
  summary: RunSummary;
  steps: StepRecord[];
}

/** Turns a run that did not finish into a typed error; a divergence says to lower the base LR. */
function probeFailure(ctx: ProbeContext, key: string, config: TrainConfig, o: RunOutcome): BatchlabError {
  if (o.status === 'diverged') {
    const { flag, value } = ctx.lrFlag ?? { flag: '--base-lr', value: config.lr };
    return new BatchlabError(
      'BATCHLAB_DIVERGED',
      `the ${key} probe diverged at batch ${config.batchSize} with LR ${+config.lr.toPrecision(4)} (${o.reason.split(';')[0]}); lower ${flag} (e.g. ${flag} ${+(value / 10).toPrecision(3)}) and run again`,
    );
  }
  if (o.status === 'interrupted') return new BatchlabError('BATCHLAB_INTERRUPTED', `the ${key} probe was interrupted`);
  return new BatchlabError(
    o.status === 'oom' ? 'BATCHLAB_OOM' : 'BATCHLAB_CHILD_FAILED',
    `the ${key} probe at batch ${config.batchSize} failed (${o.status}): ${o.reason.split('\n')[0]}`,
  );
}

/** Runs one probe in a child process, recorded as run `key`; returns its summary and steps, or throws a typed error. */
export async function runStoredProbe(
  ctx: ProbeContext,
  key: string,
  config: TrainConfig,
  totalSteps: number,
): Promise<ProbeRun> {
  const run = ctx.store.upsertRun({
    experimentId: ctx.experimentId,
    key,
    batchSize: config.batchSize,
    microBatchSize: config.batchSize / config.accumSteps,
    accumSteps: config.accumSteps,
    seed: config.seed,
    lr: config.lr,
    settings: config,
  });
  ctx.onProbe?.({ key, batchSize: config.batchSize, steps: totalSteps });
  const outcome = await (ctx.execute ?? executeRun)(
    { kind: 'tfjs', config },
    {
      record: { dbPath: ctx.dbPath, runId: run.id },
      hooks: { signal: ctx.signal, onStep: (s) => ctx.onStep?.({ key, step: s.step, loss: s.loss, stepMs: s.stepMs }) },
    },
  );
  if (outcome.status !== 'done') throw probeFailure(ctx, key, config, outcome);
  return { runId: run.id, summary: outcome.summary!, steps: ctx.store.stepsOf(run.id) };
}
