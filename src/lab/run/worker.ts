/**
 * Child-process entry for one TF.js run. The parent (child.ts) forks this file and sends one job over IPC.
 *
 * Isolation is the point: an out-of-memory, a NaN or a crash ends this process, not the sweep or search
 * that started it. The worker records its steps and its result itself (record.ts), so a finished run is
 * on disk even if the parent is killed with -9; if the parent goes away mid-run, the worker stops and
 * marks the run interrupted, so a resume runs it again.
 */
import { TfjsTrainer } from '../../engine/tfjs/trainer.js';
import { planOnly } from './outcome.js';
import type { ParentMessage, WorkerJob, WorkerMessage } from './protocol.js';
import { checkpointWriter, runAndRecord } from './record.js';

/** Progress messages to the parent at most this often. */
const PROGRESS_EVERY_MS = 200;

function send(msg: WorkerMessage): void {
  if (process.connected) process.send!(msg);
}

/** Exit status of the worker for each end (the parent reads the reported outcome, not this). */
const EXIT_CODE = { done: 0, interrupted: 130, failed: 1 } as const;

async function runJob(job: WorkerJob): Promise<number> {
  const controller = new AbortController();
  process.on('SIGINT', () => controller.abort());
  process.on('SIGTERM', () => controller.abort());
  process.on('disconnect', () => controller.abort());
  // The parent may have died before this listener existed (a kill -9 right after it sent the job).
  if (!process.connected) controller.abort();
  let lastSentMs = 0;
  const outcome = await runAndRecord(new TfjsTrainer(job.config, undefined, checkpointWriter(job.record?.dbPath)), {
    identity: { seed: job.config.seed, lr: job.config.lr, target: job.config.target },
    record: job.record,
    hooks: {
      signal: controller.signal,
      onStart: (plan) => send({ type: 'start', plan: planOnly(plan) }),
      onStep: (progress) => {
        const now = performance.now();
        if (now - lastSentMs < PROGRESS_EVERY_MS) return;
        lastSentMs = now;
        send({ type: 'step', progress });
      },
    },
  });
  send({ type: 'end', outcome });
  return outcome.status === 'done' || outcome.status === 'interrupted' ? EXIT_CODE[outcome.status] : EXIT_CODE.failed;
}

process.once('message', (msg: ParentMessage) => {
  if (msg.type !== 'job') return;
  runJob(msg.job).then(
    (code) => {
      process.exitCode = code;
      process.disconnect?.();
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});
