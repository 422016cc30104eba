/**
 * The Slurm launcher against a faithful fake of sbatch/squeue/scontrol/scancel (fixtures/fake-slurm):
 * a sweep runs as jobs and comes back through the jobs folder into the store; a refused submission, a
 * cancelled sweep, a killed job and a resume after the parent died each leave the store as documented
 * (docs/cluster.md). The same launcher runs against a real Slurm in slurm-real.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchlabError } from '../../src/core/errors.js';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import { importJobResult, JOB_FILES_VERSION, type JobResult } from '../../src/lab/launch/job-files.js';
import { SlurmLauncher } from '../../src/lab/launch/slurm.js';
import { runSweep, type SweepSettings } from '../../src/lab/sweep/sweep.js';
import { openStore, StaleAttemptError } from '../../src/store/index.js';
import { makeSteps } from '../store/helpers.js';
import { FAKE_CMD } from '../external/helpers.js';

const FAKE = fileURLToPath(new URL('./fixtures/fake-slurm/', import.meta.url));
const COMMANDS = {
  sbatch: join(FAKE, 'sbatch'),
  squeue: join(FAKE, 'squeue'),
  scancel: join(FAKE, 'scancel'),
  scontrol: join(FAKE, 'scontrol'),
};
const root = mkdtempSync(join(tmpdir(), 'batchlab-slurm-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh folder with a store and the fake's state; the fake reads FAKE_SLURM_* from this process's env. */
function setup(name: string, env: Record<string, string> = {}): { dbPath: string; jobs: () => string[] } {
  const dir = join(root, name);
  const state = join(dir, 'slurm');
  mkdirSync(dir, { recursive: true });
  Object.assign(process.env, {
    FAKE_SLURM_STATE: state,
    FAKE_SLURM_PENDING_MS: '100',
    FAKE_SLURM_REJECT: '',
    FAKE_SLURM_KILL_WAIT_MS: '3000',
    ...env,
  });
  if (!env.FAKE_SLURM_REJECT) delete process.env.FAKE_SLURM_REJECT;
  return {
    dbPath: join(dir, 'lab.db'),
    jobs: () => (existsSync(join(state, 'jobs')) ? readdirSync(join(state, 'jobs')) : []),
  };
}

const launcher = (dbPath: string) =>
  new SlurmLauncher({ sbatchOptions: ['--partition=debug'], dbPath, commands: COMMANDS, pollMs: 100 });

/** A tiny TF.js sweep: a spiral MLP at two batch sizes. */
function tfjsSettings(): SweepSettings {
  const base = trainConfig({
    dataset: 'spiral',
    datasetOptions: { trainCount: 256 },
    model: { name: 'mlp', hidden: [8] },
  });
  return {
    base: { ...base, evalTrainLimit: 256 },
    batchSizes: [16, 64],
    seeds: [1],
    lrRule: 'fixed',
    baseLr: 0.1,
    baseBatch: 16,
    budget: { kind: 'steps', value: 12 },
    trainCount: 256,
  };
}

