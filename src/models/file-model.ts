/**
 * Loads a TF.js layers model (`model.json` + weight shards) from the local file system without
 * `@tensorflow/tfjs-node` (which provides `file://` loading but cannot be installed everywhere).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DataFileError } from '../core/errors.js';

interface WeightsGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

/** Reads model.json and its shards into the ModelArtifacts TF.js expects. */
export function readModelArtifacts(path: string): tf.io.ModelArtifacts {
  let json: { modelTopology?: unknown; weightsManifest?: WeightsGroup[]; format?: string };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new DataFileError(
      path,
      `cannot read a TF.js model.json (${(err as Error).message}); pass the path of a layers-model model.json`,
    );
  }
  if (!json.modelTopology) {
    throw new DataFileError(
      path,
      'has no "modelTopology"; it is not a TF.js layers model (save one with model.save())',
    );
  }
  const groups = json.weightsManifest ?? [];
  const weightSpecs = groups.flatMap((g) => g.weights);
  const shards = groups.flatMap((g) => g.paths).map((p) => readShard(resolve(dirname(path), p)));
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const s of shards) {
    weightData.set(s, offset);
    offset += s.byteLength;
  }
  return {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs,
    weightData: weightData.buffer,
    format: json.format,
  };
}

function readShard(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new DataFileError(
      file,
      `weight shard cannot be read (${(err as Error).message}); keep the .bin files next to model.json`,
    );
  }
}

/** Loads the model; its weights are those in the file (a model without weights keeps its initializers). */
export async function loadLayersModelFromFile(path: string): Promise<tfl.LayersModel> {
  const artifacts = readModelArtifacts(path);
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new DataFileError(path, `TF.js could not build this model: ${(err as Error).message}`);
  }
}
