/**
 * The options that say where a sweep's runs go and how many at once (sweep, demo; studies can take the
 * same table). They do not define the experiment (`control`): a resume may pass other ones. Each says when
 * it applies, so a flag that does not fit the launcher is refused by name.
 */
import { parseGpuList, splitWords } from '../core/parse-launch.js';
import { createLauncher, type Launcher } from '../lab/launch/index.js';
import type { Applies, OptionTable } from './options.js';

/** Options that place runs on this machine, which a Slurm job does for itself. */
const NOT_ON_SLURM: Applies = {
  when: (o) => o.launcher !== 'slurm',
  why: 'is for runs on this machine; with --launcher slurm each run is a job of its own: ask for its GPU with --slurm "--gres=gpu:1"',
};

/** Options that only the Slurm launcher reads. */
const SLURM_ONLY: Applies = {
  when: (o) => o.launcher === 'slurm',
  why: 'goes with --launcher slurm; add --launcher slurm',
};

export const LAUNCH_OPTIONS = {
  parallel: {
    type: 'int',
    value: 'N',
    control: true,
    help: 'runs at once (default 1); TF.js runs split the cores, and their step times are marked as measured under sharing (see --timing)',
  },
  isolate: {
    type: 'boolean',
    control: true,
    onlyIf: NOT_ON_SLURM,
    help: 'a fresh process for every run (default: warm worker processes that keep TF.js and the dataset loaded; a fresh one after a crash)',
  },
  timing: {
    type: 'string',
    value: 'MODE',
    default: 'shared',
    choices: ['shared', 'isolated'],
    control: true,
    onlyIf: {
      when: (o) => o.launcher !== 'slurm' || o.timing !== 'isolated',
      why: 'isolated re-measures on this machine, not on the nodes; with --launcher slurm ask sbatch for whole nodes (--slurm "--exclusive") instead',
    },
    help: 'with runs at once: isolated re-measures the step time of each batch size alone after the training',
  },
  gpus: {
    type: 'string',
    value: 'LIST',
    control: true,
    onlyIf: [
      {
        when: (o) => o.cmd !== undefined,
        why: 'is for a command that trains on GPUs (--cmd); TF.js runs train on the CPU, use --parallel N',
      },
      NOT_ON_SLURM,
    ],
    help: 'with --cmd: GPUs to use, e.g. 0,1,2,3: one run per GPU at a time, CUDA_VISIBLE_DEVICES set per run',
  },
  launcher: {
    type: 'string',
    value: 'NAME',
    default: 'local',
    choices: ['local', 'slurm'],
    control: true,
    help: 'local: runs on this machine; slurm: each run a Slurm job (docs/cluster.md)',
  },
  slurm: {
    type: 'string',
    value: 'OPTIONS',
    control: true,
    onlyIf: SLURM_ONLY,
    help: 'with --launcher slurm: options for sbatch, e.g. --slurm "--partition=gpu --gres=gpu:1 --time=01:00:00"',
  },
  'jobs-dir': {
    type: 'string',
    value: 'PATH',
    control: true,
    onlyIf: SLURM_ONLY,
    help: 'with --launcher slurm: a folder every node can read and write (default: batchlab-jobs next to --db)',
  },
} as const satisfies OptionTable;

/** What the launch options parse to (their `onlyIf` rules have been checked by the parser). */
type LaunchValues = {
  parallel?: number;
  isolate?: boolean;
  gpus?: string;
  launcher: string;
  slurm?: string;
  'jobs-dir'?: string;
};

/** The launcher the options ask for; `dbPath`: the store, next to which Slurm's jobs folder goes by default. */
export function launcherFrom(o: LaunchValues, ctx: { dbPath: string }): Launcher {
  return createLauncher({
    kind: o.launcher === 'slurm' ? 'slurm' : 'local',
    parallel: o.parallel,
    isolate: o.isolate,
    gpus: o.gpus === undefined ? undefined : parseGpuList(o.gpus),
    slurm: { sbatchOptions: splitWords(o.slurm ?? ''), jobsDir: o['jobs-dir'], dbPath: ctx.dbPath },
  });
}
