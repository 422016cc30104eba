/**
 * batchlab-native's GEMM alone vs OpenBLAS sgemm, 1 and 2 threads: square 256/1024/2048 and the
 * MLP's training shapes (forward B x 784 x 256, weight grad x^T dy, input grad dy W^T).
 * OpenBLAS is optional (apt-get install libopenblas-dev); its column stays empty without it.
 * OPENBLAS_CORETYPE is removed from the OpenBLAS child's environment only (it halves its speed here).
 * Usage: npx tsx bench/gemm.ts [--train] [--no-blas] [--threads 1,2]
 *   --train: only the MLP training shapes at B = 256 and 1024; --no-blas: skip OpenBLAS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNativeAddon, type NativeAddon } from '../src/engine/backends/native-addon.js';

interface Shape {
  label: string;
  m: number;
  n: number;
  k: number;
  ta: boolean;
  tb: boolean;
}

const HERE = dirname(fileURLToPath(import.meta.url));

const ARGS = process.argv.slice(2);
const argValue = (name: string): string | undefined => {
  const i = ARGS.indexOf(name);
  return i >= 0 ? ARGS[i + 1] : undefined;
};
const TRAIN_ONLY = ARGS.includes('--train');
const NO_BLAS = ARGS.includes('--no-blas');
const THREADS = (argValue('--threads') ?? '1,2').split(',').map(Number);

function shapes(): Shape[] {
  const out: Shape[] = TRAIN_ONLY
    ? []
    : [256, 1024, 2048].map((s) => ({ label: `square ${s}`, m: s, n: s, k: s, ta: false, tb: false }));
  for (const b of TRAIN_ONLY ? [64, 256, 1024] : [16, 64, 256, 1024]) {
    out.push({ label: `fwd x.W B=${b}`, m: b, n: 256, k: 784, ta: false, tb: false });
    out.push({ label: `dW x^T.dy B=${b}`, m: 784, n: 256, k: b, ta: true, tb: false });
    out.push({ label: `dx dy.W^T B=${b}`, m: b, n: 784, k: 256, ta: false, tb: true });
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median GFLOP/s of 7 windows of >= 0.1 s each, after warm-up. */
function timeNative(addon: NativeAddon, s: Shape): number {
  const a = new Float32Array(s.m * s.k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(s.k * s.n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const c = new Float32Array(s.m * s.n);
  const call = () => addon.matmul(a, b, c, 1, s.m, s.n, s.k, s.ta, s.tb, 0, 0, null, 0);
  for (let i = 0; i < 3; i++) call();
  const rates: number[] = [];
  for (let r = 0; r < 7; r++) {
    let it = 0;
    const t0 = performance.now();
    let t: number;
    do {
      call();
      it++;
    } while ((t = performance.now()) - t0 < 100);
    rates.push((2 * s.m * s.n * s.k * it) / ((t - t0) / 1000) / 1e9);
  }
  return median(rates);
}

/** Compiles the OpenBLAS timing helper if libopenblas is installed; returns its path or a reason. */
function buildOpenBlasHelper(): { path: string } | { reason: string } {
  const out = join(HERE, 'results', 'openblas_sgemm');
  mkdirSync(dirname(out), { recursive: true });
  const cc = spawnSync('cc', ['-O2', join(HERE, 'openblas_sgemm.c'), '-o', out, '-lopenblas'], { encoding: 'utf8' });
  if (cc.status !== 0)
    return { reason: `OpenBLAS not available (apt-get install libopenblas-dev): ${cc.stderr.split('\n')[0]}` };
  return { path: out };
}

function timeOpenBlas(helper: string, s: Shape, threads: number): number {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
  };
  delete env['OPENBLAS_CORETYPE'];
  const outText = execFileSync(helper, [s.m, s.n, s.k, s.ta ? 1 : 0, s.tb ? 1 : 0].map(String), {
    env,
    encoding: 'utf8',
  });
  return Number(outText.trim());
}

function main(): void {
  const loaded = loadNativeAddon();
  if (!loaded.ok) throw new Error(loaded.reason);
  const { addon } = loaded;
  const blas: { path: string } | { reason: string } = NO_BLAS
    ? { reason: 'OpenBLAS skipped (--no-blas)' }
    : buildOpenBlasHelper();
  if ('reason' in blas) console.log(blas.reason);
  const rows: Record<string, string | number>[] = [];
  console.log(
    `native simd=${addon.info().simd}; GFLOP/s (median of 7 windows); load average ${globalThis.process.platform === 'linux' && existsSync('/proc/loadavg') ? execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim() : 'n/a'}`,
  );
  console.log(['shape'.padEnd(20), 'M', 'N', 'K', 'op', 'native1T', 'blas1T', 'native2T', 'blas2T'].join('\t'));
  for (const s of shapes()) {
    const row: Record<string, string | number> = {
      shape: s.label,
      m: s.m,
      n: s.n,
      k: s.k,
      op: `${s.ta ? 'T' : 'N'}${s.tb ? 'T' : 'N'}`,
    };
    for (const threads of THREADS) {
      addon.setThreads(threads);
      row[`native${threads}T`] = Number(timeNative(addon, s).toFixed(1));
      row[`blas${threads}T`] = 'path' in blas ? timeOpenBlas(blas.path, s, threads) : '';
    }
    rows.push(row);
    console.log(
      [
        s.label.padEnd(20),
        s.m,
        s.n,
        s.k,
        row['op'],
        row['native1T'] ?? '',
        row['blas1T'] ?? '',
        row['native2T'] ?? '',
        row['blas2T'] ?? '',
      ].join('\t'),
    );
  }
  addon.setThreads(0);
  mkdirSync(join(HERE, 'results'), { recursive: true });
  if (TRAIN_ONLY || NO_BLAS || argValue('--threads')) return; // partial runs don't overwrite the full table
  writeFileSync(
    join(HERE, 'results', 'gemm.json'),
    JSON.stringify({ date: new Date().toISOString(), simd: addon.info().simd, rows }, null, 2),
  );
}

main();
