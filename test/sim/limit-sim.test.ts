/**
 * The limit search (core/limit.ts) on simulated GPU memory (gpu-memory.ts), against today's core
 * search from the small-B line's prediction (analytic B = 1, 2, 4, 8, fitMemory, predictMaxBatch,
 * findMaxBatch halving from a failure, a verification). The budget is the whole device with a 10%
 * margin, as `find-max --budget-on gpu --memory-budget <card>` makes it; the real limit is the
 * per-process cap, which only the failures' messages state (fresh) or the warm prober's ready report
 * states from the start (warm). bench/gpu/simulate-limit.ts prints the same against the lab's find-max.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findMaxBatch, fitMemory, predictMaxBatch } from '../../src/core/search.js';
import { SIM_CURVES, simulateLimitSearch, simulateProbe, trueMax, type SimCurve } from './gpu-memory.js';

const TOLERANCE = 0.03;
const MARGIN = 0.1;
const CAP = 2 ** 25;

/** Most probes of the limit search, small probes and the verification included, per curve: fresh, warm. */
const MOST_PROBES: Record<string, [number, number]> = {
  'resnet18, linear': [7, 6],
  'resnet18, 2 MiB blocks': [7, 6],
  'resnet18, small B 6x low': [7, 6],
  'resnet18, flat small B': [9, 7],
  'quadratic, 2 MiB blocks': [10, 9],
  'mlp, H100, no cap': [7, 7],
};

/** Today's core search from the analytic line's prediction; undefined where that line predicts nothing (flat). */
async function todayCore(c: SimCurve): Promise<{ answer: number; probes: number } | undefined> {
  const small = [1, 2, 4, 8].map((b) => {
    const r = simulateProbe(c, b);
    return { batchSize: b, peakBytes: r.ok ? r.peakBytes : Number.NaN };
  });
  const predicted = predictMaxBatch(fitMemory(small), c.totalBytes * (1 - MARGIN));
  if (predicted === undefined || predicted < 16) return undefined;
  const r = await findMaxBatch({
    predictedMax: predicted,
    cap: CAP,
    tolerance: TOLERANCE,
    probe: async (b) => {
      const p = simulateProbe(c, b);
      return p.ok ? { ok: true, peakBytes: p.peakBytes } : { ok: false, kind: 'oom', message: p.message };
    },
  });
  return { answer: r.maxBatch as number, probes: small.length + r.trials.length + 1 };
}

for (const c of SIM_CURVES) {
  test(`limit search on "${c.name}": within 3% below the true maximum, never above, in few probes`, async (t) => {
    const truth = trueMax(c, c.totalBytes * (1 - MARGIN));
    const [mostFresh, mostWarm] = MOST_PROBES[c.name] as [number, number];
    const today = await todayCore(c);
    for (const [mode, most] of [
      ['fresh', mostFresh],
      ['warm', mostWarm],
    ] as const) {
      const r = await simulateLimitSearch(c, { warm: mode === 'warm', tolerance: TOLERANCE, margin: MARGIN, cap: CAP });
      const why = `${mode}: answer ${r.answer}, truth ${truth}, probes ${r.probes.join(',')}`;
      assert.equal(r.outcome, 'found', `${why}; ${r.reasons.join('; ')}`);
      const answer = r.answer as number;
      assert.ok(answer <= truth, `never above: ${why}`);
      assert.ok(answer >= truth / (1 + TOLERANCE), `within 3%: ${why}`);
      assert.ok(r.probes.length <= most, `at most ${most} probes: ${why}`);
      if (today !== undefined)
        assert.ok(r.probes.length < today.probes, `fewer than today's ${today.probes} probes: ${why}`);
      t.diagnostic(
        `${why}; today's core search: ${today ? `${today.probes} probes, answer ${today.answer}` : 'no prediction'}`,
      );
    }
  });
}
