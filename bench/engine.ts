/**
 * Training throughput of batchlab-native vs wasm vs cpu vs PyTorch (same machine), MLP 784-256-10
 * and the small CNN, batch sizes 16, 64, 256, 1024. Prints one table, writes bench/results/engine.json.
 *
 * FLOPs: training = 3 x forward FLOPs of the matmuls/convs (2 per multiply-add; forward + input
 * grad + weight grad). Share of peak: 270 GFLOP/s per core (AVX-512 FMA) x threads used.
 * Each cell: warm-up steps, then the median samples/s over timed windows.
 * The cpu backend is capped (a CNN step takes seconds); wasm cannot train convs ("n/a").
 * PyTorch runs from /usr/bin/python3 if `import torch` works there (Debian: apt-get install
 * python3-torch), with OPENBLAS_CORETYPE unset and OMP_WAIT_POLICY=PASSIVE for that process only,
 * at 1 and 2 threads, taking the better.
 * Usage: npx tsx bench/engine.ts [--quick]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerNativeBackend } from '../src/engine/backends/native.js';
import { forwardFlopsPerSample, makeBatch, makeTrainer, type ModelKind } from './lib/train.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PEAK_PER_CORE = 270;
const BATCHES = [16, 64, 256, 1024];
const MODELS: ModelKind[] = ['mlp', 'cnn'];
const PYTHON = '/usr/bin/python3';

interface Cell { samplesPerSec?: number; threads?: number; note?: string }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Median samples/s of `windows` timed windows (each >= windowMs, at least one step) after
 * `warmup` steps; returns undefined (with the measured step time) if one step exceeds maxStepMs.
 */
async function measureTf(backend: string, kind: ModelKind, batch: number, opts: { warmup: number; windows: number; windowMs: number; maxStepMs: number }): Promise<Cell> {
  await tf.setBackend(backend);
  const trainer = makeTrainer(kind, 1);
  const { x, y } = makeBatch(kind, batch, 3);
  try {
    let t0 = performance.now();
    trainer.step(x, y).dispose();
    let stepMs = performance.now() - t0;
    if (stepMs > opts.maxStepMs) return { note: `capped (${(stepMs / 1000).toFixed(1)} s/step)`, samplesPerSec: (batch * 1000) / stepMs };
    for (let i = 1; i < opts.warmup; i++) trainer.step(x, y).dispose();
    t0 = performance.now();
    trainer.step(x, y).dispose();
    stepMs = performance.now() - t0;
    const steps = Math.max(1, Math.round(opts.windowMs / Math.max(stepMs, 0.01)));
    const rates: number[] = [];
    for (let w = 0; w < opts.windows; w++) {
      t0 = performance.now();
      for (let i = 0; i < steps; i++) trainer.step(x, y).dispose();
      rates.push((batch * steps * 1000) / (performance.now() - t0));
    }
    return { samplesPerSec: median(rates) };
  } finally {
    tf.dispose([x, y]);
    trainer.dispose();
  }
}

function torchAvailable(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `import torch failed in ${PYTHON}; to compare, install it: apt-get install -y python3-torch`;
}

/** PyTorch samples/s per (model, batch): the better of 1 and 2 threads. */
function measureTorch(quick: boolean): Map<string, Cell> {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  delete env['OPENBLAS_CORETYPE'];
  const threads = [...new Set([1, Math.min(2, availableParallelism())])].join(',');
  const r = spawnSync(PYTHON, [join(HERE, 'torch_bench.py'), MODELS.join(','), (quick ? [16, 256] : BATCHES).join(','), threads], { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  const out = new Map<string, Cell>();
  if (r.status !== 0) {
    console.log(`PyTorch run failed: ${r.stderr.slice(-500)}`);
    return out;
  }
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const o = JSON.parse(line) as { model: string; batch: number; threads: number; samples_per_s: number };
    const key = `${o.model}/${o.batch}`;
    const prev = out.get(key);
    if (prev === undefined || (prev.samplesPerSec ?? 0) < o.samples_per_s) out.set(key, { samplesPerSec: o.samples_per_s, threads: o.threads });
  }
  return out;
}

function fmt(v: number | undefined, digits = 0): string {
  return v === undefined ? '' : v.toFixed(digits);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const batches = quick ? [16, 256] : BATCHES;
  const reg = registerNativeBackend();
  if (!reg.ok) console.log(`batchlab-native unavailable: ${reg.reason}`);
  const nativeThreads = reg.ok ? reg.threads : 0;
  const torchMissing = torchAvailable();
  if (torchMissing) console.log(`PyTorch column empty: ${torchMissing}`);
  const torch = torchMissing ? new Map<string, Cell>() : measureTorch(quick);

  const rows: Record<string, unknown>[] = [];
  const header = ['model', 'B', 'engine', 'thr', 'samples/s', 'GFLOP/s', '%peak', 'native/torch', 'note'];
  console.log(`\nload average: ${existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').trim() : 'n/a'}`);
  console.log(header.join('\t'));
  for (const kind of MODELS) {
    for (const batch of batches) {
      const cells: [string, number, Cell][] = [];
      if (reg.ok) cells.push(['batchlab-native', nativeThreads, await measureTf('batchlab-native', kind, batch, { warmup: 3, windows: 7, windowMs: 300, maxStepMs: 60_000 })]);
      if (kind === 'mlp') cells.push(['wasm', 1, await measureTf('wasm', kind, batch, { warmup: 3, windows: 5, windowMs: 300, maxStepMs: 60_000 })]);
      else cells.push(['wasm', 1, { note: 'n/a (no Conv2DBackpropFilter)' }]);
      const cpuCap = kind === 'cnn' && batch > 16 ? { note: 'skipped (cpu CNN: ~0.4 s per sample)' } : undefined;
      cells.push(['cpu', 1, cpuCap ?? await measureTf('cpu', kind, batch, { warmup: 1, windows: kind === 'cnn' ? 1 : 3, windowMs: 300, maxStepMs: 20_000 })]);
      const t = torch.get(`${kind}/${batch}`);
      cells.push(['pytorch', t?.threads ?? 0, t ?? { note: torchMissing ?? 'no result' }]);
      const torchRate = t?.samplesPerSec;
      for (const [engine, threads, cell] of cells) {
        const sps = cell.samplesPerSec;
        const gflops = sps === undefined ? undefined : (sps * 3 * forwardFlopsPerSample(kind)) / 1e9;
        const peak = gflops === undefined || threads === 0 ? undefined : (100 * gflops) / (PEAK_PER_CORE * threads);
        const ratio = engine === 'batchlab-native' && sps !== undefined && torchRate ? sps / torchRate : undefined;
        const row = { model: kind, batch, engine, threads, samplesPerSec: sps, gflops, percentPeak: peak, nativeOverTorch: ratio, note: cell.note ?? '' };
        rows.push(row);
        console.log([kind, batch, engine, threads || '', fmt(sps), fmt(gflops, 1), fmt(peak, 1), fmt(ratio, 2), row.note].join('\t'));
      }
    }
  }
  mkdirSync(join(HERE, 'results'), { recursive: true });
  const meta = { date: new Date().toISOString(), flops: 'training = 3 x forward matmul/conv FLOPs', peakPerCoreGflops: PEAK_PER_CORE, native: reg };
  writeFileSync(join(HERE, 'results', 'engine.json'), JSON.stringify({ ...meta, rows }, null, 2));
  console.log(`\nwrote ${join('bench', 'results', 'engine.json')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
