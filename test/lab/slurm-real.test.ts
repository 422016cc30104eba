/**
 * A sweep through a real Slurm: a single-node cluster (fixtures/slurm-cluster.ts) is brought up, a TF.js
 * sweep and a command sweep run as jobs, one job is cancelled from outside and one is killed mid-run,
 * and the store is checked after each; a resume then finishes the two. The cluster is torn down in
 * `finally`. Skips, saying why, where Slurm is not installed, the test is not root, or another cluster
 * is up on this machine (.ci/run installs Slurm; the fake-Slurm tests in slurm.test.ts run everywhere).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchlabError } from '../../src/core/errors.js';
import { trainConfig } from '../../src/engine/tfjs/trainer.js';
import { SlurmLauncher } from '../../src/lab/launch/slurm.js';
import { runSweep, type SweepSettings } from '../../src/lab/sweep/sweep.js';
import { openStore } from '../../src/store/index.js';
import { FAKE_CMD } from '../external/helpers.js';
import { clusterProblem, startCluster } from './fixtures/slurm-cluster.js';

const problem = clusterProblem();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs = 120_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Pids of processes whose environment has SLURM_JOB_ID=jobId and whose command line runs batchlab's job entry. */
function jobProcesses(jobId: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (environ.includes(`SLURM_JOB_ID=${jobId}`) && /lab\/launch\/job\.(ts|js)/.test(cmdline))
        pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function commandSweep(): SweepSettings {
  return {
    base: trainConfig({ dataset: 'external', model: { name: 'mlp' } }),
    batchSizes: [16, 32, 64],
    seeds: [1],
    lrRule: 'fixed',
    baseLr: 0.1,
    baseBatch: 16,
    budget: { kind: 'steps', value: 40 },
    trainCount: Number.MAX_SAFE_INTEGER,
    // B = 16 is quick; B = 32 and 64 are slow enough to be cancelled and killed while they run.
    command: {
      template: `FAKE_HOLD_MS=$([ {batch} -gt 16 ] && echo 500 || echo 20) FAKE_BYTES_PER_SAMPLE=1024 ${FAKE_CMD} --max-steps {max_steps}`,
    },
  };
}

function tfjsSweep(): SweepSettings {
  const base = trainConfig({
    dataset: 'spiral',
    datasetOptions: { trainCount: 512 },
    model: { name: 'mlp', hidden: [8] },
  });
  return {
    base: { ...base, evalTrainLimit: 512, sharpness: { batchSamples: 128, iterations: 10 } },
    batchSizes: [32, 128],
    seeds: [1],
    lrRule: 'sqrt',
    baseLr: 0.1,
    baseBatch: 32,
    budget: { kind: 'samples', value: 2048 },
    trainCount: 512,
  };
}

test('a sweep through a real single-node Slurm: jobs, a cancelled one, a killed one, a resume', {
  skip: problem,
}, async (t) => {
  const startMs = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-slurm-real-'));
  const cluster = await startCluster(join(dir, 'cluster'));
  const savedConf = process.env.SLURM_CONF;
  Object.assign(process.env, cluster.env);
  try {
    const dbPath = join(dir, 'lab.db');
    const launcher = () =>
      new SlurmLauncher({ sbatchOptions: ['--partition=debug', '--time=00:10:00'], dbPath, pollMs: 200 });

    // 1. A TF.js sweep: every run a job, every result imported whole.
    const l1 = launcher();
    const tfjs = await runSweep({ dbPath, settings: tfjsSweep(), launcher: l1 });
    await l1.close();
    assert.equal(tfjs.status, 'done', JSON.stringify(tfjs.runs.map((r) => [r.status, r.reason])));
    const store = openStore(dbPath, { readonly: true });
    try {
      for (const run of tfjs.runs) {
        assert.equal(run.status, 'done');
        assert.match(run.jobId ?? '', /^\d+$/);
        assert.equal(store.stepsOf(run.id).length, run.summary!.steps);
        assert.ok(Number.isFinite(run.summary!.sharpness?.topEigenvalue));
      }
    } finally {
      store.close();
    }

    // 2. A command sweep: B = 32's job is cancelled from outside, B = 64's job process is killed with -9.
    const l2 = launcher();
    // Runs interrupted from outside stop the sweep with how to resume it (BATCHLAB_INTERRUPTED).
    const sweep = runSweep({ dbPath, settings: commandSweep(), launcher: l2 }, {}).then(
      () => undefined,
      (err: unknown) => err,
    );
    const jobOf = (batch: number) => readRuns(dbPath, 2).find((r) => r.batchSize === batch)?.jobId ?? undefined;
    await until('the slow jobs to run', () => {
      const [a, b] = [jobOf(32), jobOf(64)];
      return a !== undefined && b !== undefined && jobProcesses(a).length > 0 && jobProcesses(b).length > 0;
    });
    await sleep(1000);
    const scancel = (await import('node:child_process')).spawnSync('scancel', [jobOf(32)!], { env: process.env });
    assert.equal(scancel.status, 0);
    for (const pid of jobProcesses(jobOf(64)!)) process.kill(pid, 'SIGKILL');
    const stopped = await sweep;
    await l2.close();
    assert.ok(stopped instanceof BatchlabError, 'the interrupted runs stop the sweep');
    assert.equal(stopped.code, 'BATCHLAB_INTERRUPTED');
    const byBatch = new Map(readRuns(dbPath, 2).map((r) => [r.batchSize, r]));
    assert.equal(byBatch.get(16)!.status, 'done');
    assert.equal(byBatch.get(32)!.status, 'interrupted');
    assert.match(byBatch.get(32)!.reason ?? '', /stopped by Slurm|ended CANCELLED/);
    assert.equal(byBatch.get(64)!.status, 'interrupted');
    assert.match(byBatch.get(64)!.reason ?? '', /^Slurm job \d+ ended (FAILED|CANCELLED).* without a result/);
    const after = openStore(dbPath, { readonly: true });
    try {
      assert.equal(after.stepsOf(byBatch.get(16)!.id).length, 40);
      assert.equal(after.stepsOf(byBatch.get(64)!.id).length, 0, 'nothing of the killed job was imported');
    } finally {
      after.close();
    }

    // 3. The resume submits the two again and finishes the sweep.
    const l3 = launcher();
    const resumed = await runSweep({ dbPath, resumeId: 2, launcher: l3 });
    await l3.close();
    assert.equal(resumed.status, 'done');
    assert.deepEqual(
      resumed.runs.map((r) => r.status),
      ['done', 'done', 'done'],
    );
    assert.notEqual(resumed.runs[1]!.jobId, byBatch.get(32)!.jobId, 'a new job for the cancelled run');
    t.diagnostic(`wall time with the cluster up: ${((performance.now() - startMs) / 1000).toFixed(1)} s`);
  } finally {
    if (savedConf === undefined) delete process.env.SLURM_CONF;
    else process.env.SLURM_CONF = savedConf;
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
    t.diagnostic(`wall time including teardown: ${((performance.now() - startMs) / 1000).toFixed(1)} s`);
  }
});

/** The runs of experiment `id` as stored. */
function readRuns(dbPath: string, id: number) {
  const store = openStore(dbPath, { readonly: true });
  try {
    return store.runsOf(id);
  } finally {
    store.close();
  }
}
