/**
 * The Slurm launcher (--launcher slurm): each run of a sweep is a Slurm job. The parent (batchlab on the
 * login node) plans the runs in its store as always; for each run it starts a new attempt, writes what
 * to run into the shared jobs folder, submits a batch script with the user's sbatch options, and stores
 * the job id with the run. The job runs the same batchlab code on its node (job.ts) and leaves its
 * result in the jobs folder; the parent follows the job's progress file, imports the result into the
 * store in one transaction when it appears, and records the run as interrupted when the job ended
 * without one. See job-files.ts for the files, docs/cluster.md for the set-up and the failure modes.
 *
 * - Ctrl-C or SIGTERM (the run's signal) cancels the run's job (scancel); the run ends 'interrupted'.
 * - `--resume` finds a run's job from the store: a result already there is imported, a job still
 *   queued or running is waited for; only a run whose job is gone without a result is submitted again.
 * - One squeue call per poll for all the jobs being waited for (the controller is shared by everyone).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { FileTail } from '../../engine/external/file-tail.js';
import { openStore, type Run, StaleAttemptError, type Store } from '../../store/index.js';
import type { ExecuteOptions, RunSpec } from '../run/execute.js';
import type { RunHooks, RunOutcome } from '../run/outcome.js';
import {
  importJobResult,
  type JobAttempt,
  jobDir,
  type JobResult,
  type ProgressLine,
  readJobResult,
  runDir,
  writeJobSpec,
} from './job-files.js';
import type { Launcher } from './launcher.js';
import {
  DEFAULT_SLURM_COMMANDS,
  isActiveState,
  jobEnd,
  jobStates,
  type SlurmCommands,
  sbatch,
  scancel,
} from './slurm-cli.js';

export interface SlurmLaunchOptions {
  /** Options for sbatch, as words (e.g. ["--partition=gpu", "--gres=gpu:1", "--time=01:00:00"]). */
  sbatchOptions: readonly string[];
  /** The store; the default jobs folder is beside it. */
  dbPath: string;
  /** A folder every node can read and write (default: batchlab-jobs beside the store). */
  jobsDir?: string;
  /** Jobs in the queue at once (default: every run of the sweep at once). */
  parallel?: number;
  commands?: Partial<SlurmCommands>;
  /** How often the jobs' states and files are looked at (default POLL_MS). */
  pollMs?: number;
  /** How long a job that COMPLETED may take to show its result on this machine (default RESULT_GRACE_MS). */
  resultGraceMs?: number;
}

/** squeue, the result files and the progress files are looked at this often. */
export const POLL_MS = 500;
/**
 * A job that COMPLETED wrote its result before it ended; on NFS this machine may see the file up to a
 * minute later (attribute caching, acdirmax = 60 s by default), so the parent waits that long for it.
 */
export const RESULT_GRACE_MS = 75_000;
/** A job that ended otherwise (FAILED, CANCELLED, TIMEOUT, ...) gets this long to show a result it may have written. */
const ENDED_GRACE_MS = 5_000;
/** Lines of the job's log quoted in the reason of a run whose job died. */
const LOG_TAIL_LINES = 5;

/** The states of many jobs from one squeue call per poll, shared by every run being waited for. */
class JobWatcher {
  private readonly watched = new Set<string>();
  private states = new Map<string, string>();
  private refreshed = -Infinity;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly commands: SlurmCommands,
    private readonly pollMs: number,
  ) {}

  watch(id: string): void {
    this.watched.add(id);
  }

  unwatch(id: string): void {
    this.watched.delete(id);
  }

  /** The job's state, at most one poll old; undefined when squeue no longer knows it (it is over). */
  async state(id: string): Promise<string | undefined> {
    this.watch(id);
    if (performance.now() - this.refreshed >= this.pollMs / 2) {
      this.pending ??= this.refresh().finally(() => {
        this.pending = undefined;
      });
      await this.pending;
    }
    return this.states.get(id);
  }

  private async refresh(): Promise<void> {
    this.states = await jobStates(this.commands, [...this.watched]);
    this.refreshed = performance.now();
  }
}

