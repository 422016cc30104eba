/**
 * The files a Slurm run leaves in the shared jobs folder: how the parent (on the login node) and the job
 * (on a compute node) talk without SQLite over a network file system, which is unsafe with writers on
 * several machines (SQLite's locks do not hold over NFS).
 *
 *   <jobs dir>/experiment-<E>/run-<R>/
 *     spec.json               what to run (written by the parent before it submits)
 *     job.sh                  the batch script sbatch runs
 *     slurm-<J>.out           the job's stdout and stderr (sbatch --output)
 *     job-<J>/progress.jsonl  appended by job J as it runs: its plan, then its steps (for the progress bar)
 *     job-<J>/result.json     written by job J at its end, complete: status, reason, summary, every step and
 *                             evaluation. Written as a temporary file and renamed into place, so it exists
 *                             complete or not at all (rename is atomic on a POSIX file system, NFS included).
 *
 * Only the parent writes the store: it imports a result in one transaction (steps, evaluations, the
 * end), so a run is either imported whole or not at all. A job that died without a result leaves
 * nothing to import, and the run is recorded as interrupted (a resume runs it again).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { STEP_FIELDS } from '../../core/step-fields.js';
import type { RunSummary } from '../../core/summary.js';
import type { EvalRecord, StepRecord } from '../../core/types.js';
import type { RunPlan, StepProgress } from '../../engine/trainer.js';
import type { Run, Store } from '../../store/index.js';
import type { RunSpec } from '../run/execute.js';
import type { RunEndStatus, RunOutcome } from '../run/outcome.js';

/** Version of spec.json and result.json; a job or parent of another version refuses the file. */
export const JOB_FILES_VERSION = 1;

/** The folder of run `runId` of experiment `experimentId`. */
export function runDir(jobsDir: string, experimentId: number, runId: number): string {
  return join(jobsDir, `experiment-${experimentId}`, `run-${runId}`);
}

/** The folder job `jobId` writes its progress and result to. */
export function jobDir(dir: string, jobId: string): string {
  return join(dir, `job-${jobId}`);
}

/** What a job runs: the run as planned in the store, and its spec. */
export interface JobSpec {
  version: number;
  run: Pick<Run, 'experimentId' | 'id' | 'key' | 'batchSize' | 'microBatchSize' | 'accumSteps' | 'seed' | 'lr'>;
  spec: RunSpec;
}

export function writeJobSpec(dir: string, spec: Omit<JobSpec, 'version'>): void {
  mkdirSync(dir, { recursive: true });
  writeAtomically(join(dir, 'spec.json'), JSON.stringify({ version: JOB_FILES_VERSION, ...spec }, null, 2));
}

export function readJobSpec(dir: string): JobSpec {
  const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) as JobSpec;
  if (spec.version !== JOB_FILES_VERSION)
    throw new Error(`${dir}/spec.json has version ${spec.version}; this batchlab reads ${JOB_FILES_VERSION}`);
  return spec;
}

/** Writes `text` to a temporary file beside `path` and renames it into place. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${hostname()}.${process.pid}.partial`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** A line of progress.jsonl. */
export type ProgressLine = { type: 'start'; plan: RunPlan } | { type: 'step'; progress: StepProgress };

/** Appends one progress line (a job's, as it runs). */
export function appendProgress(dir: string, line: ProgressLine): void {
  appendFileSync(join(dir, 'progress.jsonl'), `${JSON.stringify(line)}\n`);
}

/** How a job's run ended, with everything it recorded. */
export interface JobResult {
  version: number;
  jobId: string;
  host: string;
  status: RunEndStatus;
  code?: string;
  reason: string;
  summary?: RunSummary;
  steps: StepRecord[];
  evals: EvalRecord[];
  wallMs: number;
}

/** result.json as read: numbers JSON could not hold (NaN) come back as null and are turned back here. */
const jobResultSchema = z.looseObject({
  version: z.literal(JOB_FILES_VERSION),
  jobId: z.string(),
  host: z.string(),
  status: z.enum(['done', 'interrupted', 'oom', 'over-budget', 'timeout', 'diverged', 'failed']),
  code: z.string().optional(),
  reason: z.string(),
  summary: z.looseObject({}).optional(),
  steps: z.array(z.looseObject({})),
  evals: z.array(
    z.looseObject({
      step: z.number(),
      samples: z.number(),
      split: z.enum(['train', 'test']),
      loss: z.number().nullable(),
      accuracy: z.number().nullable().optional(),
    }),
  ),
  wallMs: z.number(),
});

export function writeJobResult(dir: string, result: Omit<JobResult, 'version' | 'host'>): void {
  writeAtomically(
    join(dir, 'result.json'),
    JSON.stringify({ version: JOB_FILES_VERSION, host: hostname(), ...result }),
  );
}

/**
 * The result of job `jobId` when it is there, complete (undefined when not yet). A file that is there
 * but does not parse as a result throws: it is not one batchlab wrote.
 */
export function readJobResult(dir: string): JobResult | undefined {
  const path = join(dir, 'result.json');
  if (!existsSync(path)) return undefined;
  const parsed = jobResultSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not a batchlab job result: ${parsed.error.issues[0]?.message}`);
  const r = parsed.data;
  const steps = r.steps.map((s) => {
    const out: Record<string, number> = {};
    for (const f of STEP_FIELDS) out[f.key] = (s[f.key] as number | null | undefined) ?? NaN;
    return out as unknown as StepRecord;
  });
  const evals = r.evals.map((e) => ({
    step: e.step,
    samples: e.samples,
    split: e.split,
    loss: e.loss ?? NaN,
    ...(e.accuracy === undefined || e.accuracy === null ? {} : { accuracy: e.accuracy }),
  }));
  return { ...(r as unknown as JobResult), steps, evals };
}

/** A run and the attempt its job runs (the one Store.startRun began when the job was submitted). */
export interface JobAttempt {
  runId: number;
  attempt: number;
}

/**
 * Imports a job's result into the store in ONE transaction: its steps, its evaluations and its end, all
 * under the job's attempt (a result of an attempt that a newer one replaced is refused: StaleAttemptError).
 * Any failure rolls all of it back (the run is never half-imported). A run already finished (imported
 * before) is left as it is. Returns the run's outcome.
 */
export function importJobResult(store: Store, job: JobAttempt, r: JobResult): Omit<RunOutcome, 'wallMs'> {
  const { runId, attempt } = job;
  store.transaction(() => {
    const run = store.getRun(runId);
    if (run.status !== 'running' && run.status !== 'interrupted' && run.status !== 'pending') return;
    store.appendSteps(runId, r.steps, { attempt });
    store.appendEvals(runId, r.evals, { attempt });
    store.finishRun(runId, {
      status: r.status,
      reason: r.status === 'done' ? undefined : r.reason,
      summary: r.summary,
      attempt,
    });
  });
  return {
    status: r.status,
    summary: r.summary,
    code: r.code as RunOutcome['code'],
    reason: r.reason,
  };
}
