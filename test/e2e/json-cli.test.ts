/**
 * `--json` through the built CLI: every command that has it prints one JSON document on stdout (progress
 * stays on stderr), and a command without a JSON result refuses the flag. train, find-max and recommend
 * are checked in their own e2e files (train-cli, find-max-cli, recommend-cli); the rest here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../src/cli/main.js';
import { runCli } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-json-'));

/** Runs a command with --json; exit 0 and stdout parsed as one JSON document. */
function json(args: readonly string[]): unknown {
  const r = runCli([...args, '--json'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('these commands take --json, and no other', () => {
  assert.deepEqual(
    COMMANDS.filter((c) => c.flags.includes('json')).map((c) => c.commandName),
    ['demo', 'train', 'sweep', 'find-max', 'study', 'recommend', 'noise', 'branch', 'playground', 'list', 'datasets'],
  );
  for (const command of ['report', 'show', 'export', 'serve']) {
    const r = runCli([command, 'latest', '--json']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^error \\[BATCHLAB_UNKNOWN_FLAG\\]: unknown option --json for "batchlab ${command}"`),
    );
  }
});

test('--json of datasets, sweep, list, noise and demo: one JSON document on stdout', () => {
  const datasets = json(['datasets']) as { name: string; trainCount: number | null }[];
  assert.equal(datasets.find((d) => d.name === 'mnist')?.trainCount, 60_000);
  const db = join(TMP, 'json.db');
  const tiny = ['--hidden', '8', '--budget', 'samples=512', '--sharpness-iterations', '0', '--no-report', '--db', db];
  const sweep = json(['sweep', '--dataset', 'gauss', '--batch-sizes', '32,64', ...tiny]) as {
    experiment: { id: number; kind: string; status: string };
    runs: { batchSize: number; status: string }[];
    summary: { findings: unknown[] };
    reportPath: string | null;
  };
  assert.deepEqual([sweep.experiment.kind, sweep.experiment.status, sweep.reportPath], ['sweep', 'done', null]);
  assert.deepEqual(
    sweep.runs.map((r) => [r.batchSize, r.status]),
    [
      [32, 'done'],
      [64, 'done'],
    ],
  );
  assert.ok(Array.isArray(sweep.summary.findings));
  const list = json(['list', '--db', db]) as { id: number; kind: string }[];
  assert.deepEqual(
    list.map((e) => [e.id, e.kind]),
    [[sweep.experiment.id, 'sweep']],
  );
  const noise = json([
    'noise',
    '--dataset',
    'spiral',
    '--hidden',
    '16',
    '--batch-size',
    '32',
    '--window',
    '40',
    '--db',
    db,
  ]) as { experimentId: number; batchSize: number; windows: { fromStep: number; toStep: number }[] };
  assert.equal(noise.batchSize, 32);
  assert.deepEqual(
    noise.windows.map((w) => [w.fromStep, w.toStep]),
    [[1, 40]],
  );
  const demo = json(['demo', '--batch-sizes', '512', '--budget', 'samples=1024', ...tiny]) as {
    experiment: { settings: { base: { dataset: string; model: { name: string } } } };
    runs: { batchSize: number; seed: number }[];
  };
  assert.equal(demo.experiment.settings.base.dataset, 'mnist', 'the demo sweeps MNIST by default');
  assert.equal(demo.experiment.settings.base.model.name, 'mlp');
  assert.deepEqual(
    demo.runs.map((r) => [r.batchSize, r.seed]),
    [
      [512, 1],
      [512, 2],
      [512, 3],
    ],
    'three seeds by default',
  );
});
