/**
 * find-max on simulated GPU memory curves (test/sim/gpu-memory.ts), through the lab's findMax itself:
 * - 'analytic': the path before issue 17 (analytic B = 1, 2, 4, 8, the line's prediction, halving from a
 *   failure, a verification), reached here with a prober that has no `limit` reading;
 * - 'fresh': `find-max --cmd ... --budget-on gpu` on a plain script: B = 1 and 8 together, the limit
 *   search, the cap learned from the first OOM message;
 * - 'fresh+cap': the same command using examples/pytorch/warm_probe.py, whose ordinary trial states its cap;
 * - 'warm': `--warm`: the ready line states the cap and the free memory; the verification runs fresh.
 * Each row: probes, the answer against the true maximum, where samples/s stops improving, and a
 * modelled wall time on a GPU (a MODEL, not a measurement): each fresh process FRESH_PROCESS_S (issue
 * 17 measured 13-14 s on an H200: interpreter, torch import, CUDA context, cuDNN), the warm process
 * started once, WARM_PROBE_OVERHEAD_S per warm probe, and each step simStepMs(B) (a guess of its shape).
 *
 *   npx tsx bench/gpu/simulate-limit.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FindMaxReport, findMax, type ProbeRecord } from '../../src/lab/find-max/find-max.js';
import type { Prober } from '../../src/lab/find-max/probers.js';
import { SIM_CURVES, type SimCurve, simProber, simSettings, simStepMs, trueMax } from '../../test/sim/gpu-memory.js';

const MARGIN = 0.1;
/** Seconds of a fresh process before its first step (issue 17, H200). */
const FRESH_PROCESS_S = 13.5;
/** Seconds a warm probe adds besides its steps (the request, empty_cache, the answer). */
const WARM_PROBE_OVERHEAD_S = 0.3;

type Mode = 'analytic' | 'fresh' | 'fresh+cap' | 'warm';

function prober(c: SimCurve, mode: Mode): Prober {
  if (mode === 'analytic') {
    const { limit: _limit, concurrent: _concurrent, ...plain } = simProber(c, { warm: false });
    return plain;
  }
  return simProber(c, { warm: mode === 'warm', states: mode === 'fresh+cap' });
}

/** The modelled wall time (see the module doc): small probes that ran together count once. */
function modelS(c: SimCurve, r: FindMaxReport, mode: Mode): number {
  const stepsS = (p: ProbeRecord): number => (p.steps * simStepMs(c, p.batch)) / 1000;
  const fresh = (p: ProbeRecord) => FRESH_PROCESS_S + stepsS(p);
  const verify = r.probes.filter((p) => p.phase === 'verify').reduce((s, p) => s + fresh(p), 0);
  const probes = r.probes.filter((p) => p.phase !== 'verify');
  if (mode === 'warm')
    return FRESH_PROCESS_S + probes.reduce((s, p) => s + WARM_PROBE_OVERHEAD_S + stepsS(p), 0) + verify;
  const small = probes.filter((p) => p.phase === 'analytic');
  const together = mode !== 'analytic' ? Math.max(...small.map(fresh)) : small.reduce((s, p) => s + fresh(p), 0);
  return together + probes.filter((p) => p.phase === 'search').reduce((s, p) => s + fresh(p), 0) + verify;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-sim-'));
  let n = 0;
  try {
    console.log(
      `${'curve'.padEnd(27)}${'mode'.padEnd(11)}probes  ${'answer'.padStart(9)}  ${'truth'.padStart(9)}  answer/truth  worth from  model s  batches`,
    );
    for (const c of SIM_CURVES) {
      const truth = trueMax(c, c.totalBytes * (1 - MARGIN));
      for (const mode of ['analytic', 'fresh', 'fresh+cap', 'warm'] as const) {
        const r = await findMax({
          dbPath: join(dir, `${++n}.db`),
          settings: simSettings(c, MARGIN),
          prober: prober(c, mode),
        });
        const worth = r.throughput ? `${r.throughput.basis === 'fitted' ? '~' : ''}${r.throughput.worthFrom}` : '-';
        console.log(
          `${c.name.padEnd(27)}${mode.padEnd(11)}${String(r.counts.total).padStart(6)}  ${String(r.answer.batch).padStart(9)}  ${String(truth).padStart(9)}  ${(r.answer.batch / truth).toFixed(4).padStart(12)}  ${worth.padStart(10)}  ${modelS(c, r, mode).toFixed(0).padStart(7)}  ${r.probes.map((p) => p.batch).join(',')}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
