/**
 * Child-process entry for TF.js runs. The parent (child.ts, pool.ts) forks this file and sends jobs over
 * IPC, one at a time.
 *
 * Isolation is the point: an out-of-memory, a NaN or a crash ends this process, not the sweep or search
 * that started it. The worker records its steps and its result itself (record.ts), so a finished run is
 * on disk even if the parent is killed with -9; if the parent goes away mid-run, the worker stops and
 * marks the run interrupted, so a resume runs it again.
 *
 * Warm reuse (pool.ts): after a run the process may take the next one. It keeps the dataset and its
 * tensors (DatasetCache) and TF.js with its backend, so the next run pays none of that; between runs
 * it frees the backend's pools and resets VmHWM, so each run's resident high-water mark is its own
 * (engine/tfjs/warm.ts). A run that leaves tensors behind retires the process.
 */
import { TfjsTrainer } from '../../engine/tfjs/trainer.js';
import { DatasetCache, leakedTensors, resetForRun } from '../../engine/tfjs/warm.js';
import { planOnly } from './outcome.js';
import type { ParentMessage, WarmHint, WorkerJob, WorkerMessage } from './protocol.js';
import { checkpointWriter, runAndRecord } from './record.js';

/**
 * Milliseconds from this process's start to here, its static imports done: Node, TF.js and the
 * backends' modules. The first run of the process carries it as its `processStart` phase.
 */
const BOOT_MS = performance.now();

/** Progress messages to the parent at most this often. */
const PROGRESS_EVERY_MS = 200;

function send(msg: WorkerMessage): void {
  if (process.connected) process.send!(msg);
}

/** The runs of one worker process, one at a time, with what they share. */
class Worker {
  private readonly cache = new DatasetCache();
  private runs = 0;
  /** Whether the process loaded a run's data before it was asked to (then no run waited for its start). */
  private warmed = false;
  private controller: AbortController | undefined;

  /** Stops the current run after its step (it ends 'interrupted'); no-op between runs. */
  stop(): void {
    this.controller?.abort();
  }

  /** Loads what the first run will need while nothing runs; a failure is left to that run to report. */
  async warm(hint: WarmHint): Promise<void> {
    await this.cache.preload(hint).catch(() => undefined);
    this.warmed = true;
  }

  async run(job: WorkerJob): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    // The parent may have died before this run began (a kill -9 right after it sent the job, or between runs).
    if (!process.connected) controller.abort();
    const startMs = performance.now();
    if (job.resetHighWaterMark) {
      await this.cache.preload(job.config).catch(() => undefined);
      await resetForRun();
    }
    // Phases this run waited for outside its trainer: the process's start (when nothing warmed it), loading its data.
    const phasesMs = {
      ...(this.runs === 0 && !this.warmed ? { processStart: BOOT_MS } : {}),
      data: performance.now() - startMs,
    };
    let lastSentMs = 0;
    const outcome = await runAndRecord(
      new TfjsTrainer(job.config, undefined, {
        source: this.cache,
        writeCheckpoint: checkpointWriter(job.record?.dbPath),
      }),
      {
        identity: { seed: job.config.seed, lr: job.config.lr, target: job.config.target, timing: job.timing },
        record: job.record,
        phasesMs,
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
      },
    );
    this.controller = undefined;
    this.runs++;
    const leaked = leakedTensors(this.cache);
    const retire = leaked > 0 ? `the run left ${leaked} tensors behind; a fresh process takes the next` : undefined;
    send({ type: 'end', outcome, retire });
  }
}

/** A run that threw past runAndRecord (a bug): the parent sees the process end and records the run as failed. */
function crash(err: unknown): never {
  console.error(err);
  process.exit(1);
}

function main(): void {
  const worker = new Worker();
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (msg: ParentMessage) => {
    if (msg.type === 'stop') worker.stop();
    else if (msg.type === 'warm') queue = queue.then(() => worker.warm(msg.hint)).catch(crash);
    else if (msg.type === 'job') queue = queue.then(() => worker.run(msg.job)).catch(crash);
  });
  // Ctrl-C reaches the whole process group; a lost parent closes the channel: either way, stop the run
  // cleanly (it is recorded 'interrupted'); with the channel closed, the process then exits on its own.
  process.on('SIGINT', () => worker.stop());
  process.on('SIGTERM', () => worker.stop());
  process.on('disconnect', () => worker.stop());
}

main();
