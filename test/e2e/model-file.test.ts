// A user's own TF.js layers model (model.json + weights), trained by `batchlab train --model file`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { runCli } from './harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-model-file-'));

/** Saves a small layers model the way model.save() lays it out on disk: model.json + one weights shard. */
async function saveModel(dir: string, outputs: number): Promise<string> {
  await tf.setBackend('cpu');
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tfl.layers.dense({ units: outputs })],
  });
  const path = join(dir, `model-${outputs}.json`);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const shard = `weights-${outputs}.bin`;
      writeFileSync(join(dir, shard), Buffer.from(artifacts.weightData as ArrayBuffer));
      writeFileSync(
        path,
        JSON.stringify({
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          weightsManifest: [{ paths: [shard], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return path;
}

test('a saved model.json trains on iris; one with the wrong output width is refused', async () => {
  const good = await saveModel(TMP, 3);
  const r = runCli([
    'train',
    '--dataset',
    'iris',
    '--model',
    'file',
    '--model-file',
    good,
    '--batch-size',
    '16',
    '--epochs',
    '30',
    '--optimizer',
    'adam',
    '--lr',
    '0.02',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.ok(result.final.test.accuracy > 0.8, `iris accuracy ${result.final.test.accuracy}`);
  const bad = await saveModel(TMP, 5);
  const e = runCli(['train', '--dataset', 'iris', '--model', 'file', '--model-file', bad]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /BATCHLAB_SHAPE_MISMATCH.*outputs \[5\].*needs 3 outputs/);
  const missing = runCli(['train', '--dataset', 'iris', '--model', 'file', '--model-file', join(TMP, 'nope.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /BATCHLAB_BAD_DATA_FILE.*nope\.json/);
});
