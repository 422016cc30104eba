import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AIM_BELOW_TOLERANCES,
  effectiveLimit,
  failurePoint,
  flatBound,
  lineCrossing,
  nextProbe,
  parabolaCrossing,
  START_DIVISOR,
  startBatch,
  type LimitSearchSettings,
  type LimitTrial,
} from './limit.js';
import { parseOomMessage } from './oom-message.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** A real PyTorch 2.x message under a per-process fraction (the j-lens one of oom-message.test.ts). */
const CAPPED =
  'OutOfMemoryError: CUDA out of memory. Tried to allocate 996.00 MiB. GPU 0 has a total capacity of 44.43 GiB of which 9.06 GiB is free. Process 2102129 has 17.54 GiB memory in use. Including non-PyTorch memory, this process has 17.81 GiB memory in use. 17.69 GiB allowed; Of the allocated memory 17.44 GiB is allocated by PyTorch, and 59.88 MiB is reserved by PyTorch but unallocated.';
/** A real PyTorch 2.2+ message without a cap (murong-xu/CADS#4). */
const UNCAPPED =
  'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 22.78 GiB. GPU 0 has a total capacity of 31.47 GiB of which 12.73 GiB is free. Including non-PyTorch memory, this process has 18.73 GiB memory in use. Of the allocated memory 9.08 GiB is allocated by PyTorch, and 9.35 GiB is reserved by PyTorch but unallocated.';
const g = (x: number): number => Math.round(x * GiB);
const m = (x: number): number => Math.round(x * MiB);

test('a failure in device terms: the cap plus what is not the allocator, or what the process could grow to', () => {
  const capped = failurePoint(100, parseOomMessage(CAPPED), 'device');
  const reserved = g(17.44) + m(59.88);
  // cap 17.69 GiB on reserved memory + (17.81 GiB held - reserved) outside the allocator; held + free is larger.
  assert.equal(capped.limitBytes, g(17.69) + (g(17.81) - reserved));
  assert.equal(capped.peakAtLeastBytes, g(17.81) + m(996));
  const uncapped = failurePoint(100, parseOomMessage(UNCAPPED), 'device');
  assert.equal(uncapped.limitBytes, g(18.73) + g(12.73));
  assert.equal(uncapped.peakAtLeastBytes, g(18.73) + g(22.78));
});

test("a failure in the allocator's terms: the cap less fragmentation, or allocated + free", () => {
  const capped = failurePoint(100, parseOomMessage(CAPPED), 'allocator');
  assert.equal(capped.limitBytes, g(17.69) - m(59.88));
  assert.equal(capped.peakAtLeastBytes, g(17.44) + m(996));
  const uncapped = failurePoint(100, parseOomMessage(UNCAPPED), 'allocator');
  assert.equal(uncapped.limitBytes, g(9.08) + g(12.73));
  // A failure without figures (a SIGKILL, cuDNN) is only its batch.
  assert.deepEqual(failurePoint(7, undefined, 'device'), { batch: 7 });
  assert.deepEqual(failurePoint(7, parseOomMessage('CUDNN_STATUS_ALLOC_FAILED'), 'device'), {
    batch: 7,
    peakAtLeastBytes: undefined,
    limitBytes: undefined,
  });
});

test("the usable limit is the caller's, lowered by any limit a failure stated", () => {
  const trials: LimitTrial[] = [
    { batch: 10, ok: true, peakBytes: 5 },
    { batch: 20, ok: false, failure: { batch: 20, limitBytes: 80 } },
    { batch: 30, ok: false, failure: { batch: 30 } },
  ];
  assert.equal(effectiveLimit(trials, 100), 80);
  assert.equal(effectiveLimit(trials, 50), 50);
});

const LINEAR = (b: number): number => 1e9 + 4e6 * b;
const S: Pick<LimitSearchSettings, 'baseline' | 'minRiseBytes' | 'resolutionBytes'> = {
  baseline: { batch: 8, peakBytes: LINEAR(8) },
  minRiseBytes: 100 * MiB,
  resolutionBytes: 2 * MiB,
};

