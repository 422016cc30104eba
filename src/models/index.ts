/**
 * Model builders: the built-in `linear`, `mlp`, `cnn` (built-in.ts), and a user's TF.js layers `model.json`
 * (file-model.ts, which reads files: Node only).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError, UnknownNameError, UsageError } from '../core/errors.js';
import type { Dataset } from '../data/types.js';
import { buildBuiltInModel, MODEL_NAMES, outputUnits, type BuiltModel, type ModelSpec } from './built-in.js';
import { loadLayersModelFromFile, readModelArtifacts } from './file-model.js';

export {
  buildBuiltInModel,
  DEFAULT_HIDDEN,
  initWeights,
  MODEL_NAMES,
  outputUnits,
  type BuiltModel,
  type ModelName,
  type ModelSpec,
} from './built-in.js';

/** Builds (or loads) the model for `data` and seeds its weights. Checks shapes against the dataset. */
export async function buildModel(spec: ModelSpec, data: Dataset, seed: number): Promise<BuiltModel> {
  if (!(MODEL_NAMES as readonly string[]).includes(spec.name)) {
    throw new UnknownNameError('BATCHLAB_UNKNOWN_MODEL', 'model', spec.name, MODEL_NAMES);
  }
  if (spec.name === 'file') {
    if (!spec.path) throw new UsageError('model "file" needs the path of a TF.js model.json: --model-file PATH');
    const model = await loadLayersModelFromFile(spec.path);
    return describeLoaded(model, data, spec.path);
  }
  return buildBuiltInModel(spec, data, seed);
}

/** Checks a loaded model's input and output shapes against the dataset. */
function describeLoaded(model: tfl.LayersModel, data: Dataset, path: string): BuiltModel {
  const inShape = model.inputs[0]!.shape.slice(1);
  const outShape = model.outputs[0]!.shape.slice(1);
  const dataSize = data.inputShape.reduce((a, b) => a * b, 1);
  const modelSize = inShape.reduce<number>((a, b) => a * (b ?? 0), 1);
  if (modelSize !== dataSize) {
    model.dispose();
    throw new ShapeError(
      `model ${path} takes input [${inShape.join(', ')}] but dataset ${data.name} has samples of shape [${data.inputShape.join(', ')}]`,
    );
  }
  if (outShape.length !== 1 || outShape[0] !== outputUnits(data)) {
    model.dispose();
    throw new ShapeError(
      `model ${path} outputs [${outShape.join(', ')}] but dataset ${data.name} needs ${outputUnits(data)} outputs`,
    );
  }
  const last = model.layers[model.layers.length - 1]!;
  const activation = (last.getConfig() as { activation?: string }).activation;
  return {
    model,
    description: `file ${path}`,
    paramCount: model.countParams(),
    hasConv: model.layers.some((l) => /conv/i.test(l.getClassName())),
    outputsProbabilities: activation === 'softmax',
  };
}

/**
 * Whether the model has convolutions, known before it is built (the backend is chosen first, and wasm
 * cannot train convolutions). For a model file, its topology is scanned for Conv layer classes.
 */
export function modelHasConv(spec: ModelSpec): boolean {
  if (spec.name === 'cnn') return true;
  if (spec.name !== 'file' || !spec.path) return false;
  try {
    return /"class_name"\s*:\s*"(Depthwise|Separable)?Conv/i.test(
      JSON.stringify(readModelArtifacts(spec.path).modelTopology),
    );
  } catch {
    return false; // buildModel reports the unreadable file with its own error
  }
}
