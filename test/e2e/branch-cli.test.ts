/**
 * `batchlab branch` and `batchlab recommend --batch-schedule` through the real binary: help, bad input
 * (exit 2, one line), a small measurement on spirals, the schedule it recommends (from the experiment
 * named, and found by dataset and model), and that the `train` command it prints runs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './harness.js';

const DIR = mkdtempSync(join(tmpdir(), 'batchlab-branch-cli-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
const DB = join(DIR, 'b.db');

test('branch --help explains the measurement and its options; batchlab --help lists it', () => {
  const r = runCli(['branch', '--help']);
  assert.equal(r.code, 0);
  for (const s of [
    'Merrill et al. 2025',
    '--checkpoints',
    '--window',
    '--branch-batches',
    '--seeds',
    '--tolerance',
    '--cmd',
    '--resume',
  ])
    assert.ok(r.stdout.includes(s), s);
  assert.match(runCli(['--help']).stdout, /\bbranch\b.*critical batch over training/);
});

test('branch: bad input exits 2 with one line naming the value', () => {
  const cases: [string[], RegExp][] = [
    [
      ['--dataset', 'spiral', '--batch-size', '32', '--branch-batches', '16,64'],
      /branch batches must be integers above the base batch 32/,
    ],
    [['--dataset', 'spiral', '--tolerance', '-0.1'], /--tolerance must be >= 0, got -0\.1/],
    [['--dataset', 'spiral', '--checkpoints', '100,50'], /checkpoints must increase/],
    [['--dataset', 'spiral', '--window', '60000'], /no checkpoint fits/],
    [['--cmd', 'python3 t.py'], /with --cmd, pass --samples N/],
    [['--cmd', 'python3 t.py', '--samples', '1000', '--dataset', 'spiral'], /--dataset describes a TF\.js model/],
    [['--dataset', 'spiral', '--timeout', '5'], /--timeout only applies with --cmd/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(['branch', '--db', join(DIR, 'bad.db'), ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^error \[BATCHLAB_[A-Z_]+\]: /);
    assert.match(lines[0]!, message);
  }
});

test('branch on spirals, then recommend --batch-schedule prints the schedule and a train command that runs', () => {
  const r = runCli([
    ...['branch', '--dataset', 'spiral', '--model', 'mlp', '--hidden', '16', '--batch-size', '16', '--lr', '0.05'],
    ...[
      '--samples',
      '1024',
      '--checkpoints',
      '256,512',
      '--window',
      '256',
      '--branch-batches',
      '32,64',
      '--seeds',
      '2',
    ],
    ...['--db', DB, '--checkpoint-dir', join(DIR, 'ckpt')],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /base run at B = 16, LR 0\.05, over 1,024 samples; checkpoints at 256, 512 samples/);
  assert.match(r.stderr, /windows of 256 samples at B = 16, 32, 64 \(LR by the linear rule\), 2 seeds each: 14 runs/);
  assert.match(r.stdout, /samples\s+base loss\s+critical batch\s+range\s+B_simple/);
  assert.match(r.stdout, /^at 256 samples: /m);
  assert.match(r.stdout, /B_simple (tracks|differs)|cannot tell whether B_simple/);
  assert.match(r.stdout, /recommended batch-size schedule: --batch-schedule "16@0[^"]*"/);
  assert.match(r.stdout, /compute: the measurement trained 3,584 samples, 3\.5x one full base run of 1,024 samples/);
  const id = /stored as experiment (\d+)/.exec(r.stdout)![1]!;

  const common = [
    'recommend',
    '--batch-schedule',
    '--dataset',
    'spiral',
    '--model',
    'mlp',
    '--hidden',
    '16',
    '--db',
    DB,
  ];
  const named = runCli([...common, '--from', id]);
  assert.equal(named.code, 0, named.stderr);
  assert.match(
    named.stdout,
    new RegExp(`^batch-size schedule from branch experiment ${id}: spiral / mlp, base batch 16`),
  );
  assert.match(named.stdout, /^ {2}0 samples: start at the base batch 16, LR 0\.05$/m);
  const found = runCli([...common, '--json']);
  assert.equal(found.code, 0, found.stderr);
  const json = JSON.parse(found.stdout);
  assert.equal(json.experimentId, Number(id));
  assert.equal(json.measured, false);
  assert.match(named.stdout, new RegExp(`--batch-schedule "${json.schedule}"`));
  const train = /run it with: batchlab (train .*)$/m.exec(named.stdout)![1]!;
  const args = train.match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''));
  const ran = runCli([...args, '--json']);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(JSON.parse(ran.stdout).batchSchedule, json.schedule);

  const notBranch = runCli([...common, '--from', '999']);
  assert.equal(notBranch.code, 2);
  assert.match(notBranch.stderr, /no experiment with id 999/);
  const noSchedule = runCli(['recommend', '--from', id, '--db', DB]);
  assert.equal(noSchedule.code, 2);
  assert.match(noSchedule.stderr, /--from only applies with --batch-schedule/);
  const probeFlag = runCli([...common, '--objective', 'compute']);
  assert.equal(probeFlag.code, 2);
  assert.match(probeFlag.stderr, /--objective applies to the batch-size probe, not to --batch-schedule/);
});
