/** Property tests of the data file parsers: CSV, IDX, CIFAR-10 binary, a model.json and its shard paths. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import fc from 'fast-check';
import { CIFAR_RECORD_BYTES, parseCifarBatch } from '../../src/data/cifar.js';
import { csvDataset } from '../../src/data/csv.js';
import { decodeIdxPair } from '../../src/data/idx-dataset.js';
import { parseIdx } from '../../src/data/idx.js';
import { loadDataset } from '../../src/data/registry.js';
import type { Dataset, Split } from '../../src/data/types.js';
import { MAX_CLASSES } from '../../src/data/validate.js';
import { parseModelJson, resolveShardPath } from '../../src/models/file-model.js';
import { checkParser, nastyString } from './property.js';

const TMP = mkdtempSync(join(tmpdir(), 'batchlab-property-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** The checks a dataset must pass to be trained on, written independently of the loaders. */
function assertValidSplit(
  split: Split,
  ds: Pick<Dataset, 'task' | 'numClasses' | 'targetDim'>,
  features: number,
): void {
  assert.equal(split.x.length, split.count * features);
  for (const v of split.x) assert.ok(Number.isFinite(v), `input ${v}`);
  if (ds.task === 'classification') {
    assert.ok(split.y instanceof Int32Array);
    assert.equal(split.y.length, split.count);
    for (const c of split.y) assert.ok(c >= 0 && c < ds.numClasses, `class ${c} of ${ds.numClasses}`);
  } else {
    assert.ok(split.y instanceof Float32Array);
    assert.equal(split.y.length, split.count * ds.targetDim);
    for (const v of split.y) assert.ok(Number.isFinite(v), `target ${v}`);
  }
}

function assertValidDataset(ds: Dataset): void {
  const features = product(ds.inputShape);
  assert.ok(features >= 1 && ds.inputShape.every((d) => Number.isInteger(d) && d >= 1), `shape ${ds.inputShape}`);
  assert.ok(ds.train.count >= 1, 'at least one training sample');
  if (ds.task === 'classification') assert.ok(ds.numClasses >= 1 && ds.numClasses <= MAX_CLASSES);
  else assert.ok(ds.targetDim >= 1);
  assertValidSplit(ds.train, ds, features);
  assertValidSplit(ds.test, ds, features);
}

/** Deterministic filler bytes (an LCG), so big buffers cost no generator work. */
function filler(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

// ---- CSV --------------------------------------------------------------------------------------------

const cleanFeature = fc.oneof(
  fc.integer({ min: -9, max: 99 }).map(String),
  fc.double({ noNaN: true, min: -1e3, max: 1e3 }).map((v) => v.toPrecision(4)),
);
const featureCell = fc.oneof(
  { weight: 14, arbitrary: cleanFeature },
  { weight: 1, arbitrary: fc.constantFrom('', 'cat', '"7"', ' 3 ', '1e39', 'NaN', '-0', '0x1f', 'Infinity') },
  { weight: 1, arbitrary: nastyString(5) },
);
const labelCell = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 4 }).map(String) },
  { weight: 3, arbitrary: fc.constantFrom('cat', 'dog', 'bird') },
  { weight: 2, arbitrary: fc.double({ noNaN: true, min: -5, max: 5 }).map((v) => v.toFixed(2)) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '1e5', '65535', '2147483648', '1.5', '') },
  { weight: 1, arbitrary: nastyString(5) },
);

