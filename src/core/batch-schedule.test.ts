import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type BatchSchedule,
  criticalPointsFromBranches,
  formatBatchSchedule,
  parseBatchSchedule,
  phaseSpans,
  type ScheduleLr,
  scheduleAt,
  scheduleFromCriticalCurve,
} from './batch-schedule.js';
import { BatchlabError } from './errors.js';
import { scaleLr } from './lr.js';

const LR: ScheduleLr = { rule: 'sqrt', baseLr: 0.1, baseBatch: 64 };

test('parses samples (the default), the "steps" suffix and the unit option', () => {
  assert.deepEqual(parseBatchSchedule('64@0,128@2000,256@6000'), {
    unit: 'samples',
    phases: [
      { batch: 64, start: 0 },
      { batch: 128, start: 2000 },
      { batch: 256, start: 6000 },
    ],
  });
  assert.deepEqual(parseBatchSchedule(' 64 @ 0 , 128@500steps,256@1500steps ').unit, 'steps');
  assert.deepEqual(parseBatchSchedule('64@0,128@500', { unit: 'steps' }).unit, 'steps');
  assert.deepEqual(parseBatchSchedule('64@0,32@100samples').phases[1], { batch: 32, start: 100 });
  const steps = parseBatchSchedule('64@0,128@500steps');
  assert.equal(formatBatchSchedule(steps), '64@0steps,128@500steps');
  assert.equal(parseBatchSchedule('128@0').phases.length, 1);
});

test('rejects malformed schedules with a typed error naming the bad part (exit 2)', () => {
  const cases: [string, string, RegExp][] = [
    ['', 'BATCHLAB_BAD_ARGUMENT', /batch schedule is empty/],
    ['64@0,', 'BATCHLAB_BAD_ARGUMENT', /entry 2 \(""\) is empty/],
    ['64', 'BATCHLAB_BAD_ARGUMENT', /entry 1 \("64"\) is not BATCH@START/],
    ['64@', 'BATCHLAB_BAD_ARGUMENT', /entry 1 \("64@"\) has no start/],
    ['64@0,128@2k', 'BATCHLAB_BAD_ARGUMENT', /entry 2 \("128@2k"\) has an unknown unit "k"/],
    ['64@0,128@-5', 'BATCHLAB_BAD_ARGUMENT', /entry 2 \("128@-5"\) is not BATCH@START/],
    [
      '0@0',
      'BATCHLAB_BAD_BATCH_SIZE',
      /batch size in batch schedule entry 1 \("0@0"\) must be a positive integer, got "0"/,
    ],
    ['64@0,abc@100', 'BATCHLAB_BAD_BATCH_SIZE', /entry 2 \("abc@100"\) must be a positive integer, got "abc"/],
    ['64@0,1.5@100', 'BATCHLAB_BAD_BATCH_SIZE', /got "1\.5"/],
    ['64@10,128@100', 'BATCHLAB_BAD_ARGUMENT', /must start at 0, but its first entry starts at 10 samples/],
    [
      '64@0,128@2000,256@1000',
      'BATCHLAB_BAD_ARGUMENT',
      /starts must increase: entry 3 \(256@1000\) does not start after entry 2 \(128@2000\)/,
    ],
    ['64@0,128@0', 'BATCHLAB_BAD_ARGUMENT', /starts must increase/],
    ['64@0,128@5steps,256@9samples', 'BATCHLAB_BAD_ARGUMENT', /mixes units \(steps and samples\)/],
  ];
  for (const [text, code, message] of cases) {
    assert.throws(
      () => parseBatchSchedule(text),
      (err: unknown) =>
        err instanceof BatchlabError && err.code === code && err.exitCode === 2 && message.test(err.message),
      `"${text}"`,
    );
  }
  assert.throws(() => parseBatchSchedule('64@0,128@5steps', { unit: 'samples' }), /mixes units/);
});

test('property: any input either parses to a valid schedule or throws a BatchlabError with exit 2', () => {
  const grammarish = fc
    .array(fc.constantFrom(...'0123456789@,  steps amples-.x'.split('')), { maxLength: 30 })
    .map((cs) => cs.join(''));
  fc.assert(
    fc.property(fc.oneof(fc.string(), grammarish), fc.constantFrom(undefined, 'samples', 'steps'), (text, unit) => {
      let schedule: BatchSchedule;
      try {
        schedule = parseBatchSchedule(text, unit === undefined ? {} : { unit: unit as 'samples' | 'steps' });
      } catch (err) {
        assert.ok(err instanceof BatchlabError, `not a BatchlabError for "${text}": ${err}`);
        assert.equal(err.exitCode, 2);
        return;
      }
      assert.ok(schedule.phases.length >= 1);
      assert.equal(schedule.phases[0]!.start, 0);
      for (let i = 0; i < schedule.phases.length; i++) {
        const p = schedule.phases[i]!;
        assert.ok(Number.isSafeInteger(p.batch) && p.batch >= 1);
        if (i > 0) assert.ok(p.start > schedule.phases[i - 1]!.start);
      }
      assert.deepEqual(parseBatchSchedule(formatBatchSchedule(schedule), { unit: schedule.unit }), schedule);
    }),
    { numRuns: 3000, seed: 42 },
  );
});

