/**
 * The lab's findMax (src/lab/find-max) on simulated GPU memory (gpu-memory.ts), through a prober as
 * `find-max --cmd ... --budget-on gpu` builds one (fresh: a plain script, or one whose ordinary trial
 * states its cap as the PyTorch helper's does), or with `--warm` (its ready line states the per-process
 * cap and the free memory, its verification runs fresh). The budget is the whole device with a 10%
 * margin; the real limit is the cap, which only the failures' messages (a plain script), the trials'
 * metrics (the helper) or the ready line (warm) state. Every probe counts: the small ones, the search,
 * the verification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findMax } from '../../src/lab/find-max/find-max.js';
import { SIM_CURVES, simProber, simSettings, trueMax } from './gpu-memory.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-find-max-sim-'));
let dbCount = 0;
const TOLERANCE = 0.03;
const MARGIN = 0.1;

/**
 * Most probes per curve: fresh (a plain script: the cap comes from its first OOM message), fresh with
 * the helper's stated cap, warm; each counts B = 1 and 8, the search and the verification.
 */
const MOST_PROBES: Record<string, Record<Mode, number>> = {
  'resnet18, linear': { fresh: 7, stated: 6, warm: 6 },
  'resnet18, 2 MiB blocks': { fresh: 7, stated: 6, warm: 6 },
  'resnet18, small B 6x low': { fresh: 7, stated: 6, warm: 6 },
  'resnet18, flat small B': { fresh: 9, stated: 7, warm: 7 },
  'quadratic, 2 MiB blocks': { fresh: 10, stated: 9, warm: 9 },
  'mlp, H100, no cap': { fresh: 7, stated: 7, warm: 7 },
};
type Mode = 'fresh' | 'stated' | 'warm';

for (const c of SIM_CURVES) {
  test(`lab findMax on "${c.name}": within 3% below the true maximum, never above, probes counted`, async (t) => {
    const truth = trueMax(c, c.totalBytes * (1 - MARGIN));
    for (const mode of ['fresh', 'stated', 'warm'] as const) {
      const most = MOST_PROBES[c.name]?.[mode] as number;
      const calls: number[] = [];
      const report = await findMax({
        dbPath: join(TMP, `sim-${++dbCount}.db`),
        settings: simSettings(c, MARGIN),
        prober: simProber(c, { warm: mode === 'warm', states: mode === 'stated', calls }),
      });
      const answer = report.answer.batch;
      const why = `${mode}: answer ${answer}, truth ${truth}, probes ${calls.join(',')}`;
      assert.equal(report.search.strategy, 'limit', why);
      assert.deepEqual(calls.slice(0, 2), [1, 8], 'small probes at B = 1 and 8 only');
      assert.ok(answer <= truth, `never above: ${why}`);
      assert.ok(answer >= truth / (1 + TOLERANCE), `within 3%: ${why}`);
      assert.equal(calls.length, report.counts.total);
      assert.ok(calls.length <= most, `at most ${most} probes: ${why}`);
      assert.equal(report.probes.at(-1)?.phase, 'verify');
      assert.equal(calls.at(-1), answer, 'the last probe verifies the answer');
      t.diagnostic(why);
    }
  });
}
