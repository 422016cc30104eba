/**
 * Loads a TF.js layers model (`model.json` + weight shards) from the local file system without
 * `@tensorflow/tfjs-node` (which provides `file://` loading but cannot be installed everywhere).
 *
 * Everything in model.json is checked before it is used: the document must be an object with a
 * `modelTopology` object and a well-formed `weightsManifest`; each shard path must be a relative path
 * that stays inside the model's folder (no absolute path, no `..`, no symlink that leads out), so a
 * model.json cannot make batchlab read /etc/passwd or ~/.ssh; the shards must hold exactly the bytes the
 * weights need. Every problem is a DataFileError naming the file.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { DataFileError } from '../core/errors.js';
import { escapeControl } from '../core/text.js';

/** Bytes per element of the weight dtypes whose size is fixed ('string' weights have none). */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

const weightSpecSchema = z.looseObject({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)),
  dtype: z.enum(['float32', 'int32', 'bool', 'string', 'complex64']),
  quantization: z.looseObject({}).optional(),
});

/** The parts of a model.json batchlab reads (tfjs-core io.ModelJSON); other fields are kept as they are. */
const modelJsonSchema = z.looseObject({
  modelTopology: z.looseObject({}),
  weightsManifest: z
    .array(z.looseObject({ paths: z.array(z.string()), weights: z.array(weightSpecSchema) }))
    .optional(),
  format: z.string().optional(),
});

/** A checked model.json: its topology, weight specs and shard paths (as written in the file). */
export interface ModelJson {
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  weightSpecs: tf.io.WeightsManifestEntry[];
  shardPaths: string[];
  format?: string;
}

/** Parses and checks the text of model.json `path`; throws DataFileError saying what is wrong. */
export function parseModelJson(text: string, path: string): ModelJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw notAModel(path, `it is not JSON (${escapeControl((err as Error).message)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw notAModel(
      path,
      `it holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not an object`,
    );
  if (!('modelTopology' in value) || (value as { modelTopology: unknown }).modelTopology == null)
    throw new DataFileError(
      path,
      'has no "modelTopology"; it is not a TF.js layers model (save one with model.save())',
    );
  const parsed = modelJsonSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue === undefined ? '' : `${issue.path.map(String).join('.')}: `;
    throw notAModel(path, `${escapeControl(`${at}${issue?.message.replace(/^Invalid input: /, '') ?? 'invalid'}`)}`);
  }
  const groups = parsed.data.weightsManifest ?? [];
  return {
    modelTopology: parsed.data.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: groups.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
    shardPaths: groups.flatMap((g) => g.paths),
    format: parsed.data.format,
  };
}

function notAModel(path: string, why: string): DataFileError {
  return new DataFileError(
    path,
    `cannot read a TF.js model.json (${why}); pass the path of a layers-model model.json saved by model.save()`,
  );
}

/**
 * The file a shard path of `modelFile` names, refused (DataFileError) unless it is a relative path
 * without `..` whose real location (symlinks resolved) lies inside the real folder of `modelFile`.
 * A shard that does not exist is returned as is: reading it reports it.
 */
export function resolveShardPath(modelFile: string, shard: string): string {
  const dir = dirname(resolve(modelFile));
  const shown = escapeControl(shard);
  if (shard === '' || shard.includes('\0') || isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) {
    throw new DataFileError(
      modelFile,
      `weights shard path "${shown}" must be a relative path inside the model's folder (no "..", not absolute); keep the .bin files next to model.json`,
    );
  }
  const full = resolve(dir, shard);
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    return full;
  }
  const realDir = realpathSync(dir);
  const rel = relative(realDir, real);
  if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new DataFileError(
      modelFile,
      `weights shard "${shown}" leads to ${escapeControl(real)}, outside the model's folder ${escapeControl(realDir)}; copy the file into the folder`,
    );
  }
  return real;
}

/** Reads model.json and its shards into the ModelArtifacts TF.js expects. */
export function readModelArtifacts(path: string): tf.io.ModelArtifacts {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw notAModel(path, `${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const model = parseModelJson(text, path);
  const shards = model.shardPaths.map((p) => readShard(resolveShardPath(path, p)));
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  checkWeightBytes(path, model.weightSpecs, total);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const s of shards) {
    weightData.set(s, offset);
    offset += s.byteLength;
  }
  return {
    modelTopology: model.modelTopology,
    weightSpecs: model.weightSpecs,
    weightData: weightData.buffer,
    format: model.format,
  };
}

/** The shards must hold exactly the bytes the weight specs need (when every size is known). */
function checkWeightBytes(path: string, specs: readonly tf.io.WeightsManifestEntry[], shardBytes: number): void {
  let needed = 0;
  for (const spec of specs) {
    const bytes = DTYPE_BYTES[spec.dtype];
    if (bytes === undefined || spec.quantization !== undefined) return; // sizes TF.js itself works out
    needed += spec.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  if (needed !== shardBytes) {
    throw new DataFileError(
      path,
      `its weightsManifest needs ${needed} bytes of weights, but the shards hold ${shardBytes}; save the model again with model.save()`,
    );
  }
}

function readShard(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new DataFileError(
      file,
      `weight shard cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); keep the .bin files next to model.json`,
    );
  }
}

/** Loads the model; its weights are those in the file (a model without weights keeps its initializers). */
export async function loadLayersModelFromFile(path: string): Promise<tfl.LayersModel> {
  const artifacts = readModelArtifacts(path);
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new DataFileError(path, `TF.js could not build this model: ${escapeControl((err as Error).message)}`);
  }
}