/** Valid schedules: 1-6 phases, batches 1..1024, increasing starts. */
const schedules = fc
  .record({
    unit: fc.constantFrom('samples' as const, 'steps' as const),
    batches: fc.array(fc.integer({ min: 1, max: 1024 }), { minLength: 1, maxLength: 6 }),
    gaps: fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 5, maxLength: 5 }),
  })
  .map(({ unit, batches, gaps }) => {
    let start = 0;
    const phases = batches.map((batch, i) => {
      if (i > 0) start += gaps[i - 1]!;
      return { batch, start };
    });
    return { unit, phases } as BatchSchedule;
  });

test('property: generated schedules round-trip through the syntax', () => {
  fc.assert(
    fc.property(schedules, (s) => {
      assert.deepEqual(parseBatchSchedule(formatBatchSchedule(s)), s);
    }),
    { numRuns: 500, seed: 7 },
  );
});

test('property: the batch and LR at each step match a step-by-step run of the schedule exactly', () => {
  fc.assert(
    fc.property(schedules, (s) => {
      // Reference: walk the run one step at a time; step t uses the last phase whose start is at or below
      // the samples (or steps) seen before it.
      let samples = 0;
      const lastStep = 400;
      for (let t = 1; t <= lastStep; t++) {
        const position = s.unit === 'samples' ? samples : t - 1;
        let phase = 0;
        for (let k = 0; k < s.phases.length; k++) if (s.phases[k]!.start <= position) phase = k;
        const batch = s.phases[phase]!.batch;
        const got = scheduleAt(s, t, LR);
        assert.deepEqual(got, { step: t, batch, lr: scaleLr({ ...LR, batch }), phase, samplesBefore: samples });
        samples += batch;
      }
    }),
    { numRuns: 200, seed: 11 },
  );
});

test('switches happen on step boundaries; a phase shorter than one step is skipped', () => {
  const s = parseBatchSchedule('64@0,128@2000,256@2010,512@5000');
  const spans = phaseSpans(s, LR);
  assert.deepEqual(
    spans.map((p) => [p.phase, p.batch, p.firstStep, p.samplesBefore]),
    [
      [0, 64, 1, 0], // 32 steps of 64 = 2,048 samples
      [2, 256, 33, 2048], // 128@2000 never runs: at 2,048 samples 256@2010 already applies
      [3, 512, 45, 5120], // ceil((5000 - 2048) / 256) = 12 steps of 256
    ],
  );
  assert.equal(scheduleAt(s, 32, LR).batch, 64);
  assert.equal(scheduleAt(s, 33, LR).batch, 256);
  assert.ok(Math.abs(scheduleAt(s, 33, LR).lr - 0.2) < 1e-12, 'sqrt rule: 0.1 x sqrt(256 / 64)');
  assert.throws(() => scheduleAt(s, 0, LR), /positive integer/);
});

test('a batch-size warm-up from a critical-batch curve: doubles as it grows, LR by the rule, reasons', () => {
  const curve = [
    { samples: 1000, criticalBatch: 40 }, // below 2 x 64: stay
    { samples: 4000, criticalBatch: 150 }, // 128 <= 150: 64 -> 128
    { samples: 16_000, criticalBatch: 700 }, // 512 <= 700: 128 -> 512 at once
    { samples: 64_000, criticalBatch: 600 }, // never shrinks
  ];
  const r = scheduleFromCriticalCurve(curve, { ...LR, maxMicroBatch: 256 });
  assert.equal(formatBatchSchedule(r.schedule), '64@0,128@4000,512@16000');
  assert.deepEqual(
    r.changes.map((c) => [c.batch, c.plan.microBatchSize, c.plan.accumSteps]),
    [
      [64, 64, 1],
      [128, 128, 1],
      [512, 256, 2],
    ],
  );
  assert.ok(Math.abs(r.changes[2]!.lr - 0.1 * Math.sqrt(8)) < 1e-12);
  assert.match(
    r.changes[2]!.reason,
    /^at 16,000 samples the critical batch is at least 700: 128 -> 512, LR 0\.141 -> 0\.283 \(sqrt rule\), 512 = 256 x 2$/,
  );
  // A safety factor of 2: 150 / 2 < 128 stays at 64; 700 / 2 = 350 allows 256.
  const safe = scheduleFromCriticalCurve(curve, { ...LR, maxMicroBatch: 256, safetyFactor: 2 });
  assert.equal(formatBatchSchedule(safe.schedule), '64@0,256@16000');
  assert.match(safe.changes[1]!.reason, /at least 700 \/ safety 2: 64 -> 256, LR 0\.1 -> 0\.2/);
  const capped = scheduleFromCriticalCurve(curve, { ...LR, maxMicroBatch: 256, maxBatch: 128 });
  assert.equal(formatBatchSchedule(capped.schedule), '64@0,128@4000');
  assert.match(capped.changes[1]!.reason, /64 -> 128, LR/);
  assert.equal(capped.changes.length, 2, 'at 16,000 the cap holds it at 128: no change');
  assert.throws(
    () => scheduleFromCriticalCurve(curve, { ...LR, maxMicroBatch: 256, safetyFactor: 0.5 }),
    /safety factor/,
  );
  // From the branch rule's curve: the lower end of each checkpoint, 'cannot tell' included.
  assert.deepEqual(
    criticalPointsFromBranches([
      { samples: 100, low: 64 },
      { samples: 400, low: 256 },
    ]),
    [
      { samples: 100, criticalBatch: 64 },
      { samples: 400, criticalBatch: 256 },
    ],
  );
});
