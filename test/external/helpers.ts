/** Shared helpers of the external-runner tests. */
import { fileURLToPath } from 'node:url';
import { readProcTable } from '../../src/engine/external/proctree.js';

export const FAKE_TRAINER = fileURLToPath(new URL('./fixtures/fake-trainer.mjs', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Shell-quoted `node <fake-trainer>` (the tests' command template prefix). */
export const FAKE_CMD = `'${process.execPath}' '${FAKE_TRAINER}'`;

/** Live (non-zombie) processes whose pid is in `pids` or whose group is `pgid`. */
export async function survivors(pgid: number, pids: readonly number[] = []): Promise<number[]> {
  const table = await readProcTable();
  return table.filter((p) => p.state !== 'Z' && (p.pgid === pgid || pids.includes(p.pid))).map((p) => p.pid);
}

/** Pids the fake trainer announced on stdout as `fake-pid: N` / `grandchild-pid: N`. */
export function announcedPids(lines: readonly string[]): number[] {
  return lines
    .map((l) => /^(?:fake|grandchild)-pid: (\d+)$/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
}

/**
 * Waits up to `timeoutMs` for every process of group `pgid` (and of `pids`) to leave the process
 * table, zombies included; returns what is still there. Zombies re-parented to init are init's to
 * reap, which some inits (this project's VMs) do only about once a second.
 */
export async function waitAllGone(
  pgid: number,
  pids: readonly number[],
  timeoutMs = 5_000,
): Promise<{ pid: number; state: string }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = (await readProcTable()).filter((p) => p.pgid === pgid || pids.includes(p.pid));
    if (left.length === 0 || Date.now() > deadline) return left.map((p) => ({ pid: p.pid, state: p.state }));
    await new Promise((r) => setTimeout(r, 50));
  }
}
