import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseComputeApps } from '../../src/engine/external/gpu.js';
import {
  parseProcStat,
  readRssBytes,
  sampleTree,
  treePids,
  type ProcStat,
} from '../../src/engine/external/proctree.js';

test('parseProcStat splits after the last parenthesis (command names may contain ") (")', () => {
  assert.deepEqual(parseProcStat('4242 (my (weird) name) S 17 4242 4242 0 -1 4194560 0'), {
    pid: 4242,
    state: 'S',
    ppid: 17,
    pgid: 4242,
  });
  assert.equal(parseProcStat('garbage'), undefined);
});

test('treePids = descendants by parent pid + members of the group (orphans included)', () => {
  const t: ProcStat[] = [
    { pid: 1, ppid: 0, pgid: 1, state: 'S' },
    { pid: 10, ppid: 1, pgid: 10, state: 'S' }, // the trial root
    { pid: 11, ppid: 10, pgid: 10, state: 'S' },
    { pid: 12, ppid: 11, pgid: 12, state: 'S' }, // setsid() grandchild: still a descendant
    { pid: 13, ppid: 1, pgid: 10, state: 'S' }, // orphan re-parented to init: still in the group
    { pid: 20, ppid: 1, pgid: 20, state: 'S' }, // unrelated
  ];
  assert.deepEqual(
    treePids(t, 10, 10).sort((a, b) => a - b),
    [10, 11, 12, 13],
  );
});

test('readRssBytes and sampleTree read this process from /proc', async () => {
  const rss = await readRssBytes(process.pid);
  assert.ok(rss > 10 * 2 ** 20, `rss ${rss}`);
  const s = await sampleTree(process.pid, -1);
  assert.ok(s.pids.includes(process.pid));
  assert.ok(s.rssBytes >= rss * 0.5);
  assert.equal(await readRssBytes(2 ** 30), 0, 'a pid that does not exist reads as 0');
});

test('parseComputeApps reads nvidia-smi csv (MiB) to bytes per pid, summing GPUs and skipping junk', () => {
  const m = parseComputeApps('1234, 500\n1234, 100\n99, [N/A]\nNo running processes found\n 7 , 1\n');
  assert.deepEqual(
    [...m],
    [
      [1234, 600 * 2 ** 20],
      [7, 2 ** 20],
    ],
  );
});