/** A command sweep whose runs take `holdMs` per step (the fake trainer of the protocol tests). */
function commandSettings(o: { holdMs: number; steps: number; batchSizes?: number[] }): SweepSettings {
  return {
    base: trainConfig({ dataset: 'external', model: { name: 'mlp' } }),
    batchSizes: o.batchSizes ?? [16],
    seeds: [1],
    lrRule: 'fixed',
    baseLr: 0.1,
    baseBatch: 16,
    budget: { kind: 'steps', value: o.steps },
    trainCount: Number.MAX_SAFE_INTEGER,
    command: { template: `FAKE_HOLD_MS=${o.holdMs} FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD} --max-steps {max_steps}` },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('the Slurm launcher (fake Slurm)', () => {
  it('runs each run of a TF.js sweep as a job and imports each result whole into the store', async () => {
    const { dbPath, jobs } = setup('sweep');
    const l = launcher(dbPath);
    const starts: string[] = [];
    const result = await runSweep(
      { dbPath, settings: tfjsSettings(), launcher: l },
      { onRunStart: ({ plan }) => starts.push(plan ?? '') },
    );
    await l.close();
    assert.equal(result.status, 'done');
    assert.deepEqual(
      result.runs.map((r) => [r.batchSize, r.status]),
      [
        [16, 'done'],
        [64, 'done'],
      ],
    );
    assert.deepEqual(jobs().sort(), ['1', '2'], 'one job per run');
    assert.deepEqual(result.runs.map((r) => r.jobId).sort(), ['1', '2'], 'job ids stored with the runs');
    assert.deepEqual(starts.sort(), ['16 = 16 x 1', '64 = 64 x 1'], 'progress came from the jobs');
    const store = openStore(dbPath, { readonly: true });
    try {
      for (const run of result.runs) {
        assert.equal(store.stepsOf(run.id).length, 12, 'every step imported');
        assert.ok(store.evalsOf(run.id).length > 0, 'evaluations imported');
        assert.equal(run.summary?.steps, 12);
      }
    } finally {
      store.close();
    }
  });

  it('a refused submission is one error naming sbatch, and leaves the run pending', async () => {
    const { dbPath, jobs } = setup('refused', { FAKE_SLURM_REJECT: '^--partition=' });
    const l = launcher(dbPath);
    await assert.rejects(
      runSweep({ dbPath, settings: commandSettings({ holdMs: 0, steps: 2 }), launcher: l }),
      (err: unknown) =>
        err instanceof BatchlabError && /sbatch refused the job .*Invalid partition name specified/.test(err.message),
    );
    await l.close();
    assert.deepEqual(jobs(), []);
    const store = openStore(dbPath, { readonly: true });
    try {
      assert.deepEqual(
        store.runsOf(1).map((r) => [r.status, r.jobId]),
        [['pending', null]],
      );
    } finally {
      store.close();
    }
  });

  it('stopping the sweep cancels its jobs: the runs are interrupted, nothing half-imported', async () => {
    const { dbPath } = setup('cancel');
    const l = launcher(dbPath);
    const controller = new AbortController();
    let stepsSeen = 0;
    const result = await runSweep(
      { dbPath, settings: commandSettings({ holdMs: 200, steps: 200, batchSizes: [16, 32] }), launcher: l },
      {
        signal: controller.signal,
        onStep: () => {
          if (++stepsSeen === 3) controller.abort();
        },
      },
    );
    await l.close();
    assert.equal(result.status, 'interrupted');
    const store = openStore(dbPath, { readonly: true });
    try {
      for (const run of store.runsOf(1)) {
        assert.equal(run.status, 'interrupted', `run ${run.key}: ${run.reason}`);
        assert.match(run.reason ?? '', /stopped by Slurm|ended CANCELLED/);
        // The job writes its interrupted result on SIGTERM, before Slurm (the fake) records it CANCELLED.
        const state = () => readJobState(run.jobId!).state;
        await until(`job ${run.jobId} to end`, () => !['PENDING', 'RUNNING'].includes(state()), 10_000);
        assert.equal(state(), 'CANCELLED', 'scancel reached the job');
      }
    } finally {
      store.close();
    }
  });

  it('a job killed mid-run leaves its run interrupted, with the job and its log named; a resume runs it again', async () => {
    const { dbPath, jobs } = setup('killed');
    const l = launcher(dbPath);
    const sweep = runSweep({ dbPath, settings: commandSettings({ holdMs: 100, steps: 80 }), launcher: l }, {});
    await until('the job to run', () => jobs().length === 1 && readJobState('1').state === 'RUNNING');
    await sleep(500);
    // The job's own process (the batch script exec'd into batchlab's job entry): SIGKILL, no result written.
    const child = spawnSync('ps', ['-o', 'pid=', '--ppid', String(readJobState('1').runnerPid)], { encoding: 'utf8' });
    process.kill(Number(child.stdout.trim().split('\n')[0]), 'SIGKILL');
    // A run interrupted by something other than the sweep's own signal stops the sweep with how to resume it.
    const stopped = await sweep.then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(stopped instanceof BatchlabError, 'a run that ended interrupted stops the sweep');
    assert.equal(stopped.code, 'BATCHLAB_INTERRUPTED');
    assert.match(stopped.message, /batchlab sweep --resume 1/);
    const store = openStore(dbPath, { readonly: true });
    try {
      assert.equal(store.getExperiment(1).status, 'interrupted');
      const run = store.runsOf(1)[0]!;
      assert.equal(run.status, 'interrupted');
      assert.match(
        run.reason ?? '',
        /^Slurm job 1 ended FAILED \(exit .*\) without a result; a resume runs it again; its log: .*slurm-1\.out/,
      );
      assert.equal(store.stepsOf(run.id).length, 0, 'nothing of the dead job was imported');
    } finally {
      store.close();
    }
    // The resume submits it again, as a new job.
    const resumed = await runSweep(
      { dbPath, resumeId: 1, launcher: l, settings: commandSettings({ holdMs: 0, steps: 80 }) },
      {},
    ).catch((err) => err);
    assert.ok(resumed instanceof Error, 'other settings on resume are refused');
    const again = await runSweep({ dbPath, resumeId: 1, launcher: l }, {});
    await l.close();
    assert.equal(again.runs[0]!.status, 'done');
    assert.equal(again.runs[0]!.jobId, '2');
  });

  it('a resume after the parent died waits for the job still running instead of submitting it twice', async () => {
    const { dbPath, jobs } = setup('resume');
    const settings = commandSettings({ holdMs: 50, steps: 60 });
    // The parent: a sweep in a process of its own, killed with -9 once its job runs.
    const script = `
      import { SlurmLauncher } from ${JSON.stringify(new URL('../../src/lab/launch/slurm.ts', import.meta.url).href)};
      import { runSweep } from ${JSON.stringify(new URL('../../src/lab/sweep/sweep.ts', import.meta.url).href)};
      const l = new SlurmLauncher({ sbatchOptions: [], dbPath: ${JSON.stringify(dbPath)}, commands: ${JSON.stringify(COMMANDS)}, pollMs: 100 });
      await runSweep({ dbPath: ${JSON.stringify(dbPath)}, settings: ${JSON.stringify(settings)}, launcher: l });`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: 'ignore',
      env: process.env,
    });
    await until('the job to run', () => jobs().length === 1 && readJobState('1').state === 'RUNNING');
    parent.kill('SIGKILL');
    await new Promise((r) => parent.once('exit', r));
    assert.equal(readJobState('1').state, 'RUNNING', 'the job outlives its parent');
    const l = launcher(dbPath);
    const resumed = await runSweep({ dbPath, resumeId: 1, launcher: l }, {});
    await l.close();
    assert.equal(resumed.status, 'done');
    assert.deepEqual(jobs(), ['1'], 'not submitted twice');
    assert.deepEqual(
      resumed.runs.map((r) => [r.status, r.jobId, r.summary?.steps]),
      [['done', '1', 60]],
    );
  });

  it("a job's result is imported only under the attempt it was submitted for", () => {
    const { dbPath } = setup('stale');
    const store = openStore(dbPath);
    try {
      const experimentId = store.createExperiment({ kind: 'sweep', settings: {}, env: {} }).id;
      const run = store.upsertRun({ experimentId, key: 'b=16', batchSize: 16, seed: 1, lr: 0.1 });
      const old = store.startRun(run.id).attempt;
      store.markRunningAsInterrupted(experimentId);
      const current = store.startRun(run.id).attempt;
      const result: JobResult = {
        version: JOB_FILES_VERSION,
        jobId: '7',
        host: 'node',
        status: 'done',
        reason: '',
        steps: makeSteps(1, 3),
        evals: [],
        wallMs: 1,
      };
      assert.throws(() => importJobResult(store, { runId: run.id, attempt: old }, result), StaleAttemptError);
      assert.equal(store.getRun(run.id).status, 'running', 'the newer attempt keeps the run');
      assert.equal(store.stepsOf(run.id).length, 0, 'nothing of the old job was imported');
      assert.equal(importJobResult(store, { runId: run.id, attempt: current }, result).status, 'done');
      assert.equal(store.stepsOf(run.id).length, 3);
    } finally {
      store.close();
    }
  });
});

function readJobState(id: string): { state: string; runnerPid: number } {
  try {
    return JSON.parse(readFileSync(join(process.env.FAKE_SLURM_STATE!, 'jobs', id, 'state.json'), 'utf8'));
  } catch {
    return { state: 'UNKNOWN', runnerPid: 0 };
  }
}
