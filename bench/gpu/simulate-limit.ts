/**
 * find-max on simulated GPU memory curves: today's lab findMax (analytic B = 1, 2, 4, 8, the line's
 * prediction, halving from a failure, a verification) against the limit search of core/limit.ts
 * (small probes B = 1 and 8, startBatch, nextProbe reading the failures' OOM figures, a verification),
 * each probe answered from the curve. Prints one row per curve and search: probes, the answer, the true
 * maximum. No GPU needed; the curves are the models of core/limit.test.ts.
 *
 *   npx tsx bench/gpu/simulate-limit.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIM_CURVES, simulateLimitSearch, simulateProbe, trueMax, type SimCurve } from '../../test/sim/gpu-memory.js';
import { findMax } from '../../src/lab/find-max/find-max.js';
import type { Prober } from '../../src/lab/find-max/probers.js';

const TOLERANCE = 0.03;
const MARGIN = 0.1;
const SEARCH = { tolerance: TOLERANCE, margin: MARGIN, cap: 2 ** 25 };

/** Today's find-max over a curve: budget = the device (what --budget-on gpu --memory-budget <card> gives). */
async function today(curve: SimCurve, dbPath: string): Promise<{ answer: number; probes: number[] }> {
  const probes: number[] = [];
  const prober: Prober = {
    measure: 'simulated device memory',
    async run(batch) {
      probes.push(batch);
      const r = simulateProbe(curve, batch);
      return r.ok ? { kind: 'ok', peakBytes: r.peakBytes, ms: 1 } : { kind: 'oom', message: r.message, ms: 1 };
    },
  };
  const report = await findMax({
    dbPath,
    settings: {
      budgetBytes: curve.totalBytes,
      budgetOn: 'gpu',
      marginFloor: MARGIN,
      cap: 2 ** 25,
      probeSteps: 3,
      verifySteps: 20,
      maxTrials: 40,
      tolerance: TOLERANCE,
      analyticBatches: [1, 2, 4, 8],
      subject: { curve: curve.name },
    },
    prober,
  });
  return { answer: report.answer.batch, probes };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-sim-'));
  try {
    console.log('curve                         search        probes  answer      truth     answer/truth  batches');
    for (const [i, curve] of SIM_CURVES.entries()) {
      const truth = trueMax(curve, curve.totalBytes * (1 - MARGIN));
      for (const [name, r] of [
        ['today', await today(curve, join(dir, `t${i}.db`))],
        ['limit, fresh', await simulateLimitSearch(curve, { warm: false, ...SEARCH })],
        ['limit, warm', await simulateLimitSearch(curve, { warm: true, ...SEARCH })],
      ] as const) {
        console.log(
          `${curve.name.padEnd(30)}${name.padEnd(14)}${String(r.probes.length).padStart(6)}  ${String(r.answer).padStart(10)}  ${String(truth).padStart(10)}  ${((r.answer ?? 0) / truth).toFixed(4).padStart(12)}  ${r.probes.join(',')}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
