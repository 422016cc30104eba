import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding, RunSummary } from './summary.js';
import { sharedTimingNote, withTimingNote } from './timing-note.js';

const run = (timing?: RunSummary['timing']) => ({ timing }) as RunSummary;
const findings: Finding[] = [
  { effect: 'memory', text: 'memory grew', agreesWithSeed: true },
  { effect: 'speed', text: 'throughput rose: 1 -> 2 samples/s', agreesWithSeed: true },
  { effect: 'speed', text: 'measured critical batch B_crit ~ 300', agreesWithSeed: null },
];

test('runs timed alone need no note; runs that shared the machine say so on the speed findings only', () => {
  assert.equal(sharedTimingNote([run(), run({ runsAtOnce: 1, stepTimeFrom: 'run' })]), undefined);
  assert.deepEqual(withTimingNote(findings, [run()]), findings);
  const shared = [run({ runsAtOnce: 2, threads: 1, stepTimeFrom: 'run' }), run({ runsAtOnce: 4, stepTimeFrom: 'run' })];
  const out = withTimingNote(findings, shared);
  assert.equal(out[0]!.text, 'memory grew');
  assert.match(
    out[1]!.text,
    /\(timed with up to 4 runs at once sharing the machine, not comparable .*--timing isolated/,
  );
  assert.equal(out[2]!.text, findings[2]!.text, 'steps-to-target does not depend on timing');
});

test('re-measured alone: the note says so; a mix still warns', () => {
  const alone = { runsAtOnce: 2, stepTimeFrom: 'isolated' as const };
  assert.match(sharedTimingNote([run(alone), run(alone)]) ?? '', /re-measured with each batch size alone/);
  assert.match(sharedTimingNote([run(alone), run({ runsAtOnce: 2, stepTimeFrom: 'run' })]) ?? '', /not comparable/);
});
