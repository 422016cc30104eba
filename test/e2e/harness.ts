/** Runs the real `batchlab` binary (bin/batchlab.js over dist/) as a user would. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/index.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/batchlab.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: readonly string[],
  opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const res = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    env: { ...process.env, ...opts.env },
  });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

/** Debian's torch belongs to /usr/bin/python3 (a pyenv `python3` on PATH may lack it); BATCHLAB_TEST_PYTHON picks another. */
export const TEST_PYTHON = process.env.BATCHLAB_TEST_PYTHON ?? '/usr/bin/python3';

/** Why torch cannot be used here, or undefined when `TEST_PYTHON -c "import torch"` works (tests skip, not pass, without it). */
export function torchMissing(): string | undefined {
  const r = spawnSync(TEST_PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return `${TEST_PYTHON} cannot be run (${r.error.message})`;
  return r.status === 0
    ? undefined
    : `${TEST_PYTHON} cannot import torch (install python3-torch): ${r.stderr.trim().split('\n').pop()}`;
}

/** True once a run of the latest experiment in `db` is running and has stored more than 20 steps (false while the store is not there yet). */
export function runningWithSteps(db: string): boolean {
  try {
    const store = openStore(db, { readonly: true });
    try {
      const e = store.latestExperiment();
      return (
        e !== undefined && store.runsOf(e.id).some((r) => r.status === 'running' && store.stepsOf(r.id).length > 20)
      );
    } finally {
      store.close();
    }
  } catch {
    return false;
  }
}