test('the line: exact on linear memory from one risen point, on a parabola from two; none without a rise', () => {
  const limit = LINEAR(5000);
  assert.ok(Math.abs((lineCrossing([{ batch: 1000, peakBytes: LINEAR(1000) }], S, limit) as number) - 5000) < 1e-6);
  const quad = (b: number): number => 1e9 + 2e6 * b + 300 * b * b;
  const pts = [1000, 3000].map((b) => ({ batch: b, peakBytes: quad(b) }));
  const s = { ...S, baseline: { batch: 8, peakBytes: quad(8) } };
  assert.ok(Math.abs((lineCrossing(pts, s, quad(6000)) as number) - 6000) < 1e-6, 'the parabola finds it');
  // The secant through the same two points overshoots on convex memory: why the parabola is used.
  const secant = 3000 + (quad(6000) - quad(3000)) / ((quad(3000) - quad(1000)) / 2000);
  assert.ok(secant > 6500);
  assert.equal(lineCrossing([{ batch: 1000, peakBytes: LINEAR(8) + MiB }], S, limit), undefined, 'no rise');
});

test('the parabola is used only where memory curves up', () => {
  const concave = (b: number): number => 1e9 + 5e6 * b - 100 * b * b;
  const [p0, p1, p2] = [10, 1000, 3000].map((b) => ({ batch: b, peakBytes: concave(b) })) as [
    { batch: number; peakBytes: number },
    { batch: number; peakBytes: number },
    { batch: number; peakBytes: number },
  ];
  assert.equal(parabolaCrossing(p0, p1, p2, concave(5000)), undefined);
});

test('the flatness bound: a rise below the resolution proves B <= room / (resolution / span) fits', () => {
  const flat = { batch: 64, peakBytes: S.baseline.peakBytes };
  const bound = flatBound(flat, S, S.baseline.peakBytes + 100 * MiB) as number;
  assert.equal(bound, 64 + (100 * MiB) / ((2 * MiB) / 56));
  assert.equal(flatBound(S.baseline, S, 1e12), undefined);
});

test('the start: 1/8 of what the small-B peaks predict, within the free memory', () => {
  const small = [
    { batch: 1, peakBytes: LINEAR(1) },
    { batch: 8, peakBytes: LINEAR(8) },
  ];
  const predicted = 8 + (LINEAR(6000) - LINEAR(8)) / 4e6;
  const r = startBatch({ small, limitBytes: LINEAR(6000), resolutionBytes: 2 * MiB, cap: 1e6 });
  assert.equal(r.batch, Math.floor(8 + (predicted - 8) / START_DIVISOR));
  assert.equal(r.predicted, Math.floor(predicted), 'the prediction the start is 1/8 of');
  // Less free memory than the limit: the room is what is free.
  const tight = startBatch({ small, limitBytes: LINEAR(6000), freeBytes: 800e6, resolutionBytes: 2 * MiB, cap: 1e6 });
  assert.equal(tight.batch, Math.floor(8 + 800e6 / 4e6 / START_DIVISOR));
  // Flat small-B peaks: the resolution bounds the slope.
  const flat = startBatch({
    small: [
      { batch: 1, peakBytes: 1e9 },
      { batch: 8, peakBytes: 1e9 },
    ],
    limitBytes: 1e9 + 70 * GiB,
    resolutionBytes: 2 * MiB,
    cap: 2 ** 25,
  });
  assert.equal(flat.batch, Math.floor(8 + (70 * GiB) / ((2 * MiB) / 7) / START_DIVISOR));
  assert.equal(startBatch({ small: [small[0]!], limitBytes: 1e12, resolutionBytes: 1, cap: 100 }).batch, 4);
  assert.equal(startBatch({ small, limitBytes: 1e15, resolutionBytes: 1, cap: 100 }).batch, 100, 'capped');
});

const SETTINGS: LimitSearchSettings = { ...S, limitBytes: LINEAR(5000), tolerance: 0.03, cap: 2 ** 20 };
const ok = (batch: number, peak = LINEAR(batch)): LimitTrial => ({ batch, ok: true, peakBytes: peak });
const fail = (batch: number, limitBytes?: number): LimitTrial => ({ batch, ok: false, failure: { batch, limitBytes } });

test('next: just below where the line meets the limit, never half-way down from a failure', () => {
  const n = nextProbe([ok(1000)], SETTINGS);
  assert.ok('batch' in n);
  assert.equal(n.batch, Math.floor(5000 * (1 - AIM_BELOW_TOLERANCES * 0.03)));
  // A failure far above that states the real limit: the line aims at that limit, not at half the failure.
  const learned = nextProbe([ok(1000), fail(40_000, LINEAR(3000))], SETTINGS);
  assert.ok('batch' in learned);
  assert.equal(learned.batch, Math.floor(3000 * (1 - AIM_BELOW_TOLERANCES * 0.03)));
});