/** CSV text: mostly rows of number cells with a label cell last (sometimes ragged or with a header), some junk. */
const csvText = fc.oneof(
  { weight: 1, arbitrary: nastyString(60) },
  {
    weight: 6,
    arbitrary: fc
      .record({
        width: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 2, max: 5 }) }, fc.constant(1)),
        rows: fc.integer({ min: 0, max: 14 }),
        header: fc.boolean(),
        eol: fc.constantFrom('\n', '\r\n'),
        ragged: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, fc.constant(true)),
        clean: fc.boolean(),
      })
      .chain((r) =>
        fc
          .array(
            fc.tuple(
              fc.array(r.clean ? cleanFeature : featureCell, {
                minLength: r.width - 1,
                maxLength: r.ragged ? r.width : r.width - 1,
              }),
              labelCell,
            ),
            { minLength: r.rows, maxLength: r.rows },
          )
          .map((rows) => {
            const head = r.header
              ? [Array.from({ length: r.width }, (_, i) => (i === r.width - 1 ? 'label' : `f${i}`))]
              : [];
            return [...head, ...rows.map(([features, label]) => [...features, label])]
              .map((cells) => cells.join(','))
              .join(r.eol);
          }),
      ),
  },
);

// ---- IDX --------------------------------------------------------------------------------------------

const IDX_SIZES: Record<number, number> = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 };

/** The bytes of an IDX file: header (magic byte 0 may be wrong), dims, then prod(dims) elements + delta bytes of filler. */
function idxBytes(o: { type: number; dims: number[]; delta: number; magic0: number; fill: number }): Uint8Array {
  const count = product(o.dims);
  const exact = Number.isSafeInteger(count) && count < 4096 ? count * (IDX_SIZES[o.type] ?? 1) : 16;
  const dataBytes = Math.max(0, exact + o.delta);
  const out = new Uint8Array(4 + 4 * o.dims.length + dataBytes);
  const view = new DataView(out.buffer);
  out.set([o.magic0, 0, o.type, o.dims.length]);
  o.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(filler(dataBytes, o.fill), 4 + 4 * o.dims.length);
  return out;
}

const delta = fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, fc.integer({ min: -3, max: 3 }));
const magic0 = fc.oneof({ weight: 15, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 255 }));
const fill = fc.integer({ min: 0, max: 2 ** 31 });

/** IDX files: mostly well-formed headers with a data length that is right or a little off, some junk. */
function idxFile(opts: { types: number[]; dims: fc.Arbitrary<number[]> }): fc.Arbitrary<Uint8Array> {
  const built = fc.record({ type: fc.constantFrom(...opts.types), dims: opts.dims, delta, magic0, fill }).map(idxBytes);
  return fc.oneof({ weight: 6, arbitrary: built }, fc.uint8Array({ maxLength: 40 }));
}

const anyDims = fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(2 ** 32 - 1)), { maxLength: 4 });

/** An images file and a labels file that mostly agree on the sample count. */
const idxPairFiles = fc
  .record({
    count: fc.integer({ min: 0, max: 5 }),
    sample: fc.array(fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 3 }) }, fc.constant(0)), {
      minLength: 1,
      maxLength: 3,
    }),
    imageType: fc.constantFrom(8, 8, 8, 9, 13, 14),
    labelType: fc.constantFrom(8, 8, 8, 12, 13),
    labelCount: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined, freq: 6 }),
    d1: delta,
    d2: delta,
    m1: magic0,
    m2: magic0,
    f1: fill,
    f2: fill,
  })
  .map((o) => [
    idxBytes({ type: o.imageType, dims: [o.count, ...o.sample], delta: o.d1, magic0: o.m1, fill: o.f1 }),
    idxBytes({ type: o.labelType, dims: [o.labelCount ?? o.count], delta: o.d2, magic0: o.m2, fill: o.f2 }),
  ]);

function assertValidPair(pair: ReturnType<typeof decodeIdxPair>): void {
  assert.ok(pair.split.count >= 1);
  assertValidSplit(pair.split, pair, product(pair.inputShape));
}

// ---- CIFAR-10 ---------------------------------------------------------------------------------------

