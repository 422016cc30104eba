import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchlabError } from '../../src/core/errors.js';
import { expandCommand, expandWarmCommand, resolveValues, trialEnv } from '../../src/engine/external/template.js';

const values = resolveValues({ batch: 64, microBatch: 16, lr: 0.05, maxSteps: 20, seed: 7 });

test('resolveValues fills accum from batch / micro-batch and micro-batch from accum', () => {
  assert.deepEqual([values.microBatch, values.accum], [16, 4]);
  assert.deepEqual([resolveValues({ batch: 64, accum: 2 }).microBatch, resolveValues({ batch: 64 }).accum], [32, 1]);
});

test('resolveValues rejects a bad or inconsistent batch plan by value', () => {
  assert.throws(() => resolveValues({ batch: 0 }), /batch size must be a positive integer, got 0/);
  assert.throws(
    () => resolveValues({ batch: 64, microBatch: 24 }),
    /batch size 64 must equal micro-batch x accumulation steps, got 24 x \?/,
  );
  assert.throws(() => resolveValues({ batch: 64, microBatch: 16, accum: 2 }), { code: 'BATCHLAB_BAD_BATCH_SIZE' });
  assert.throws(() => resolveValues({ batch: 8, lr: -1 }), /learning rate must be a positive number, got -1/);
});

test('expandCommand fills every placeholder', () => {
  const cmd = expandCommand(
    'python t.py -b {batch} -m {micro_batch} -k {accum} --lr {lr} --steps {max_steps} --seed {seed}',
    values,
  );
  assert.equal(cmd, 'python t.py -b 64 -m 16 -k 4 --lr 0.05 --steps 20 --seed 7');
});

test('expandCommand leaves shell syntax alone: ${VAR}, brace expansion and \\{escaped}', () => {
  assert.equal(expandCommand('echo ${HOME} {a,b} \\{batch} {batch}', values), 'echo ${HOME} {a,b} \\{batch} 64');
});

test('an unknown placeholder is a typed error naming it and the valid ones', () => {
  assert.throws(
    () => expandCommand('python t.py --bs {batch_size}', values),
    (err: unknown) =>
      err instanceof BatchlabError &&
      err.code === 'BATCHLAB_BAD_ARGUMENT' &&
      /unknown placeholder \{batch_size\}/.test(err.message) &&
      /\{micro_batch\}/.test(err.message),
  );
});

test('a placeholder without a value is a typed error naming it', () => {
  assert.throws(() => expandCommand('t --lr {lr}', resolveValues({ batch: 8 })), /uses \{lr\} but no value was given/);
  assert.throws(() => expandCommand('   ', values), /the training command is empty/);
});

test('trialEnv sets the given values and the metrics path', () => {
  assert.deepEqual(trialEnv(resolveValues({ batch: 32 }), '/tmp/m.jsonl'), {
    BATCHLAB_METRICS: '/tmp/m.jsonl',
    BATCHLAB_BATCH_SIZE: '32',
    BATCHLAB_MICRO_BATCH: '32',
    BATCHLAB_ACCUM: '1',
  });
  assert.equal(trialEnv(values, 'm').BATCHLAB_LR, '0.05');
  assert.equal(trialEnv(values, 'm').BATCHLAB_SEED, '7');
  assert.equal(trialEnv(values, 'm').BATCHLAB_MAX_STEPS, '20');
});

test('checkpoint placeholders: paths single-quoted for the shell, absent ones empty, all in the environment', () => {
  const v = resolveValues({
    batch: 8,
    checkpointIn: "/tmp/my dir/it's.ckpt",
    checkpointOut: '/tmp/out.ckpt',
    resumeStep: 12,
  });
  assert.equal(
    expandCommand('t --in {checkpoint_in} --out {checkpoint_out} --from {resume_step}', v),
    `t --in '/tmp/my dir/it'\\''s.ckpt' --out '/tmp/out.ckpt' --from 12`,
  );
  assert.equal(
    expandCommand('t --in {checkpoint_in} --out {checkpoint_out}', resolveValues({ batch: 8 })),
    "t --in '' --out ''",
  );
  const env = trialEnv(v, 'm');
  assert.equal(env.BATCHLAB_CHECKPOINT_IN, "/tmp/my dir/it's.ckpt");
  assert.equal(env.BATCHLAB_CHECKPOINT_OUT, '/tmp/out.ckpt');
  assert.equal(env.BATCHLAB_RESUME_STEP, '12');
  assert.equal(trialEnv(resolveValues({ batch: 8 }), 'm').BATCHLAB_CHECKPOINT_IN, undefined);
  assert.throws(
    () => expandCommand('t {resume_step}', resolveValues({ batch: 8 })),
    /uses \{resume_step\} but no value/,
  );
  assert.throws(() => resolveValues({ batch: 8, resumeStep: -1 }), /resume step must be an integer >= 0/);
  assert.throws(() => resolveValues({ batch: 8, checkpointOut: '' }), /checkpoint out path must be a non-empty path/);
});

test('a warm command: {lr} and {seed} are filled in; the per-probe values are refused, saying they come from stdin', () => {
  assert.equal(
    expandWarmCommand('python3 w.py --lr {lr} --seed {seed} \\{batch}', { lr: 0.1, seed: 3 }),
    'python3 w.py --lr 0.1 --seed 3 \\{batch}',
  );
  for (const name of ['batch', 'micro_batch', 'accum', 'max_steps'])
    assert.throws(
      () => expandWarmCommand(`python3 w.py --x {${name}}`, {}),
      (e: BatchlabError) =>
        e.code === 'BATCHLAB_BAD_ARGUMENT' &&
        e.message.startsWith(
          `a warm command has no {${name}}: it starts once and reads each probe's batch and steps from stdin`,
        ),
    );
  assert.throws(() => expandWarmCommand('python3 w.py {nope}', {}), /unknown placeholder \{nope\}/);
});