test('next: once the line says the maximum is within one tolerance, the probe just above closes the bracket', () => {
  const lo = Math.floor(5000 * (1 - AIM_BELOW_TOLERANCES * 0.03));
  const n = nextProbe([ok(1000), ok(lo)], SETTINGS);
  assert.ok('batch' in n);
  assert.equal(n.batch, Math.floor(lo * 1.03));
  const done = nextProbe([ok(1000), ok(lo), fail(Math.floor(lo * 1.03))], SETTINGS);
  assert.deepEqual(done, { done: 'found', lo: { batch: lo, peakBytes: LINEAR(lo) }, hi: Math.floor(lo * 1.03) });
});

test('next: a failure below the line gets one probe just under it, then a point between the ends', () => {
  // The line says 5000; the aim at 4925 failed (memory grew faster): try ceil(4925 / 1.03).
  const first = nextProbe([ok(1000), fail(4925)], SETTINGS);
  assert.ok('batch' in first);
  assert.equal(first.batch, Math.ceil(4925 / 1.03));
  const second = nextProbe([ok(1000), fail(4925), fail(first.batch)], SETTINGS);
  assert.ok('batch' in second);
  assert.equal(second.batch, Math.floor(Math.sqrt(1000 * first.batch)));
});

test('next: a failure with no measured rise below it goes to a point that fits and rises', () => {
  const n = nextProbe([ok(64, LINEAR(8)), fail(40_000)], SETTINGS);
  assert.ok('batch' in n);
  assert.equal(n.batch, 40_000 / 8, 'max(sqrt(64 x 40000) = 1600, 40000 / 8)');
  const near = nextProbe([ok(64, LINEAR(8)), fail(400)], SETTINGS);
  assert.ok('batch' in near);
  assert.equal(near.batch, 160, 'sqrt(64 x 400)');
});

test('next: flat peaks climb half-way to the flatness bound; capped at the cap', () => {
  const s = { ...SETTINGS, limitBytes: LINEAR(8) + 10 * GiB };
  const n = nextProbe([ok(64, LINEAR(8))], s);
  assert.ok('batch' in n);
  const bound = 64 + (10 * GiB) / ((2 * MiB) / 56);
  assert.equal(n.batch, Math.floor(64 + 0.5 * (bound - 64)));
  assert.deepEqual(nextProbe([ok(2 ** 20, LINEAR(8))], s), {
    done: 'capped',
    lo: { batch: 2 ** 20, peakBytes: LINEAR(8) },
  });
});

const bounded = (batch: number, peak: number): LimitTrial => ({ batch, ok: true, peakBytes: peak, peakAtMost: true });

test('a bounded peak (a JAX high-water mark) draws no line: the line through it would meet the limit at the pass itself', () => {
  // 2000 passed with its peak only bounded by an earlier mark at the limit; the measured line (1000) says 5000.
  const pts = [
    { batch: 1000, peakBytes: LINEAR(1000) },
    { batch: 2000, peakBytes: LINEAR(5000), atMost: true },
  ];
  assert.ok(Math.abs((lineCrossing(pts, S, LINEAR(5000)) as number) - 5000) < 1e-6, 'the bound is left out');
  // Read as a measurement, the bound would put the limit at 2000 (the pass itself).
  const asMeasured = lineCrossing(
    pts.map(({ batch, peakBytes }) => ({ batch, peakBytes })),
    S,
    LINEAR(5000),
  ) as number;
  assert.ok(asMeasured < 2100, `${asMeasured}`);
});

test('next: above a bounded lo the bracket is split, not crawled from either end; the bound still brackets', () => {
  // After failures at 4925 and 4800 the search passed 2500 with only a bound: between 2500 and 4800.
  const trials = [ok(1000), fail(4925), fail(4800), bounded(2500, LINEAR(4900))];
  const n = nextProbe(trials, SETTINGS);
  assert.ok('batch' in n);
  assert.equal(n.batch, Math.floor(Math.sqrt(2500 * 4800)));
  assert.match(n.why, /the peak at 2500 is only bounded/);
  // The same pass read as measured: the curve through (2500, LINEAR(4900)) meets the limit just above
  // 2500, and the search would crawl up from there one tolerance a probe.
  const measured = nextProbe([ok(1000), fail(4925), fail(4800), ok(2500, LINEAR(4900))], SETTINGS);
  assert.ok('batch' in measured);
  assert.equal(measured.batch, Math.floor(2500 * 1.03));
  // A bound closes a bracket like any pass; a bound above the limit counts as a failure.
  const done = nextProbe([ok(1000), fail(2570), bounded(2500, LINEAR(4900))], SETTINGS);
  assert.equal('done' in done && done.done, 'found');
  const over = nextProbe([ok(1000), bounded(2500, LINEAR(5001))], SETTINGS);
  assert.ok('batch' in over && over.batch < 2500);
});
