/**
 * The options that say where a sweep's runs go and how many at once (sweep, demo; studies can take the
 * same table). They do not define the experiment: a resume may pass other ones.
 */
import { UsageError } from '../core/errors.js';
import { parseGpuList, splitWords } from '../core/parse-launch.js';
import { createLauncher, type Launcher } from '../lab/launch/index.js';
import type { OptionTable } from './options.js';

export const LAUNCH_OPTIONS = {
  parallel: {
    type: 'int',
    value: 'N',
    help: 'runs at once (default 1); TF.js runs split the cores, and their step times are marked as measured under sharing (see --timing)',
  },
  isolate: {
    type: 'boolean',
    help: 'a fresh process for every run (default: warm worker processes that keep TF.js and the dataset loaded; a fresh one after a crash)',
  },
  timing: {
    type: 'string',
    value: 'MODE',
    default: 'shared',
    choices: ['shared', 'isolated'],
    help: 'with runs at once: isolated re-measures the step time of each batch size alone after the training',
  },
  gpus: {
    type: 'string',
    value: 'LIST',
    help: 'with --cmd: GPUs to use, e.g. 0,1,2,3: one run per GPU at a time, CUDA_VISIBLE_DEVICES set per run',
  },
  launcher: {
    type: 'string',
    value: 'NAME',
    default: 'local',
    choices: ['local', 'slurm'],
    help: 'local: runs on this machine; slurm: each run a Slurm job (docs/cluster.md)',
  },
  slurm: {
    type: 'string',
    value: 'OPTIONS',
    help: 'with --launcher slurm: options for sbatch, e.g. "--partition=gpu --gres=gpu:1 --time=01:00:00"',
  },
  'jobs-dir': {
    type: 'string',
    value: 'PATH',
    help: 'with --launcher slurm: a folder every node can read and write (default: batchlab-jobs next to --db)',
  },
} as const satisfies OptionTable;

/** The launch flags as typed on a command line (a resume may change them). */
export const LAUNCH_FLAGS = Object.keys(LAUNCH_OPTIONS).map((f) => `--${f}`);

/** What the launch options parse to. */
type LaunchValues = {
  parallel?: number;
  isolate?: boolean;
  timing: string;
  gpus?: string;
  launcher: string;
  slurm?: string;
  'jobs-dir'?: string;
};

/** The launcher the options ask for; `command`: the runs are a user's command (--gpus needs one). */
export function launcherFrom(o: LaunchValues, ctx: { dbPath: string; command: boolean }): Launcher {
  if (o.gpus !== undefined && !ctx.command)
    throw new UsageError(
      '--gpus is for a command that trains on GPUs (--cmd); TF.js runs train on the CPU, use --parallel N',
    );
  if (o.launcher !== 'slurm' && (o.slurm !== undefined || o['jobs-dir'] !== undefined))
    throw new UsageError('--slurm and --jobs-dir go with --launcher slurm; add --launcher slurm');
  if (o.launcher === 'slurm' && (o.gpus !== undefined || o.isolate))
    throw new UsageError(
      `${o.gpus !== undefined ? '--gpus' : '--isolate'} is for runs on this machine; with --launcher slurm each run is a job of its own: ask for its GPU with --slurm "--gres=gpu:1"`,
    );
  if (o.launcher === 'slurm' && o.timing === 'isolated')
    throw new UsageError(
      '--timing isolated re-measures on this machine, not on the nodes; with --launcher slurm ask sbatch for whole nodes (--slurm "--exclusive") instead',
    );
  return createLauncher({
    kind: o.launcher === 'slurm' ? 'slurm' : 'local',
    parallel: o.parallel,
    isolate: o.isolate,
    gpus: o.gpus === undefined ? undefined : parseGpuList(o.gpus),
    slurm: { sbatchOptions: splitWords(o.slurm ?? ''), jobsDir: o['jobs-dir'], dbPath: ctx.dbPath },
  });
}
