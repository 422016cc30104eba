/**
 * `batchlab recommend --batch-schedule`: a batch-size warm-up from the critical batch measured over training
 * (lab/branch recommendSchedule): of a stored branch experiment, or measured first. Prints the schedule
 * in the `--batch-schedule` syntax, its reason per change, and the `train` command that runs it.
 */
import { branchSettings, recommendSchedule, type ScheduleRecommendation } from '../../lab/branch/branch.js';
import { num } from '../format.js';
import type { Io } from '../io.js';
import type { TrainConfig } from '../../engine/tfjs/trainer.js';
import { runBranchWithProgress } from './branch.js';

/** What recommend --batch-schedule needs from recommend's own options. */
export interface ScheduleCommandOptions {
  base: TrainConfig;
  dbPath: string;
  fromId?: number;
  maxMicroBatch?: number;
}

/** The schedule of a stored branch measurement; when none fits, it is measured here, with branch's progress line. */
export function scheduleFor(
  o: ScheduleCommandOptions,
  io: Io,
  out: { verbose: boolean; signal: AbortSignal },
): Promise<ScheduleRecommendation> {
  return recommendSchedule(
    { dbPath: o.dbPath, fromId: o.fromId, settings: branchSettings({ base: o.base }), maxMicroBatch: o.maxMicroBatch },
    (opts) => runBranchWithProgress(opts, io, out),
  );
}

/** The train command that runs the schedule. */
function trainCommandOf(r: ScheduleRecommendation, maxMicroBatch: number | undefined): string {
  const s = r.settings;
  const b = s.base;
  const split = maxMicroBatch ?? s.maxMicroBatch;
  const largest = Math.max(...r.schedule.changes.map((c) => c.batch));
  return [
    `batchlab train --dataset ${b.dataset} --model ${b.model.name}`,
    b.model.name === 'mlp' && b.model.hidden ? ` --hidden ${b.model.hidden.join(',')}` : '',
    ` --optimizer ${b.optimizer.name} --lr ${num(s.baseLr)} --lr-rule ${s.lrRule}`,
    ` --batch-schedule "${r.schedule.text}" --samples ${s.totalSamples}`,
    largest > split ? ` --max-micro-batch ${split}` : '',
  ].join('');
}

export function scheduleText(r: ScheduleRecommendation, maxMicroBatch?: number): string {
  const s = r.settings;
  return [
    `batch-size schedule from branch experiment ${r.experimentId}${r.measured ? ' (measured now)' : ''}: ${s.base.dataset} / ${s.base.model.name}, base batch ${s.baseBatch}, LR ${num(s.baseLr)}, ${s.lrRule} rule`,
    `  --batch-schedule "${r.schedule.text}"`,
    ...r.schedule.changes.map((c) => `  ${num(c.atSamples)} samples: ${c.reason}`),
    s.command
      ? `run it with your command at these batches and LRs (the schedule counts samples seen)`
      : `run it with: ${trainCommandOf(r, maxMicroBatch)}`,
  ].join('\n');
}

export function scheduleJson(r: ScheduleRecommendation) {
  return { experimentId: r.experimentId, measured: r.measured, schedule: r.schedule.text, changes: r.schedule.changes };
}