const cifarBytes = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }) },
  {
    weight: 4,
    arbitrary: fc
      .record({
        labels: fc.array(
          fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 9 }) }, fc.integer({ min: 10, max: 255 })),
          {
            maxLength: 3,
          },
        ),
        delta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.constantFrom(-1, 1, -100, 3073)),
        fill: fc.integer({ min: 0, max: 2 ** 31 }),
      })
      .map(({ labels, delta, fill }) => {
        const body = filler(Math.max(0, labels.length * CIFAR_RECORD_BYTES + delta), fill);
        labels.forEach((label, i) => {
          if (i * CIFAR_RECORD_BYTES < body.length) body[i * CIFAR_RECORD_BYTES] = label;
        });
        return body;
      }),
  },
);

// ---- model.json ---------------------------------------------------------------------------------------

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });
const weightSpec = fc.record({
  name: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
  shape: fc.array(
    fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }) }, fc.constantFrom(-1, 1.5, 'x', null)),
    {
      maxLength: 3,
    },
  ),
  dtype: fc.constantFrom('float32', 'int32', 'bool', 'string', 'complex64', 'float128', 7),
});
const manifest = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.array(
      fc.record({
        paths: fc.oneof(
          fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
          fc.string(),
          fc.array(fc.integer(), { maxLength: 1 }),
        ),
        weights: fc.array(weightSpec, { maxLength: 3 }),
      }),
      { maxLength: 2 },
    ),
  },
  fc.constantFrom(null, {}, 'w.bin', [null]),
);
const modelJsonText = fc.oneof(
  fc.json(),
  nastyString(30),
  fc
    .record({
      modelTopology: maybe(
        fc.oneof(
          { weight: 6, arbitrary: fc.constant({ class_name: 'Sequential' }) },
          fc.constantFrom(null, 'Sequential', [1], 0),
        ),
      ),
      weightsManifest: maybe(manifest),
      format: maybe(fc.oneof(fc.constant('layers-model'), fc.integer())),
    })
    .map((o) => JSON.stringify(o)),
);

