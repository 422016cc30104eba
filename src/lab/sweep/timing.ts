/**
 * `--timing isolated`: step time re-measured alone. Runs that trained side by side (--parallel N) shared
 * the cores, caches and memory bandwidth, so their step times say how fast a batch size trains next to
 * others, not alone, and do not compare with a sweep run one at a time. After the parallel training,
 * each batch size trains again for a few hundred steps with the machine to itself (one process, every
 * core); its median and p90 step time and samples/s replace the run's in the summary, and the numbers
 * measured under sharing are kept beside them (RunSummary.timing).
 */
import type { RunSummary, RunTiming } from '../../core/summary.js';
import type { Experiment, Run, Store } from '../../store/index.js';
import { type RunSpec, executeRun } from '../run/execute.js';
import { WorkerPool } from '../run/pool.js';
import { probeConfig } from '../run/probe.js';
import { runConfig, runSpec, type SweepSettings } from './sweep.js';

/** Steps of each re-measurement (fewer when the run itself had fewer): enough for a stable median and p90. */
export const ISOLATED_TIMING_STEPS = 300;

/** The re-measurement of one run's batch size: its own config (or command) for `steps` steps, nothing stored. */
export function timingSpec(settings: SweepSettings, run: Run, steps: number): RunSpec {
  const spec = runSpec(settings, run);
  if (spec.kind === 'command') return { ...spec, values: { ...spec.values, maxSteps: steps } };
  const config = runConfig(settings, run.batchSize, run.seed);
  return { kind: 'tfjs', config: probeConfig(config, run.batchSize, steps, { accumSteps: config.accumSteps }) };
}

/** Done runs whose step times were measured while other runs shared the machine, one per batch size. */
function sharedRuns(runs: readonly Run[]): Map<number, Run[]> {
  const byBatch = new Map<number, Run[]>();
  for (const run of runs) {
    const timing = (run.summary as RunSummary | null)?.timing;
    if (run.status !== 'done' || !timing || timing.runsAtOnce <= 1 || timing.stepTimeFrom !== 'run') continue;
    byBatch.set(run.batchSize, [...(byBatch.get(run.batchSize) ?? []), run]);
  }
  return byBatch;
}

/**
 * The summary with its step time (and that step time's interval) from the re-measurement, the shared
 * median, p90 and samples/s kept in `timing`.
 */
export function withIsolatedTiming(summary: RunSummary, alone: RunSummary): RunSummary {
  const timing: RunTiming = {
    ...summary.timing!,
    stepTimeFrom: 'isolated',
    isolatedSteps: alone.steps,
    shared: { stepMs: summary.stepMs, samplesPerSec: summary.samplesPerSec },
  };
  // The step time's interval goes with the measurement it bounds: the re-measurement's, or none.
  const { stepMs: _shared, ...otherIntervals } = summary.intervals ?? {};
  const stepMsInterval = alone.intervals?.stepMs;
  const intervals = stepMsInterval ? { ...otherIntervals, stepMs: stepMsInterval } : otherIntervals;
  return {
    ...summary,
    stepMs: alone.stepMs,
    samplesPerSec: alone.samplesPerSec,
    ...(summary.intervals || stepMsInterval ? { intervals } : {}),
    timing,
  };
}

/**
 * Re-measures the step time of every batch size whose runs shared the machine, one at a time, each alone
 * in a fresh worker with every core; amends the runs' summaries. 'interrupted' when stopped midway (the
 * batch sizes not re-measured keep their shared numbers, marked as such).
 */
export async function remeasureAlone(o: {
  store: Store;
  experiment: Experiment;
  settings: SweepSettings;
  signal?: AbortSignal;
}): Promise<'done' | 'interrupted'> {
  const pool = new WorkerPool({ size: 1 });
  try {
    for (const runs of sharedRuns(o.store.runsOf(o.experiment.id)).values()) {
      if (o.signal?.aborted) return 'interrupted';
      const first = runs[0]!;
      const steps = Math.min(ISOLATED_TIMING_STEPS, (first.summary as RunSummary).steps);
      const outcome = await executeRun(timingSpec(o.settings, first, steps), {
        workers: pool,
        hooks: { signal: o.signal },
      });
      if (outcome.status === 'interrupted') return 'interrupted';
      if (outcome.status !== 'done') continue; // the shared numbers stay, marked as shared
      for (const run of runs)
        o.store.amendRunSummary(run.id, withIsolatedTiming(run.summary as RunSummary, outcome.summary!));
    }
    return 'done';
  } finally {
    await pool.close();
  }
}
