/**
 * The pure steps of find-max: the secant refinement of the start, the search window, the step down, the
 * limit search's plan and its reading of a probe, the target plan joined to the batch worth using.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  limitPlan,
  limitPrediction,
  limitTrialOf,
  type ProbePoint,
  sameSpeedPlan,
  searchWindow,
  secantStart,
  smallPeaks,
  stepDown,
  targetAdvice,
  MIN_RISE_FRACTION,
  withStatedLimits,
} from './find-max.js';
import { START_DIVISOR } from './limit.js';

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

const GiB = 2 ** 30;
const MiB = 2 ** 20;

test('limit plan: the baseline is the largest small probe, the limit the lower of the budget and a stated cap', () => {
  // GPU-like: a flat 1 GiB context at B = 1 and 8.
  const small: ProbePoint[] = [
    { phase: 'analytic', batch: 1, kind: 'ok', ok: true, peakBytes: GiB },
    { phase: 'analytic', batch: 8, kind: 'ok', ok: true, peakBytes: GiB },
  ];
  const reading = { peak: 'device' as const, resolutionBytes: 2 * MiB };
  const o = { limitBytes: 72 * GiB, reading, tolerance: 0.03, cap: 2 ** 25 };
  const plan = limitPlan(small, { ...o, known: {} });
  assert.deepEqual(plan.settings.baseline, { batch: 8, peakBytes: GiB });
  assert.equal(plan.settings.limitBytes, 72 * GiB);
  // Flat peaks: no spread, so a rise counts from 1% of the room.
  assert.equal(plan.settings.minRiseBytes, MIN_RISE_FRACTION * 71 * GiB);
  // The flat small probes bound the bytes per sample by the resolution over 7 samples.
  const predicted = 8 + (71 * GiB) / ((2 * MiB) / 7);
  assert.equal(plan.start.batch, Math.floor(8 + (predicted - 8) / START_DIVISOR));
  // A warm process states a 24 GiB cap (device terms) and 100 GiB free: the cap is the limit.
  const capped = limitPlan(small, { ...o, known: { limitBytes: 24 * GiB, freeBytes: 100 * GiB } });
  assert.equal(capped.settings.limitBytes, 24 * GiB);
  assert.ok(capped.start.batch < plan.start.batch / 2);
  const p = limitPrediction(capped, { limitBytes: 72 * GiB, known: { limitBytes: 24 * GiB } });
  assert.equal(p.trusted, false);
  assert.equal(p.start, capped.start.batch);
  assert.match(p.note, /limit search from B = 8: .*a cap of 24 GiB/);
  assert.throws(() => limitPlan([], { ...o, known: {} }), /needs a small probe that passed/);
});

test("a probe as the limit search reads it: a pass, an OOM's figures in the prober's measure, an overrun", () => {
  const at = { phase: 'search' as const, batch: 7000 };
  assert.deepEqual(limitTrialOf({ ...at, kind: 'ok', ok: true, peakBytes: 5e9 }, 'device'), {
    batch: 7000,
    ok: true,
    peakBytes: 5e9,
  });
  const oom = {
    source: 'pytorch-caching-allocator' as const,
    triedBytes: 512 * MiB,
    processBytes: 24.5 * GiB,
    reservedBytes: 23.9 * GiB,
    allocatedBytes: 23.5 * GiB,
    freeBytes: 100 * GiB,
    limitBytes: 24 * GiB,
  };
  const device = limitTrialOf({ ...at, kind: 'oom', ok: false, oom }, 'device');
  // Device terms: the cap plus what is not the allocator's (24.5 - 23.9 GiB of context).
  assert.deepEqual(device, {
    batch: 7000,
    ok: false,
    failure: { batch: 7000, peakAtLeastBytes: 24.5 * GiB + 512 * MiB, limitBytes: 24 * GiB + 0.6 * GiB },
  });
  const allocator = limitTrialOf({ ...at, kind: 'oom', ok: false, oom }, 'allocator');
  assert.ok(!allocator.ok && allocator.failure.limitBytes === 24 * GiB - 0.4 * GiB, 'the cap less fragmentation');
  assert.deepEqual(limitTrialOf({ ...at, kind: 'over-budget', ok: false, peakBytes: 9e9 }, 'device'), {
    batch: 7000,
    ok: false,
    failure: { batch: 7000, peakAtLeastBytes: 9e9 },
  });
  assert.deepEqual(limitTrialOf({ ...at, kind: 'oom', ok: false }, 'device'), {
    batch: 7000,
    ok: false,
    failure: { batch: 7000 },
  });
});

test('the target joins the batch worth using: smaller micro-batches that run about as fast', () => {
  // 16384 > 6040: the plan 16384 = 4096 x 4; from ~1,024 up samples/s is within 5%: 1024 x 16.
  const a = targetAdvice(16384, 6040, { rule: 'linear' }, 1000);
  assert.equal(a.plan.text, '16384 = 4096 x 4');
  assert.equal(a.sameSpeed?.text, '16384 = 1024 x 16');
  assert.equal(a.worthFrom, 1000);
  // A target that fits: it can still be split into micro-batches at full speed.
  assert.equal(targetAdvice(4096, 6040, { rule: 'linear' }, 1000).sameSpeed?.text, '4096 = 1024 x 4');
  // Nothing to gain: the plan's micro-batch is already the smallest at full speed, or no worth batch is known.
  assert.equal(targetAdvice(16384, 6040, { rule: 'linear' }, 5000).sameSpeed, undefined);
  assert.equal(targetAdvice(16384, 6040).sameSpeed, undefined);
  // The most accumulation steps whose micro-batch reaches the worth batch and divides the target.
  assert.equal(sameSpeedPlan(1000, 300, 600)?.text, '1000 = 500 x 2', '1000 / 3 is no integer');
  assert.equal(sameSpeedPlan(997, 100, 500), undefined, 'a prime has no divisor in [100, 500]');
});

test('a stated cap joins the known limits: as it is for the allocator, plus the context in device terms', () => {
  const stated = (batch: number, peakBytes: number, reserved?: number): ProbePoint => ({
    phase: 'analytic',
    batch,
    kind: 'ok',
    ok: true,
    peakBytes,
    statedMemory: { limitBytes: 24 * GiB, ...(reserved === undefined ? {} : { peakReservedBytes: reserved }) },
  });
  const device = { peak: 'device' as const, resolutionBytes: 2 * MiB };
  const allocator = { peak: 'allocator' as const, resolutionBytes: MiB };
  // nvidia-smi saw 700 MiB at B = 1 (reserved 60) and 650 at B = 8 (reserved 90, a sample that missed some):
  // the context is the larger reading, 640 MiB.
  const records = [stated(1, 700 * MiB, 60 * MiB), stated(8, 650 * MiB, 90 * MiB)];
  assert.deepEqual(withStatedLimits({ freeBytes: 100 * GiB }, records, device), {
    freeBytes: 100 * GiB,
    limitBytes: 24 * GiB + 640 * MiB,
  });
  assert.deepEqual(withStatedLimits({}, records, allocator), { limitBytes: 24 * GiB });
  assert.deepEqual(
    withStatedLimits({ limitBytes: 20 * GiB }, records, allocator),
    { limitBytes: 20 * GiB },
    'the lower wins',
  );
  assert.deepEqual(withStatedLimits({}, [stated(8, 650 * MiB)], device), {}, 'device terms need the reserved peak');
  assert.deepEqual(withStatedLimits({}, [], allocator), {});
});

test('small peaks: the measured ones; bounds (a JAX start-up mark above the small steps) only when none was measured', () => {
  const small = (batch: number, peakBytes: number, peakAtMost = false): ProbePoint => ({
    phase: 'analytic',
    batch,
    kind: 'ok',
    ok: true,
    peakBytes,
    ...(peakAtMost ? { peakAtMost: true } : {}),
  });
  const search: ProbePoint = { phase: 'search', batch: 64, kind: 'ok', ok: true, peakBytes: 5000 };
  // The start-up mark (2000) is above B = 1's peak but below B = 8's.
  const mixed = [small(1, 2000, true), small(8, 2100), search];
  assert.deepEqual(
    smallPeaks(mixed).map((r) => r.batch),
    [8],
  );
  const allBounds = [small(1, 2000, true), small(8, 2000, true), search];
  assert.deepEqual(
    smallPeaks(allBounds).map((r) => r.batch),
    [1, 8],
  );
});
