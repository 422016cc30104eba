/** The pure steps of find-max: the secant refinement of the start, the search window, the step down. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchWindow, secantStart, stepDown } from './find-max.js';

test('secant start: the line through the largest analytic point and the far probe', () => {
  // peak = 1000 + 10 B exactly: from (8, 1080) and a far probe at 500 (6000), limit 5000 -> B = 400.
  assert.equal(secantStart({ batch: 8, peakBytes: 1080 }, { batch: 500, peakBytes: 6000 }, 5000), 400);
  assert.equal(
    secantStart({ batch: 8, peakBytes: 1080 }, { batch: 500 }, 5000),
    undefined,
    'a real OOM measured no peak',
  );
  assert.equal(
    secantStart({ batch: 8, peakBytes: 1080 }, { batch: 500, peakBytes: 900 }, 5000),
    undefined,
    'memory did not grow',
  );
});

test('search window: +-1 tolerance around a trusted start, the whole range otherwise', () => {
  // 1000 / 1.04 = 961.5 -> 962; 1000 + floor(0.04 x 1000) = 1040.
  assert.deepEqual(searchWindow(1000, 0.04, 5000, true), { low: 962, high: 1040 });
  assert.deepEqual(searchWindow(1000, 0.04, 1010, true), { low: 962, high: 1010 }, 'capped');
  assert.deepEqual(searchWindow(1, 0.04, 10, true), { low: 1, high: 2 }, 'at least one batch above');
  assert.deepEqual(searchWindow(1000, 0.04, 5000, false), { low: 1, high: 5000 });
});

test('step down after a failed verification: shed the excess at the local slope, or fall back to the last pass', () => {
  const passed = { phase: 'search' as const, batch: 500, kind: 'ok' as const, ok: true, peakBytes: 600 };
  // Over the limit: 1 byte per sample between (500, 600) and (1000, 1100), 100 bytes too many -> 900.
  const over = { phase: 'verify' as const, batch: 1000, kind: 'over-budget' as const, ok: false, peakBytes: 1100 };
  assert.equal(stepDown(1000, over, 1000, [passed, over], 0.04), 900);
  // A peak just over the limit still steps down at least tolerance / 2: 1000 x 0.98 = 980.
  assert.equal(stepDown(1000, { ...over, peakBytes: 1001 }, 1000, [passed], 0.04), 980);
  // Out of memory (no peak): the largest batch a search probe passed below it, else half.
  const oom = { phase: 'verify' as const, batch: 1000, kind: 'oom' as const, ok: false };
  assert.equal(stepDown(1000, oom, 1000, [passed, oom], 0.04), 500);
  assert.equal(stepDown(1000, oom, 1000, [oom], 0.04), 500);
  assert.equal(stepDown(1000, oom, 1000, [{ ...passed, batch: 800 }], 0.04), 800);
});
