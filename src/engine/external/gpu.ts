/**
 * GPU memory per process from `nvidia-smi`, where it exists. Without it (no NVIDIA driver, CI, a
 * laptop) GPU memory is simply not measured: the caller gets undefined and carries on.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Arguments of the one query we make: used memory of every compute process, in MiB, no header. */
export const NVIDIA_SMI_ARGS = ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'] as const;
/** A query slower than this is abandoned (a hung driver must not hang the trial). */
const QUERY_TIMEOUT_MS = 5_000;

/**
 * Parses `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits` output
 * ("1234, 5678" per line, memory in MiB) to used bytes by pid, summed over GPUs (a process may hold
 * memory on several). Lines that do not parse ("[N/A]", "No running processes found") are skipped.
 */
export function parseComputeApps(text: string): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(line);
    if (match === null) continue;
    const pid = Number(match[1]);
    byPid.set(pid, (byPid.get(pid) ?? 0) + Number(match[2]) * 1024 * 1024);
  }
  return byPid;
}

/** The first executable named `name` on PATH, or undefined. */
export async function findOnPath(name: string, pathVar = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of pathVar.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/** The query's arguments: every GPU, or only `gpu` (an index or UUID; `nvidia-smi -i` takes either). */
export function computeAppsArgs(gpu?: string): string[] {
  return gpu === undefined ? [...NVIDIA_SMI_ARGS] : ['-i', gpu, ...NVIDIA_SMI_ARGS];
}

/** Runs the query once; undefined when it fails or times out. */
function queryComputeApps(executable: string, gpu?: string): Promise<Map<number, number> | undefined> {
  return new Promise((resolve) => {
    execFile(executable, computeAppsArgs(gpu), { timeout: QUERY_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout) => {
      resolve(err ? undefined : parseComputeApps(stdout));
    });
  });
}

/**
 * Samples the GPU memory of a set of pids. One query at a time: nvidia-smi takes 50-500 ms, so a
 * sample asked for while one is running is skipped rather than queued.
 *
 * Caveat: inside a container nvidia-smi may report host pids, which match none of ours; GPU memory
 * then reads as 0 and the trainer's own peak_mem_bytes is the better measure (docs/protocol.md).
 */
export class GpuSampler {
  private readonly executable: string;
  private busy = false;

  private constructor(executable: string) {
    this.executable = executable;
  }

  /** A sampler when nvidia-smi is on PATH, else undefined. */
  static async create(pathVar?: string): Promise<GpuSampler | undefined> {
    const executable = await findOnPath('nvidia-smi', pathVar);
    return executable === undefined ? undefined : new GpuSampler(executable);
  }

  /**
   * Bytes of GPU memory the given pids use together, on GPU `gpu` only when given (a run given one GPU
   * of several); undefined when skipped or the query failed.
   */
  async sample(pids: readonly number[], gpu?: string): Promise<number | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    try {
      const byPid = await queryComputeApps(this.executable, gpu);
      return byPid === undefined ? undefined : pids.reduce((sum, pid) => sum + (byPid.get(pid) ?? 0), 0);
    } finally {
      this.busy = false;
    }
  }
}
