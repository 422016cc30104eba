/**
 * model.json from a user: `null`, odd weight manifests, shard paths that leave the model's folder and
 * shards of the wrong size are refused with a DataFileError naming the file; a good model loads.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { BatchlabError } from '../../src/core/errors.js';
import { loadLayersModelFromFile, parseModelJson, readModelArtifacts } from '../../src/models/file-model.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-model-json-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

/** A dense 4 -> 3 layer's topology (a real Keras JSON, as model.save() writes it). */
const TOPOLOGY = {
  class_name: 'Sequential',
  config: {
    name: 'sequential_1',
    layers: [
      {
        class_name: 'Dense',
        config: {
          units: 3,
          activation: 'linear',
          use_bias: true,
          batch_input_shape: [null, 4],
          dtype: 'float32',
          name: 'dense_1',
        },
      },
    ],
  },
  keras_version: 'tfjs-layers 4.22.0',
  backend: 'tensor_flow.js',
};
const WEIGHTS = [
  { name: 'dense_1/kernel', shape: [4, 3], dtype: 'float32' },
  { name: 'dense_1/bias', shape: [3], dtype: 'float32' },
];

/** Writes model.json (and a 60-byte shard `w.bin` unless told otherwise) into a new folder. */
function modelDir(json: unknown, opts: { shardBytes?: number } = {}): { dir: string; file: string } {
  const dir = mkdtempSync(join(TMP, 'm-'));
  writeFileSync(join(dir, 'w.bin'), new Uint8Array(opts.shardBytes ?? 60));
  const file = join(dir, 'model.json');
  writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
  return { dir, file };
}

const good = (paths: string[] = ['w.bin']) => ({
  modelTopology: TOPOLOGY,
  format: 'layers-model',
  weightsManifest: [{ paths, weights: WEIGHTS }],
});

function badModel(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BatchlabError, `expected a BatchlabError, got ${(err as Error).stack}`);
    assert.equal(err.code, 'BATCHLAB_BAD_DATA_FILE');
    assert.equal(err.exitCode, 2);
    assert.ok(!/[\n\r]/.test(err.message), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('model.json', () => {
  it('a good model loads with its weights', async () => {
    const { file } = modelDir(good());
    await tf.setBackend('cpu');
    const model = await loadLayersModelFromFile(file);
    assert.deepEqual(model.outputs[0]!.shape, [null, 3]);
    model.dispose();
  });

  it('null, an array, a number, not JSON, no topology', () => {
    badModel(
      () => parseModelJson('null', 'm.json'),
      /^m\.json: cannot read a TF\.js model\.json \(it holds null, not an object\)/,
    );
    badModel(() => parseModelJson('[1]', 'm.json'), /it holds an array/);
    badModel(() => parseModelJson('42', 'm.json'), /it holds number/);
    badModel(() => parseModelJson('{"modelTopology": ', 'm.json'), /it is not JSON/);
    badModel(() => parseModelJson('{"format": "layers-model"}', 'm.json'), /has no "modelTopology"/);
  });

  it('an odd weightsManifest is named by its field', () => {
    const cases: [unknown, RegExp][] = [
      [{ modelTopology: TOPOLOGY, weightsManifest: { paths: ['w.bin'] } }, /weightsManifest: expected array/],
      [{ modelTopology: TOPOLOGY, weightsManifest: [{ paths: 'w.bin', weights: [] }] }, /weightsManifest\.0\.paths/],
      [{ modelTopology: TOPOLOGY, weightsManifest: [null] }, /weightsManifest\.0: expected object/],
      [
        {
          modelTopology: TOPOLOGY,
          weightsManifest: [{ paths: [], weights: [{ name: 'k', shape: [-1], dtype: 'float32' }] }],
        },
        /weightsManifest\.0\.weights\.0\.shape\.0/,
      ],
      [
        {
          modelTopology: TOPOLOGY,
          weightsManifest: [{ paths: [], weights: [{ name: 'k', shape: [2], dtype: 'float128' }] }],
        },
        /weights\.0\.dtype/,
      ],
      [{ modelTopology: 'Sequential' }, /modelTopology: expected object/],
    ];
    for (const [json, pattern] of cases) badModel(() => parseModelJson(JSON.stringify(json), 'm.json'), pattern);
  });

  it('shard paths that leave the folder are refused: "..", absolute, a symlink out', () => {
    const outside = join(TMP, 'secret.bin');
    writeFileSync(outside, new Uint8Array(60));
    for (const p of ['../secret.bin', 'sub/../../secret.bin', outside, 'a/../w.bin', '']) {
      const { file } = modelDir(good([p]));
      badModel(
        () => readModelArtifacts(file),
        /weights shard path ".*" must be a relative path inside the model's folder/,
      );
    }
    const { dir, file } = modelDir(good(['link.bin']));
    symlinkSync(outside, join(dir, 'link.bin'));
    badModel(
      () => readModelArtifacts(file),
      /weights shard "link\.bin" leads to .*secret\.bin, outside the model's folder/,
    );
    const nested = modelDir(good(['sub/w2.bin']));
    mkdirSync(join(nested.dir, 'sub'));
    symlinkSync(join(nested.dir, 'w.bin'), join(nested.dir, 'sub', 'w2.bin'));
    assert.equal(
      (readModelArtifacts(nested.file).weightData as ArrayBuffer | undefined)?.byteLength,
      60,
      'a link that stays inside is fine',
    );
  });

  it('shards of the wrong size, a missing shard, a shard path with control characters', () => {
    badModel(
      () => readModelArtifacts(modelDir(good(), { shardBytes: 59 }).file),
      /needs 60 bytes of weights, but the shards hold 59/,
    );
    badModel(
      () => readModelArtifacts(modelDir(good(['gone.bin'])).file),
      /gone\.bin: weight shard cannot be read \(ENOENT\)/,
    );
    badModel(() => readModelArtifacts(modelDir(good(['x\u001b[2J/../../y'])).file), /"x\\x1b\[2J\/\.\.\/\.\.\/y"/);
  });
});
