import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from './harness.js';

/**
 * A known error: exit code, exactly one error line on stderr (the last; progress lines may precede it)
 * carrying the code and the expected words, and no stack trace.
 */
function assertOneLineError(r: CliResult, code: string, mentions: (string | RegExp)[], exitCode = 2): void {
  assert.equal(r.code, exitCode, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  const errors = lines.filter((l) => l.startsWith('error'));
  assert.equal(errors.length, 1, `one error line expected, got:\n${r.stderr}`);
  assert.equal(lines.at(-1), errors[0]);
  assert.match(errors[0]!, new RegExp(`^error \\[${code}\\]: `));
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  for (const m of mentions)
    assert.match(errors[0]!, typeof m === 'string' ? new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : m);
}

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-e2e-'));

test('help: batchlab --help lists the commands; train --help explains every option', () => {
  const main = runCli(['--help']);
  assert.equal(main.code, 0);
  for (const c of ['train', 'datasets', 'demo']) assert.match(main.stdout, new RegExp(`\\b${c}\\b`));
  const help = runCli(['train', '--help']);
  assert.equal(help.code, 0);
  for (const f of [
    '--batch-size',
    '--accum',
    '--epochs',
    '--lr',
    '--optimizer',
    '--momentum',
    '--seed',
    '--backend',
    '--json',
    '--limit',
  ])
    assert.ok(help.stdout.includes(f), f);
});

test('datasets lists every dataset with its size', () => {
  const r = runCli(['datasets']);
  assert.equal(r.code, 0, r.stderr);
  for (const name of ['mnist', 'fashion-mnist', 'iris', 'spiral', 'gauss', 'linreg', 'csv', 'idx', 'cifar10'])
    assert.match(r.stdout, new RegExp(`^${name}\\s`, 'm'));
  assert.match(r.stdout, /60,000/);
});

test('a short run prints backend, the accumulation plan and a summary; --json is machine-readable', () => {
  const r = runCli([
    'train',
    '--dataset',
    'iris',
    '--model',
    'mlp',
    '--hidden',
    '16',
    '--batch-size',
    '32',
    '--accum',
    '4',
    '--epochs',
    '20',
    '--optimizer',
    'adam',
    '--lr',
    '0.02',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /backend\s+\S+ \(/);
  assert.match(r.stdout, /32 = 8 x 4/);
  assert.match(r.stdout, /held-out\s+loss [0-9.]+\s+accuracy [0-9.]+%/);
  assert.match(r.stdout, /samples\/s/);
  const j = runCli(['train', '--dataset', 'iris', '--batch-size', '16', '--steps', '5', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const parsed = JSON.parse(j.stdout);
  assert.equal(parsed.steps, 5);
  assert.equal(parsed.plan, '16 = 16 x 1');
  assert.ok(parsed.final.test.accuracy >= 0 && parsed.final.test.accuracy <= 1);
  assert.ok(typeof parsed.backend.name === 'string');
});

test('bad batch sizes: 0, -1, 1.5, abc, and larger than the training set', () => {
  for (const b of ['0', '-1', '1.5', 'abc']) {
    assertOneLineError(runCli(['train', '--dataset', 'iris', '--batch-size', b]), 'BATCHLAB_BAD_BATCH_SIZE', [b]);
  }
  assertOneLineError(runCli(['train', '--dataset', 'iris', '--batch-size', '1000']), 'BATCHLAB_BAD_BATCH_SIZE', [
    '1000',
    '120',
  ]);
});

test('unknown dataset, model, optimizer, flag and command are named, with the valid ones listed', () => {
  assertOneLineError(runCli(['train', '--dataset', 'cifar100']), 'BATCHLAB_UNKNOWN_DATASET', [
    'cifar100',
    'mnist',
    'iris',
  ]);
  assertOneLineError(runCli(['train', '--dataset', 'iris', '--model', 'resnet']), 'BATCHLAB_UNKNOWN_MODEL', [
    'resnet',
    'mlp',
    'cnn',
  ]);
  assertOneLineError(runCli(['train', '--dataset', 'iris', '--optimizer', 'lion']), 'BATCHLAB_UNKNOWN_OPTIMIZER', [
    'lion',
    'adam',
  ]);
  assertOneLineError(runCli(['train', '--dataset', 'iris', '--batchsize', '4']), 'BATCHLAB_UNKNOWN_FLAG', [
    '--batchsize',
    '--batch-size',
  ]);
  assertOneLineError(runCli(['trian']), 'BATCHLAB_UNKNOWN_COMMAND', ['trian', 'train']);
  assertOneLineError(runCli(['train', '--dataset', 'iris', '--backend', 'gpu']), 'BATCHLAB_UNKNOWN_BACKEND', [
    'gpu',
    'wasm',
    'cpu',
  ]);
});

test('corrupt data files name the file (and the line for CSV)', () => {
  const idx = join(TMP, 'bad-images-idx3-ubyte');
  writeFileSync(idx, Buffer.from([0, 0, 9, 9, 0, 0, 0, 1]));
  assertOneLineError(
    runCli(['train', '--dataset', 'idx', '--file', idx, '--labels-file', idx]),
    'BATCHLAB_BAD_DATA_FILE',
    [idx],
  );
  const short = join(TMP, 'short-images-idx3-ubyte');
  writeFileSync(short, Buffer.from([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]));
  assertOneLineError(
    runCli(['train', '--dataset', 'idx', '--file', short, '--labels-file', short]),
    'BATCHLAB_BAD_DATA_FILE',
    [short],
  );
  const cifar = join(TMP, 'data_batch_1.bin');
  writeFileSync(cifar, Buffer.alloc(3073 + 5));
  assertOneLineError(runCli(['train', '--dataset', 'cifar10', '--file', cifar]), 'BATCHLAB_BAD_DATA_FILE', [cifar]);
  const ragged = join(TMP, 'ragged.csv');
  writeFileSync(ragged, 'a,b,label\n1,2,0\n3,4,1\n5,1\n');
  assertOneLineError(runCli(['train', '--dataset', 'csv', '--file', ragged]), 'BATCHLAB_BAD_DATA_FILE', [
    ragged,
    /line 4/,
  ]);
  const nan = join(TMP, 'nan.csv');
  writeFileSync(nan, 'a,b,label\n1,2,0\n3,x7,1\n');
  assertOneLineError(runCli(['train', '--dataset', 'csv', '--file', nan]), 'BATCHLAB_BAD_DATA_FILE', [
    nan,
    /line 3/,
    'x7',
  ]);
});

test('a model whose shapes do not fit the data is refused', () => {
  assertOneLineError(
    runCli(['train', '--dataset', 'iris', '--model', 'cnn', '--backend', 'cpu']),
    'BATCHLAB_SHAPE_MISMATCH',
    ['cnn', 'iris'],
  );
});

test('a diverging run stops at the NaN/Inf step and names the step and the learning rate', () => {
  const r = runCli([
    'train',
    '--dataset',
    'linreg',
    '--model',
    'linear',
    '--optimizer',
    'sgd',
    '--lr',
    '1000000',
    '--batch-size',
    '32',
  ]);
  assertOneLineError(r, 'BATCHLAB_DIVERGED', [/at step \d+/, '1000000'], 3);
});

test('forcing wasm for a CNN is refused with the reason', () => {
  assertOneLineError(
    runCli(['train', '--dataset', 'mnist', '--limit', '100', '--model', 'cnn', '--backend', 'wasm']),
    'BATCHLAB_BAD_ARGUMENT',
    ['Conv2DBackpropFilter'],
  );
});
