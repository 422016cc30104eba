/**
 * Checkpoints of a TF.js run: the full training state, so that a run saved after step t and resumed
 * trains exactly as the run that never stopped (same seed, same backend: bit-identical losses).
 *
 * A checkpoint is a safetensors file (./safetensors.ts) holding
 *   weight.<i>     the trainable variables, in the model's order (fp32)
 *   initial.<i>    the weights the run started from (for the distance from the initial weights)
 *   optimizer.<j>  the optimizer's state (momentum: one buffer per variable; Adam: m_i, v_i for each
 *                  variable; none before the first update)
 *   order          the current epoch's sample order (int32), whose first `cursor` positions are used
 * and, in the metadata under "batchlab", a JSON object (CheckpointMeta): the format tag, step and
 * samples done, the epoch and cursor of the next batch, the data-order seed, the optimizer (name,
 * hyper-parameters, Adam's update count), the last step's LR and batch, and the variables' shapes.
 * The LR schedule needs nothing more: its position is the step (lr.lrAt is a function of the step).
 * Variable names are not compared (TF.js numbers layers per process); order and shapes are.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { DataFileError, UsageError } from '../../core/errors.js';
import type { OptimizerConfig } from '../../core/run.js';
import type { Optimizer } from './optimizers.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';

/** The format tag in every checkpoint's metadata. */
export const CHECKPOINT_FORMAT = 'batchlab-checkpoint/1';
/** The metadata key of the JSON state. */
const META_KEY = 'batchlab';

const metaSchema = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  step: z.number().int().nonnegative(),
  samples: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  cursor: z.number().int().nonnegative(),
  seed: z.number(),
  trainCount: z.number().int().positive(),
  optimizer: z.looseObject({ name: z.enum(['sgd', 'momentum', 'adam']) }),
  optimizerSteps: z.number().int().nonnegative(),
  lr: z.number(),
  batchSize: z.number().int().nonnegative(),
  variables: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()) })),
});

/** The training state besides the tensors (file comment). */
export type CheckpointMeta = Omit<z.infer<typeof metaSchema>, 'optimizer'> & { optimizer: OptimizerConfig };

/** A decoded checkpoint. */
export interface Checkpoint {
  meta: CheckpointMeta;
  weights: Float32Array[];
  initial: Float32Array[];
  optimizerSlots: Float32Array[];
  order: Int32Array;
}

/** What a run hands over to be saved. */
export interface CheckpointSource {
  meta: Omit<CheckpointMeta, 'format' | 'variables' | 'optimizerSteps'>;
  vars: readonly tf.Variable[];
  initial: readonly tf.Tensor[];
  optimizer: Optimizer;
  order: Int32Array;
}

/** The run's state as safetensors bytes (one read-back per tensor). */
export function encodeCheckpoint(src: CheckpointSource): Uint8Array {
  const state = src.optimizer.exportState();
  const meta: CheckpointMeta = {
    ...src.meta,
    format: CHECKPOINT_FORMAT,
    optimizerSteps: state.steps,
    variables: src.vars.map((v) => ({ name: v.name, shape: [...v.shape] })),
  };
  const f32 = (name: string, t: tf.Tensor): NamedTensor => ({
    name,
    shape: [...t.shape],
    values: Float32Array.from(t.dataSync() as Float32Array),
  });
  return encodeSafetensors({
    metadata: { [META_KEY]: JSON.stringify(meta) },
    tensors: [
      ...src.vars.map((v, i) => f32(`weight.${i}`, v)),
      ...src.initial.map((t, i) => f32(`initial.${i}`, t)),
      ...state.slots.map((t, j) => f32(`optimizer.${j}`, t)),
      { name: 'order', shape: [src.order.length], values: src.order },
    ],
  });
}

/** Decodes and checks a checkpoint file's bytes; `file` names it in errors (DataFileError). */
export function decodeCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  const content = decodeSafetensors(bytes, file);
  const bad = (why: string) => new DataFileError(file, `not a usable batchlab checkpoint: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(content.metadata[META_KEY] ?? 'null');
  } catch {
    throw bad(`its "${META_KEY}" metadata is not JSON`);
  }
  const parsed = metaSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw bad(`metadata ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`);
  }
  const meta = parsed.data as CheckpointMeta;
  const byName = new Map(content.tensors.map((t) => [t.name, t]));
  const take = (name: string, shape: readonly number[] | undefined): NamedTensor => {
    const t = byName.get(name);
    if (t === undefined) throw bad(`tensor ${name} is missing`);
    if (shape !== undefined && t.shape.join(',') !== shape.join(','))
      throw bad(`tensor ${name} has shape [${t.shape}], its variable [${shape}]`);
    return t;
  };
  const shapes = meta.variables.map((v) => v.shape);
  const slotCount = content.tensors.filter((t) => t.name.startsWith('optimizer.')).length;
  const order = take('order', [meta.trainCount]).values;
  if (!(order instanceof Int32Array)) throw bad('tensor order must be I32');
  if (meta.cursor > meta.trainCount) throw bad(`cursor ${meta.cursor} is past the ${meta.trainCount} samples`);
  return {
    meta,
    weights: shapes.map((s, i) => take(`weight.${i}`, s).values as Float32Array),
    initial: shapes.map((s, i) => take(`initial.${i}`, s).values as Float32Array),
    optimizerSlots: Array.from(
      { length: slotCount },
      (_, j) => take(`optimizer.${j}`, undefined).values as Float32Array,
    ),
    order,
  };
}

/**
 * Loads a checkpoint into a freshly built run: its weights into `vars`, the initial weights into new
 * tensors (returned; the caller owns them), the optimizer's state. Refuses a checkpoint of another
 * model (variable shapes), training set (size) or optimizer (name), naming both sides.
 */
export function restoreCheckpoint(
  cp: Checkpoint,
  into: { vars: readonly tf.Variable[]; optimizer: Optimizer; optimizerConfig: OptimizerConfig; trainCount: number },
  file: string,
): tf.Tensor[] {
  const shapes = into.vars.map((v) => v.shape.join('x')).join(', ');
  const saved = cp.meta.variables.map((v) => v.shape.join('x')).join(', ');
  if (shapes !== saved)
    throw new UsageError(`checkpoint ${file} holds another model (weights ${saved}, this model ${shapes})`);
  if (cp.meta.trainCount !== into.trainCount)
    throw new UsageError(
      `checkpoint ${file} was saved on a training set of ${cp.meta.trainCount} samples, this run has ${into.trainCount}; resume with the same dataset and --limit`,
    );
  if (cp.meta.optimizer.name !== into.optimizerConfig.name)
    throw new UsageError(
      `checkpoint ${file} was saved with the ${cp.meta.optimizer.name} optimizer, this run uses ${into.optimizerConfig.name}; resume with --optimizer ${cp.meta.optimizer.name}`,
    );
  tf.tidy(() => into.vars.forEach((v, i) => v.assign(tf.tensor(cp.weights[i]!, v.shape, 'float32'))));
  into.optimizer.importState(into.vars, { slots: cp.optimizerSlots, steps: cp.meta.optimizerSteps });
  return into.vars.map((v, i) => tf.tensor(cp.initial[i]!, v.shape, 'float32'));
}