/** The job entry beside this file (compiled), or the TypeScript source run through tsx (tests, dev). */
function jobEntry(): string[] {
  const js = fileURLToPath(new URL('./job.js', import.meta.url));
  if (existsSync(js)) return [js];
  return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./job.ts', import.meta.url))];
}

/** A word for /bin/sh, single-quoted. */
function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The batch script of a run: Node with batchlab's job entry on the run's folder. */
export function jobScript(run: Pick<Run, 'id' | 'key' | 'experimentId'>, dir: string): string {
  const argv = [process.execPath, ...jobEntry(), resolve(dir)];
  return [
    '#!/bin/sh',
    `# batchlab: run ${run.id} ("${run.key.replace(/[^\w=,.-]/g, '?')}") of experiment ${run.experimentId}; see docs/cluster.md`,
    `exec ${argv.map(shellWord).join(' ')}`,
    '',
  ].join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SlurmLauncher implements Launcher {
  readonly kind = 'slurm' as const;
  readonly slots: number;
  readonly jobsDir: string;
  private readonly o: SlurmLaunchOptions;
  private readonly commands: SlurmCommands;
  private readonly watcher: JobWatcher;
  private readonly live = new Set<string>();

  constructor(o: SlurmLaunchOptions) {
    this.o = o;
    this.slots = o.parallel ?? Number.POSITIVE_INFINITY;
    this.jobsDir = resolve(o.jobsDir ?? join(dirname(resolve(o.dbPath)), 'batchlab-jobs'));
    this.commands = { ...DEFAULT_SLURM_COMMANDS, ...o.commands };
    this.watcher = new JobWatcher(this.commands, o.pollMs ?? POLL_MS);
  }

  /** Runs one recorded run as a Slurm job (or waits for its job from before a resume); see the module doc. */
  execute = async (spec: RunSpec, options: ExecuteOptions = {}): Promise<RunOutcome> => {
    const startMs = performance.now();
    const record = options.record;
    if (!record)
      throw new UsageError(
        '--launcher slurm runs the runs of an experiment (they are recorded); run probes in one job instead (docs/cluster.md)',
      );
    const store = openStore(record.dbPath);
    try {
      const run = store.getRun(record.runId);
      const dir = runDir(this.jobsDir, run.experimentId, run.id);
      const jobId = (await this.adoptable(run, dir)) ?? (await this.submit(store, run, spec, dir));
      // The attempt the job runs: the one its submission began (an adopted job's is still the run's).
      const attempt = store.getRun(run.id).attempt;
      this.live.add(jobId);
      try {
        const outcome = await this.wait(store, { runId: run.id, attempt }, dir, jobId, options.hooks ?? {});
        return { ...outcome, wallMs: performance.now() - startMs };
      } finally {
        this.live.delete(jobId);
        this.watcher.unwatch(jobId);
      }
    } finally {
      store.close();
    }
  };

  /** Cancels the jobs still being waited for (a sweep that ended early must not leave them running). */
  async close(): Promise<void> {
    await scancel(this.commands, [...this.live]);
  }

  /**
   * The run's job from before, when it left a result that ends the run or is still queued or running. A
   * job whose result says 'interrupted' (cancelled, out of time) is not taken: its run runs again as a new job.
   */
  private async adoptable(run: Run, dir: string): Promise<string | undefined> {
    if (run.jobId === null) return undefined;
    const result = readJobResult(jobDir(dir, run.jobId));
    if (result) return result.status === 'interrupted' ? undefined : run.jobId;
    return isActiveState(await this.watcher.state(run.jobId)) ? run.jobId : undefined;
  }

  /** A new attempt of the run, as a new job. */
  private async submit(store: Store, run: Run, spec: RunSpec, dir: string): Promise<string> {
    const { experimentId, id, key, batchSize, microBatchSize, accumSteps, seed, lr } = run;
    writeJobSpec(dir, { run: { experimentId, id, key, batchSize, microBatchSize, accumSteps, seed, lr }, spec });
    const script = join(dir, 'job.sh');
    writeFileSync(script, jobScript(run, dir), { mode: 0o755 });
    const jobId = await sbatch(this.commands, {
      script,
      name: `batchlab-e${experimentId}-r${id}`,
      output: join(dir, 'slurm-%j.out'),
      options: this.o.sbatchOptions,
    });
    // The job does not touch the store, so the attempt may begin after it was accepted: a refused
    // submission leaves the run as it was.
    store.transaction(() => {
      store.startRun(run.id);
      store.setRunJob(run.id, jobId);
    });
    return jobId;
  }

  /** Follows the job until its result is imported, or it ended without one; cancels it when the run's signal aborts. */
  private async wait(
    store: Store,
    run: JobAttempt,
    dir: string,
    jobId: string,
    hooks: RunHooks,
  ): Promise<Omit<RunOutcome, 'wallMs'>> {
    const out = jobDir(dir, jobId);
    const progress = new ProgressReader(join(out, 'progress.jsonl'), hooks);
    const onAbort = () => void scancel(this.commands, [jobId]);
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    if (hooks.signal?.aborted) onAbort();
    let endedAtMs: number | undefined;
    try {
      for (;;) {
        const result = readJobResult(out);
        if (result) {
          await progress.read();
          return importOrStale(store, run, result);
        }
        await progress.read();
        const state = await this.watcher.state(jobId);
        if (!isActiveState(state)) {
          endedAtMs ??= performance.now();
          const grace = state === 'COMPLETED' ? (this.o.resultGraceMs ?? RESULT_GRACE_MS) : ENDED_GRACE_MS;
          if (performance.now() - endedAtMs > grace) return this.recordDead(store, run, dir, jobId, state);
        }
        await sleep(this.o.pollMs ?? POLL_MS);
      }
    } finally {
      hooks.signal?.removeEventListener('abort', onAbort);
      await progress.close();
    }
  }

  /** The run of a job that ended without a result: interrupted, with how the job ended and the end of its log. */
  private async recordDead(
    store: Store,
    job: JobAttempt,
    dir: string,
    jobId: string,
    state: string | undefined,
  ): Promise<Omit<RunOutcome, 'wallMs'>> {
    const end = await jobEnd(this.commands, jobId);
    const how = end.state ?? state ?? 'and Slurm no longer knows it';
    const log = join(dir, `slurm-${jobId}.out`);
    const exit = end.exitCode ? ` (exit ${end.exitCode}${end.nodes ? ` on ${end.nodes}` : ''})` : '';
    const reason = `Slurm job ${jobId} ended ${how}${exit} without a result; a resume runs it again; its log: ${log}${logTail(log)}`;
    store.transaction(() => {
      const run = store.getRun(job.runId);
      if (run.status === 'running' && run.attempt === job.attempt)
        store.finishRun(job.runId, { status: 'interrupted', reason, attempt: job.attempt });
    });
    return { status: 'interrupted', code: 'BATCHLAB_INTERRUPTED', reason };
  }
}

/**
 * The job's result imported under its attempt; when a newer attempt took the run over (another batchlab
 * resumed the sweep), this one is interrupted and the result left to nobody: the run is that attempt's.
 */
function importOrStale(store: Store, job: JobAttempt, result: JobResult): Omit<RunOutcome, 'wallMs'> {
  try {
    return importJobResult(store, job, result);
  } catch (err) {
    if (!(err instanceof StaleAttemptError)) throw err;
    return { status: 'interrupted', code: 'BATCHLAB_INTERRUPTED', reason: err.message };
  }
}

/** The last lines of a job's log, as detail lines of a reason ('' when there is none). */
function logTail(path: string): string {
  try {
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES);
    return lines.length > 0 && lines[0] !== '' ? `\n${lines.join('\n')}` : '';
  } catch {
    return '';
  }
}

/** Follows a job's progress.jsonl (once it exists) into the run's hooks. */
class ProgressReader {
  private tail: FileTail | undefined;

  constructor(
    private readonly path: string,
    private readonly hooks: RunHooks,
  ) {}

  async read(): Promise<void> {
    if (!this.tail) {
      if (!existsSync(this.path)) return;
      this.tail = await FileTail.open(this.path);
    }
    for (const text of await this.tail.read()) {
      const line = JSON.parse(text) as ProgressLine;
      if (line.type === 'start') this.hooks.onStart?.(line.plan);
      else if (line.type === 'step') this.hooks.onStep?.(line.progress);
    }
  }

  async close(): Promise<void> {
    await this.tail?.close();
  }
}
