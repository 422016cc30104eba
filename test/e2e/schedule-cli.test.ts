/**
 * `batchlab train --batch-schedule` and `--checkpoint-in/--checkpoint-out` through the real binary:
 * malformed schedules exit 2 with one line naming the entry; a schedule run prints its phases; a run
 * saved and resumed ends exactly where the run that never stopped ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-schedule-'));

test('train --help documents the schedule syntax and the checkpoint flags', () => {
  const r = runCli(['train', '--help']);
  assert.equal(r.code, 0);
  for (const s of ['--batch-schedule', '64@0,128@2000,256@6000', '"steps" suffix', '--lr-rule', '--max-micro-batch'])
    assert.ok(r.stdout.includes(s), s);
  for (const s of ['--checkpoint-in', '--checkpoint-out']) assert.ok(r.stdout.includes(s), s);
});

const BAD: [schedule: string, code: string, words: RegExp][] = [
  ['', 'BATCHLAB_BAD_ARGUMENT', /batch schedule is empty/],
  ['abc', 'BATCHLAB_BAD_ARGUMENT', /entry 1 \("abc"\) is not BATCH@START/],
  ['64@100,128@200', 'BATCHLAB_BAD_ARGUMENT', /must start at 0/],
  ['64@0,128@500,256@500', 'BATCHLAB_BAD_ARGUMENT', /starts must increase: entry 3 \(256@500\)/],
  ['64@0,128@900,256@300', 'BATCHLAB_BAD_ARGUMENT', /starts must increase/],
  ['0@0', 'BATCHLAB_BAD_BATCH_SIZE', /batch size in batch schedule entry 1.*positive integer/],
  ['64@0,1.5@10', 'BATCHLAB_BAD_BATCH_SIZE', /entry 2.*positive integer/],
  ['64@0,-8@10', 'BATCHLAB_BAD_BATCH_SIZE', /entry 2/],
  ['64@0,128@', 'BATCHLAB_BAD_ARGUMENT', /no start after "@"/],
  ['64@0,128@10parsecs', 'BATCHLAB_BAD_ARGUMENT', /unknown unit "parsecs"/],
  ['64@0,,128@10', 'BATCHLAB_BAD_ARGUMENT', /entry 2 .* is empty/],
];

for (const [schedule, code, words] of BAD) {
  test(`train --batch-schedule "${schedule}" exits 2 with one line: ${code}`, () => {
    const r = runCli(['train', '--dataset', 'iris', '--batch-schedule', schedule, '--steps', '3']);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^error \\[${code}\\]: `));
    assert.match(lines[0]!, words);
  });
}

test('--batch-schedule with --batch-size, or --lr-rule without a schedule, exits 2', () => {
  const both = runCli(['train', '--dataset', 'iris', '--batch-schedule', '8@0', '--batch-size', '16']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /drop --batch-size/);
  const rule = runCli(['train', '--dataset', 'iris', '--lr-rule', 'sqrt']);
  assert.equal(rule.code, 2);
  assert.match(rule.stderr, /--lr-rule applies to --batch-schedule/);
  const big = runCli(['train', '--dataset', 'iris', '--batch-schedule', '8@0,4096@100', '--steps', '3']);
  assert.equal(big.code, 2);
  assert.match(big.stderr, /batch size 4096 is larger than the training set/);
});

test('a schedule run prints each phase with its first step, split and LR', () => {
  const r = runCli([
    ...['train', '--dataset', 'iris', '--model', 'linear', '--samples', '400'],
    ...['--batch-schedule', '8@0,16@40,32@200', '--max-micro-batch', '8', '--lr', '0.1'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /schedule\s+8@0,16@40,32@200, LR by the linear rule from 0\.1 at batch 8/);
  assert.match(r.stdout, /from step 1 \(0 samples\): 8 = 8 x 1, lr 0\.1\n/);
  assert.match(r.stdout, /from step 6 \(40 samples\): 16 = 8 x 2, lr 0\.2\n/);
  assert.match(r.stdout, /from step 16 \(200 samples\): 32 = 8 x 4, lr 0\.4\n/);
});

test('a steps schedule with the sqrt rule prints its phases', () => {
  const r = runCli([
    ...['train', '--dataset', 'iris', '--model', 'linear', '--samples', '400', '--optimizer', 'adam'],
    ...['--batch-schedule', '8@0,32@5steps', '--max-micro-batch', '16', '--lr', '0.01'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /LR by the sqrt rule from 0\.01 at batch 8/);
  assert.match(r.stdout, /from step 1 \(0 samples\): 8 = 8 x 1, lr 0\.01/);
  assert.match(r.stdout, /from step 6 \(40 samples\): 32 = 16 x 2, lr 0\.02/);
});

test('train --checkpoint-out, then --checkpoint-in, ends where the uninterrupted run ends', () => {
  const ckpt = join(TMP, 'a.safetensors');
  const common = ['train', '--dataset', 'mnist', '--limit', '1000', '--hidden', '32', '--batch-size', '32', '--json'];
  const whole = runCli([...common, '--steps', '50']);
  const first = runCli([...common, '--steps', '20', '--checkpoint-out', ckpt]);
  const rest = runCli([...common, '--steps', '50', '--checkpoint-in', ckpt]);
  for (const r of [whole, first, rest]) assert.equal(r.code, 0, r.stderr);
  const [w, f, s] = [whole, first, rest].map((r) => JSON.parse(r.stdout));
  assert.equal(f.steps, 20);
  assert.equal(s.steps, 30);
  assert.equal(s.samples, w.samples);
  assert.deepEqual(s.final, w.final);
  assert.notDeepEqual(f.final, w.final);
});
