/**
 * Killing a trial's process group and waiting until it is really gone. A trial runs in its own group
 * (spawned detached: the child calls setsid, so pgid = its pid), and every kill targets the whole
 * group: `sh -c` plus the trainer plus its data-loader workers and compilers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { groupMembers } from './proctree.js';

/** How often to look at the process table while waiting for a group to disappear. */
const GROUP_POLL_MS = 20;

/** Sends `signal` to every process of group `pgid`; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  // kill(-0) and kill(-1) would signal our own group or every process we may signal: never.
  if (!(Number.isInteger(pgid) && pgid > 1)) throw new Error(`refusing to signal process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * Waits until group `pgid` has no live member (zombies count as gone: they hold no memory and init
 * reaps them). True when that happened within `timeoutMs`.
 */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await groupMembers(pgid)).every((p) => p.state === 'Z')) return true;
    if (Date.now() >= deadline) return false;
    await sleep(GROUP_POLL_MS);
  }
}

/**
 * Ends group `pgid`: SIGTERM (so a trainer can flush its logs and free the GPU cleanly), then SIGKILL
 * for whatever is still alive after `graceMs`. Resolves once no live member remains, or after a
 * further second if even SIGKILL did not clear it (a process stuck in the kernel, state D).
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await waitGroupGone(pgid, graceMs)) return;
  if (!signalGroup(pgid, 'SIGKILL')) return;
  await waitGroupGone(pgid, 1_000);
}
