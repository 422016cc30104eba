/**
 * The process tree of a trial, read from Linux /proc: which processes belong to it and how much
 * resident memory they hold together.
 *
 * Membership = the descendants of the root pid (by parent pid) plus every process in the trial's
 * process group. The two differ: a grandchild whose parent died is re-parented to init and leaves the
 * ancestry, but stays in the group; a child that called setsid() leaves the group, but stays a
 * descendant. We scan /proc/<pid>/stat rather than /proc/<pid>/task/<tid>/children, which only
 * exists on kernels built with CONFIG_PROC_CHILDREN (the machines we test on do not have it).
 */
import { readdir, readFile } from 'node:fs/promises';

/** The fields of /proc/<pid>/stat we use. */
export interface ProcStat {
  pid: number;
  /** Single letter: R running, S sleeping, Z zombie, ... */
  state: string;
  ppid: number;
  pgid: number;
}

/**
 * Parses the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself
 * contain spaces and parentheses, so the fields after it are split after the LAST ')'.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number.parseInt(text, 10);
  const rest = text.slice(close + 2).split(' ');
  const [state, ppid, pgid] = [rest[0], Number(rest[1]), Number(rest[2])];
  if (!Number.isInteger(pid) || state === undefined || !Number.isInteger(ppid) || !Number.isInteger(pgid))
    return undefined;
  return { pid, state, ppid, pgid };
}

/** Reads a /proc file; undefined when the process is gone (it may exit at any moment between scans). */
async function readProcFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Every process visible in /proc, with its parent and group. */
export async function readProcTable(procRoot = '/proc'): Promise<ProcStat[]> {
  const names = (await readdir(procRoot)).filter((n) => /^\d+$/.test(n));
  const stats = await Promise.all(names.map((n) => readProcFile(`${procRoot}/${n}/stat`)));
  return stats
    .map((s) => (s === undefined ? undefined : parseProcStat(s)))
    .filter((s): s is ProcStat => s !== undefined);
}

/** Pids of the root, its descendants and the members of process group `pgid`, from one table scan. */
export function treePids(table: readonly ProcStat[], rootPid: number, pgid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of table) {
    const list = children.get(p.ppid);
    if (list === undefined) children.set(p.ppid, [p.pid]);
    else list.push(p.pid);
  }
  const found = new Set<number>(table.filter((p) => p.pgid === pgid).map((p) => p.pid));
  if (table.some((p) => p.pid === rootPid)) found.add(rootPid);
  const visited = new Set<number>([rootPid]);
  const queue = [rootPid];
  while (queue.length > 0) {
    for (const c of children.get(queue.pop() as number) ?? []) {
      if (visited.has(c)) continue;
      visited.add(c);
      found.add(c);
      queue.push(c);
    }
  }
  return [...found];
}

/** Resident memory of one process: now (VmRSS) and its high-water mark (VmHWM), in bytes. */
export interface ProcMemory {
  rssBytes: number;
  hwmBytes: number;
}

/** VmRSS and VmHWM of one process, from /proc/<pid>/status (kB there); 0 for a zombie or a gone process. */
export async function readProcMemory(pid: number, procRoot = '/proc'): Promise<ProcMemory> {
  const status = (await readProcFile(`${procRoot}/${pid}/status`)) ?? '';
  const kB = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rssBytes: kB('VmRSS'), hwmBytes: kB('VmHWM') };
}

/** VmRSS of one process in bytes; 0 for a zombie or a gone process. */
export async function readRssBytes(pid: number, procRoot = '/proc'): Promise<number> {
  return (await readProcMemory(pid, procRoot)).rssBytes;
}

/** One sample of a process tree. */
export interface TreeSample {
  pids: number[];
  /** Sum of VmRSS over the tree: what it holds at this moment. */
  rssBytes: number;
  /** Largest single-process VmHWM in the tree: a peak that may have fallen between two samples. */
  maxHwmBytes: number;
}

/**
 * One sample of the trial's tree. Summed VmRSS over-counts pages shared between processes (a forked
 * data-loader worker shares its parent's pages): an upper bound, which is the safe side for a budget.
 * VmHWM is kept because a 100 ms poll misses short spikes (loading and converting the data set).
 */
export async function sampleTree(rootPid: number, pgid: number, procRoot = '/proc'): Promise<TreeSample> {
  const pids = treePids(await readProcTable(procRoot), rootPid, pgid);
  const mem = await Promise.all(pids.map((p) => readProcMemory(p, procRoot)));
  return {
    pids,
    rssBytes: mem.reduce((a, m) => a + m.rssBytes, 0),
    maxHwmBytes: mem.reduce((a, m) => Math.max(a, m.hwmBytes), 0),
  };
}

/** Processes of group `pgid` still in the process table (zombies included: they are not reaped yet). */
export async function groupMembers(pgid: number, procRoot = '/proc'): Promise<ProcStat[]> {
  return (await readProcTable(procRoot)).filter((p) => p.pgid === pgid);
}
