/**
 * What a Slurm job runs on its node: `node job.js RUN_DIR` (slurm.ts writes the batch script). It runs
 * the run of RUN_DIR/spec.json exactly as a local sweep would (executeRun: a TF.js run in a worker
 * process of its own, or the user's command), recorded in a private SQLite file on the node's own disk
 * ($TMPDIR), never on the shared file system. As it runs it appends its plan and steps to
 * RUN_DIR/job-<id>/progress.jsonl; at its end it writes RUN_DIR/job-<id>/result.json, complete, for the
 * parent to import (job-files.ts).
 *
 * Slurm's scancel (or a time limit) sends SIGTERM: the run stops after its step, is recorded
 * 'interrupted', and that result is written too. A SIGKILL or a lost node writes nothing: the parent
 * then records the run as interrupted itself.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../store/index.js';
import { executeRun } from '../run/execute.js';
import { planOnly } from '../run/outcome.js';
import { appendProgress, jobDir, readJobSpec, writeJobResult } from './job-files.js';

/** The reason of a run that Slurm stopped: SIGTERM comes from scancel, or from the job's time limit. */
const SLURM_STOP_REASON = 'stopped by Slurm: scancel (Ctrl-C of the sweep), or the job reached its time limit';

/** Progress lines at most this often (the parent polls every POLL_MS anyway). */
const PROGRESS_EVERY_MS = 500;

async function main(dir: string): Promise<number> {
  const jobId = process.env.SLURM_JOB_ID ?? `local-${process.pid}`;
  const out = jobDir(dir, jobId);
  mkdirSync(out, { recursive: true });
  const { run, spec } = readJobSpec(dir);
  const scratch = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'batchlab-job-'));
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => {
      stoppedBy ??= sig;
      controller.abort();
    });
  try {
    const dbPath = join(scratch, 'run.db');
    const store = openStore(dbPath);
    let runId: number;
    try {
      const experiment = store.createExperiment({ kind: 'train', settings: {}, env: {} });
      runId = store.upsertRun({ ...run, experimentId: experiment.id }).id;
    } finally {
      store.close();
    }
    let lastMs = 0;
    const outcome = await executeRun(spec, {
      record: { dbPath, runId },
      hooks: {
        signal: controller.signal,
        onStart: (plan) => appendProgress(out, { type: 'start', plan: planOnly(plan) }),
        onStep: (progress) => {
          const now = performance.now();
          if (now - lastMs < PROGRESS_EVERY_MS) return;
          lastMs = now;
          appendProgress(out, { type: 'step', progress });
        },
      },
    });
    const recorded = openStore(dbPath, { readonly: true });
    try {
      writeJobResult(out, {
        jobId,
        status: outcome.status,
        code: outcome.code,
        reason: outcome.status === 'interrupted' && stoppedBy ? `${SLURM_STOP_REASON} (${stoppedBy})` : outcome.reason,
        summary: outcome.summary,
        steps: recorded.stepsOf(runId),
        evals: recorded.evalsOf(runId),
        wallMs: outcome.wallMs,
      });
    } finally {
      recorded.close();
    }
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node job.js RUN_DIR (batchlab writes the batch script that runs this; see docs/cluster.md)');
  process.exit(2);
}
main(dir).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
