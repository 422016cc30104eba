/** Launchers: where runs go (this machine, or Slurm jobs) and how many at once. */
import { type Launcher, localLauncher } from './launcher.js';
import { SlurmLauncher } from './slurm.js';

export { type Launcher, type LocalLaunchOptions, localLauncher, onGpu, Slots, threadsPerRun } from './launcher.js';
export { runEach } from './queue.js';
export { SlurmLauncher, type SlurmLaunchOptions } from './slurm.js';

/** What createLauncher needs. */
export interface LaunchSettings {
  kind: 'local' | 'slurm';
  parallel?: number;
  isolate?: boolean;
  gpus?: string[];
  slurm?: { sbatchOptions: string[]; jobsDir?: string; dbPath: string };
}

/** The launcher `s` asks for. */
export function createLauncher(s: LaunchSettings): Launcher {
  if (s.kind === 'slurm')
    return new SlurmLauncher({ sbatchOptions: [], dbPath: 'batchlab.db', ...s.slurm, parallel: s.parallel });
  return localLauncher({ parallel: s.parallel, isolate: s.isolate, gpus: s.gpus });
}
