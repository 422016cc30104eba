import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrialRunner } from '../../src/engine/external/runner.js';
import { announcedPids, FAKE_CMD, REPO_ROOT, survivors, waitAllGone } from './helpers.js';

const HOST = fileURLToPath(new URL('./fixtures/runner-host.ts', import.meta.url));

/** Starts the host; resolves with its pids output once it printed "ready", and its exit. */
function startHost(how: 'exit' | 'wait'): {
  ready: Promise<number[]>;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  pid: number;
  metricsDir: () => string;
  /** Lets an "exit" host exit (it waits for this, so that the test can read the trial's group first). */
  go: () => void;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', HOST, how], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let text = '';
  const ready = new Promise<number[]>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('ready\n')) resolve(announcedPids(text.split('\n')));
    });
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.once('exit', (code, sig) => r([code, sig])),
  );
  const metricsDir = (): string => dirname(/^metrics-path: (.*)$/m.exec(text)?.[1] ?? '/nonexistent');
  return { ready, exited, pid: child.pid as number, metricsDir, go: () => child.stdin.write('go\n') };
}

/** The trial's group id: the parent of the fake trainer (the shell). */
async function groupOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  return Number((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ')[2]);
}

test('when batchlab calls process.exit, its exit handler SIGKILLs the trial group: no orphan left', async () => {
  const host = startHost('exit');
  const pids = await host.ready;
  const pgid = await groupOf(pids[0] as number);
  assert.match(host.metricsDir(), /batchlab-trial-/);
  host.go();
  assert.deepEqual(await host.exited, [3, null]);
  assert.deepEqual(await waitAllGone(pgid, pids), []);
  assert.equal(existsSync(host.metricsDir()), false, "the trial's temporary folder is removed");
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`on ${sig} batchlab stops the trial group, then dies of the signal as it would without the runner`, async () => {
    const host = startHost('wait');
    const pids = await host.ready;
    const pgid = await groupOf(pids[0] as number);
    process.kill(host.pid, sig);
    assert.deepEqual(await host.exited, [null, sig]);
    assert.deepEqual(await survivors(pgid, pids), []);
    assert.deepEqual(await waitAllGone(pgid, pids), []);
    assert.equal(existsSync(host.metricsDir()), false, "the trial's temporary folder is removed");
  });
}

test('dispose kills running trials and removes the process handlers it added', async () => {
  const before = ['exit', 'SIGINT', 'SIGTERM'].map((e) => process.listenerCount(e));
  const runner = new TrialRunner({ killGraceMs: 200 });
  assert.equal(process.listenerCount('SIGINT'), (before[1] as number) + 1);
  const out: string[] = [];
  const running = runner.runTrial({
    cmd: FAKE_CMD,
    values: { batch: 1 },
    env: { FAKE_MODE: 'grandchild' },
    onOutput: (_s, l) => out.push(l),
  });
  while (announcedPids(out).length < 2) await new Promise((r) => setTimeout(r, 20));
  await runner.dispose();
  const r = await running;
  assert.equal(r.outcome, 'interrupted');
  assert.deepEqual(await survivors(r.pgid as number, announcedPids(out)), []);
  assert.deepEqual(
    ['exit', 'SIGINT', 'SIGTERM'].map((e) => process.listenerCount(e)),
    before,
  );
  await assert.rejects(runner.runTrial({ cmd: FAKE_CMD, values: { batch: 1 } }), /disposed/);
});
