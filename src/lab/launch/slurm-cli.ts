/**
 * The four Slurm commands batchlab uses, called with argument lists (never through a shell): `sbatch`
 * submits, `squeue` says what every job of the sweep is doing in one call, `scontrol show job` tells
 * how one ended (its exit code and node), `scancel` cancels. Their paths can be given (tests pass a fake
 * of them); by default they are found on PATH.
 *
 * Job states (squeue %T, Slurm 22.05): PENDING, CONFIGURING, RUNNING, COMPLETING, SUSPENDED,
 * REQUEUED, RESIZING, SIGNALING, STAGE_OUT are not over; COMPLETED, FAILED, CANCELLED, TIMEOUT,
 * NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, SPECIAL_EXIT, REVOKED are. squeue shows an
 * ended job for MinJobAge seconds (300 by default), then forgets it: a job squeue does not know is over.
 */
import { execFile } from 'node:child_process';
import { BatchlabError } from '../../core/errors.js';

/** Paths (or names on PATH) of the Slurm commands. */
export interface SlurmCommands {
  sbatch: string;
  squeue: string;
  scancel: string;
  scontrol: string;
}

export const DEFAULT_SLURM_COMMANDS: SlurmCommands = {
  sbatch: 'sbatch',
  squeue: 'squeue',
  scancel: 'scancel',
  scontrol: 'scontrol',
};

/** A Slurm command slower than this is abandoned (a controller that does not answer must not hang the sweep). */
const COMMAND_TIMEOUT_MS = 60_000;

/** States of a job that is not over (it may still write its result). */
const ACTIVE_STATES = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESIZING',
  'SIGNALING',
  'STAGE_OUT',
]);

/** Whether a job in `state` may still run (false for an ended job, or one Slurm no longer knows). */
export function isActiveState(state: string | undefined): boolean {
  return state !== undefined && ACTIVE_STATES.has(state);
}

/** What running a command gave. */
interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        const missing = err.code === 'ENOENT';
        const how = missing ? 'is not installed here (not on PATH)' : `failed (${err.message})`;
        reject(
          new BatchlabError(
            // Asking for Slurm where there is none is bad input (exit 2); a command that breaks is a failure (1).
            missing ? 'BATCHLAB_BAD_ARGUMENT' : 'BATCHLAB_CHILD_FAILED',
            `${file} ${how}; --launcher slurm needs Slurm's commands on the machine that runs batchlab (docs/cluster.md)`,
          ),
        );
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** Submits `script`; returns the job id. sbatch's own error (a bad partition, a refused limit) is the message. */
export async function sbatch(
  commands: SlurmCommands,
  o: { script: string; name: string; output: string; options: readonly string[] },
): Promise<string> {
  const args = ['--parsable', `--job-name=${o.name}`, `--output=${o.output}`, ...o.options, o.script];
  const r = await run(commands.sbatch, args);
  const id = r.stdout.trim().split(';')[0] ?? '';
  if (r.code !== 0 || !/^\d+(_\d+)?$/.test(id))
    throw new BatchlabError(
      'BATCHLAB_BAD_ARGUMENT',
      `sbatch refused the job (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}; check --slurm "${o.options.join(' ')}"`,
    );
  return id;
}

/**
 * The state of each job squeue still knows, in one call (`squeue --states=all --jobs=...`). A job it
 * does not list is over and forgotten. Throws when squeue itself fails (the controller is down).
 */
export async function jobStates(commands: SlurmCommands, ids: readonly string[]): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  if (ids.length === 0) return states;
  const r = await run(commands.squeue, ['--noheader', '--states=all', `--jobs=${ids.join(',')}`, '--format=%i|%T']);
  // "Invalid job id specified": none of the jobs is known any more.
  if (r.code !== 0 && /invalid job id/i.test(r.stderr)) return states;
  if (r.code !== 0)
    throw new BatchlabError('BATCHLAB_CHILD_FAILED', `squeue failed (exit ${r.code}): ${r.stderr.trim()}`);
  for (const line of r.stdout.split('\n')) {
    const [id, state] = line.trim().split('|');
    if (id && state) states.set(id, state.split(/[\s+]/)[0]!);
  }
  return states;
}

/** How a job ended, from `scontrol -o show job` (undefined fields when Slurm forgot the job). */
export interface JobEnd {
  state?: string;
  exitCode?: string;
  nodes?: string;
  reason?: string;
}

export async function jobEnd(commands: SlurmCommands, id: string): Promise<JobEnd> {
  const r = await run(commands.scontrol, ['-o', 'show', 'job', id]);
  if (r.code !== 0) return {};
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(r.stdout)?.[1];
  return { state: field('JobState'), exitCode: field('ExitCode'), nodes: field('NodeList'), reason: field('Reason') };
}

/** Cancels jobs (Slurm sends SIGTERM to their processes, then SIGKILL after KillWait). Errors are ignored: a job may be over. */
export async function scancel(commands: SlurmCommands, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await run(commands.scancel, [...ids]).catch(() => undefined);
}
