import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, RunSummary } from './summary.js';
import { sharedTimingNote, withTimingNote } from './timing-note.js';

const run = (timing?: RunSummary['timing']) => ({ timing }) as RunSummary;
const findings: Finding[] = [
  { effect: 'memory', claim: 'memory', text: 'Memory grew.', verdict: 'agrees' },
  { effect: 'speed', claim: 'samples-per-sec', text: 'Throughput rose: 1 -> 2 samples/s.', verdict: 'agrees' },
  { effect: 'speed', claim: 'step-time', text: 'Each step took longer: 1 -> 2 ms.', verdict: 'agrees' },
  { effect: 'speed', claim: 'critical-batch', text: 'Measured critical batch B_crit ~ 300.', verdict: null },
];

test('runs timed alone need no note; runs that shared the machine say so on the speed findings only', () => {
  assert.equal(sharedTimingNote([run(), run({ runsAtOnce: 1, stepTimeFrom: 'run' })]), undefined);
  assert.deepEqual(withTimingNote(findings, [run()]), findings);
  const shared = [run({ runsAtOnce: 2, threads: 1, stepTimeFrom: 'run' }), run({ runsAtOnce: 4, stepTimeFrom: 'run' })];
  const out = withTimingNote(findings, shared);
  assert.equal(out[0]!.text, 'Memory grew.');
  for (const timed of [out[1]!, out[2]!])
    assert.match(
      timed.text,
      /\. Timed with up to 4 runs at once sharing the machine: not comparable .*--timing isolated/,
    );
  assert.equal(out[3]!.text, findings[3]!.text, 'steps-to-target does not depend on timing');
});

test('re-measured alone: the note says so; a mix still warns', () => {
  const alone = { runsAtOnce: 2, stepTimeFrom: 'isolated' as const };
  assert.match(sharedTimingNote([run(alone), run(alone)]) ?? '', /re-measured with each batch size alone/);
  assert.match(sharedTimingNote([run(alone), run({ runsAtOnce: 2, stepTimeFrom: 'run' })]) ?? '', /not comparable/);
});