describe('data file parsers (fast-check, fixed seed)', () => {
  it('CSV: a dataset that can be trained on, or a typed refusal (1500 runs)', (t) => {
    checkParser(t, {
      arbitrary: fc.tuple(
        csvText,
        fc.record({
          task: fc.constantFrom('classification', 'regression') as fc.Arbitrary<'classification' | 'regression'>,
          labelColumn: fc.oneof(
            { weight: 6, arbitrary: fc.constant(undefined) },
            fc.integer({ min: -3, max: 4 }),
            fc.constantFrom('label', 'f0', 'zz'),
          ),
          header: fc.constantFrom(undefined, true, false),
          testFraction: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
          seed: fc.integer({ min: 0, max: 1000 }),
        }),
      ),
      numRuns: 1500,
      parse: ([text, o]) => csvDataset(text, { file: 'data.csv', ...o }),
      valid: (ds) => assertValidDataset(ds),
    });
  });

  it('IDX: a tensor of prod(dims) elements, or a typed refusal (2000 runs)', (t) => {
    checkParser(t, {
      arbitrary: idxFile({ types: [8, 9, 11, 12, 13, 14, 7, 16], dims: anyDims }),
      numRuns: 2000,
      parse: (bytes) => parseIdx(bytes, 'f.idx'),
      valid: (tensor) => {
        assert.ok(tensor.dims.length >= 1);
        assert.equal(tensor.data.length, product(tensor.dims));
      },
    });
  });

  it('IDX images + labels: a pair that can be trained on, or a typed refusal (1500 runs)', (t) => {
    checkParser(t, {
      arbitrary: idxPairFiles,
      numRuns: 1500,
      parse: ([images, labels]) =>
        decodeIdxPair({
          images: parseIdx(images, 'i'),
          imagesFile: 'i',
          labels: parseIdx(labels, 'l'),
          labelsFile: 'l',
        }),
      valid: assertValidPair,
    });
  });

  it('IDX files through loadDataset, split included (200 runs)', (t) => {
    const dir = join(TMP, 'idx');
    mkdirSync(dir);
    checkParser(t, {
      arbitrary: fc.tuple(idxPairFiles, fc.double({ min: 0.05, max: 0.95, noNaN: true })),
      numRuns: 200,
      parse: ([[images, labels], testFraction]) => {
        writeFileSync(join(dir, 'images.idx'), images);
        writeFileSync(join(dir, 'labels.idx'), labels);
        return loadDataset('idx', { file: join(dir, 'images.idx'), labelsFile: join(dir, 'labels.idx'), testFraction });
      },
      valid: assertValidDataset,
    });
  });

  it('CIFAR-10 binary: records of 3073 bytes with labels 0..9, or a typed refusal (600 runs)', (t) => {
    checkParser(t, {
      arbitrary: cifarBytes,
      numRuns: 600,
      parse: (bytes) => parseCifarBatch(bytes, 'data_batch_1.bin'),
      valid: (split, bytes) => {
        assert.ok(split.count >= 1);
        assert.equal(split.count * CIFAR_RECORD_BYTES, bytes.length);
        assertValidSplit(split, { task: 'classification', numClasses: 10, targetDim: 1 }, 3072);
        for (const v of split.x) assert.ok(v >= 0 && v <= 1);
      },
    });
  });

  it('CIFAR-10 files through loadDataset, split included (100 runs)', (t) => {
    const file = join(TMP, 'cifar.bin');
    checkParser(t, {
      arbitrary: fc.tuple(cifarBytes, fc.double({ min: 0.05, max: 0.95, noNaN: true })),
      numRuns: 100,
      parse: ([bytes, testFraction]) => {
        writeFileSync(file, bytes);
        return loadDataset('cifar10', { file, testFraction });
      },
      valid: assertValidDataset,
    });
  });

  it('model.json: a topology object and well-formed weight specs, or a typed refusal (2000 runs)', (t) => {
    const DTYPES = ['float32', 'int32', 'bool', 'string', 'complex64'];
    checkParser(t, {
      arbitrary: modelJsonText,
      numRuns: 2000,
      parse: (text) => parseModelJson(text, 'model.json'),
      valid: (m) => {
        assert.ok(typeof m.modelTopology === 'object' && m.modelTopology !== null && !Array.isArray(m.modelTopology));
        for (const p of m.shardPaths) assert.equal(typeof p, 'string');
        for (const w of m.weightSpecs) {
          assert.equal(typeof w.name, 'string');
          assert.ok(DTYPES.includes(w.dtype), w.dtype);
          for (const d of w.shape) assert.ok(Number.isInteger(d) && d >= 0, `dim ${d}`);
        }
      },
    });
  });

  it('weights shard paths: a file inside the model folder, or a typed refusal (800 runs)', (t) => {
    const dir = join(TMP, 'model');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(TMP, 'secret.bin'), 'secret');
    writeFileSync(join(dir, 'w.bin'), 'w');
    symlinkSync(join(TMP, 'secret.bin'), join(dir, 'out.bin'));
    symlinkSync(join(dir, 'w.bin'), join(dir, 'sub', 'in.bin'));
    symlinkSync(TMP, join(dir, 'up'));
    const modelFile = join(dir, 'model.json');
    const inside = (p: string) =>
      [dir, realpathSync(dir)].some((d) => {
        const rel = relative(d, p);
        return !rel.startsWith('..') && !isAbsolute(rel);
      });
    const segment = fc.constantFrom('..', '.', 'sub', 'w.bin', 'out.bin', 'in.bin', 'up', 'secret.bin', '', 'x\u0000');
    checkParser(t, {
      arbitrary: fc.oneof(
        fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
        fc.constantFrom('/etc/passwd', `${dir}/w.bin`, 'sub\\..\\..\\x'),
        nastyString(12),
      ),
      numRuns: 800,
      parse: (shard) => resolveShardPath(modelFile, shard),
      valid: (path) => assert.ok(inside(path), `${path} is outside ${dir}`),
    });
  });
});
