/**
 * Profiles one training step per kernel (tf.profile) for the MLP and the CNN at B = 16 and 256 on a
 * backend (default `cpu`), to see which kernels dominate and so which ones are worth a native override.
 * Usage: npx tsx bench/profile-step.ts [backend] [mlp|cnn ...] [--batches 16,256]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { makeBatch, makeTrainer, type ModelKind } from './lib/train.js';
import { registerNativeBackend } from '../src/engine/backends/native.js';

interface Row {
  name: string;
  ms: number;
  calls: number;
  shapes: string;
}

async function profileOnce(kind: ModelKind, batch: number): Promise<{ total: number; rows: Row[] }> {
  const trainer = makeTrainer(kind, 1);
  const { x, y } = makeBatch(kind, batch, 7);
  trainer.step(x, y).dispose(); // warm-up: first call pays lazy init and JIT
  const t0 = performance.now();
  const info = await tf.profile(() => {
    trainer.step(x, y).dispose();
  });
  const total = performance.now() - t0;
  const byName = new Map<string, Row>();
  for (const k of info.kernels) {
    const ms =
      typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : (k.kernelTimeMs as { error: string }).error ? 0 : 0;
    const row = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0, shapes: '' };
    row.ms += ms;
    row.calls += 1;
    if (row.shapes.length < 90) row.shapes += `${JSON.stringify(k.inputShapes)} `;
    byName.set(k.name, row);
  }
  tf.dispose([x, y]);
  trainer.dispose();
  return { total, rows: [...byName.values()].sort((a, b) => b.ms - a.ms) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const bIdx = args.indexOf('--batches');
  const batches = bIdx >= 0 ? args[bIdx + 1]!.split(',').map(Number) : [16, 256];
  const positional = args.filter((a, i) => !a.startsWith('--') && (bIdx < 0 || i !== bIdx + 1));
  const backend = positional[0] ?? 'cpu';
  const kinds = (positional.slice(1).length ? positional.slice(1) : ['mlp', 'cnn']) as ModelKind[];
  if (backend === 'batchlab-native') {
    const r = registerNativeBackend();
    if (!r.ok) throw new Error(r.reason);
  }
  await tf.setBackend(backend);
  for (const kind of kinds) {
    for (const batch of batches) {
      const { total, rows } = await profileOnce(kind, batch);
      const kernelSum = rows.reduce((s, r) => s + r.ms, 0);
      console.log(
        `\n== ${backend} ${kind} B=${batch}: step ${total.toFixed(1)} ms (kernels ${kernelSum.toFixed(1)} ms)`,
      );
      for (const r of rows.slice(0, 14)) {
        const pct = ((100 * r.ms) / kernelSum).toFixed(1).padStart(5);
        console.log(
          `${r.name.padEnd(22)} ${r.ms.toFixed(2).padStart(10)} ms ${pct}%  x${r.calls}  ${r.shapes.slice(0, 90)}`,
        );
      }
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
