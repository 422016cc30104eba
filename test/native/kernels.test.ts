/**
 * Every kernel batchlab-native overrides, forward and gradient, against tfjs-backend-cpu on seeded
 * random inputs: odd sizes, batch 1, all transpose combinations, 'same'/'valid' padding, strides,
 * every SIMD micro-kernel this CPU supports. Tolerance: see TOLERANCE in helpers.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { compareBackends, skipReason, TOLERANCE, type Spec } from './helpers.js';
import { loadNativeAddon } from '../../src/engine/backends/native-addon.js';

type Case = { name: string; specs: Spec[]; fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

async function check(t: { skip: (m: string) => void }, cases: Case[]): Promise<void> {
  if (skipReason) return t.skip(skipReason);
  for (const c of cases) {
    const err = await compareBackends(c.specs, c.fn);
    assert.ok(err <= TOLERANCE, `${c.name}: scaled error ${err} > ${TOLERANCE}`);
  }
}

// [m, n, k]. n a multiple of every kernel's NR (8, 16, 32) with m <= 128 reads B in place (no packing):
// [16, 256, 784], [40, 64, 50]; [130, 64, 30] is just above that row limit.
const MATMUL_SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [5, 3, 9],
  [17, 33, 65],
  [16, 256, 784],
  [67, 45, 300],
  [9, 100, 1030],
  [40, 64, 50],
  [130, 64, 30],
];

function matmulCases(): Case[] {
  const cases: Case[] = [];
  let seed = 1;
  for (const [m, n, k] of MATMUL_SIZES) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = { shape: ta ? [k, m] : [m, k], seed: seed++ };
        const b = { shape: tb ? [n, k] : [k, n], seed: seed++ };
        cases.push({
          name: `matMul ${m}x${n}x${k} ta=${ta} tb=${tb}`,
          specs: [a, b],
          fn: (x, y) => tf.matMul(x!, y!, ta, tb),
        });
      }
    }
  }
  return cases;
}

test('BatchMatMul: every transpose combination, odd sizes, each SIMD kernel', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const loaded = loadNativeAddon();
  assert.ok(loaded.ok);
  const { addon } = loaded;
  try {
    for (const simd of ['avx512', 'avx2', 'portable']) {
      if (!addon.setSimd(simd)) continue; // not supported by this CPU
      await check(t, matmulCases());
    }
  } finally {
    addon.setSimd('auto');
  }
});

test('BatchMatMul: batched, with batch broadcasting', async (t) => {
  await check(t, [
    {
      name: 'batched 3',
      specs: [
        { shape: [3, 5, 7], seed: 1 },
        { shape: [3, 7, 4], seed: 2 },
      ],
      fn: (a, b) => tf.matMul(a!, b!),
    },
    {
      name: 'batched, B read in place',
      specs: [
        { shape: [3, 20, 50], seed: 11 },
        { shape: [3, 50, 64], seed: 12 },
      ],
      fn: (a, b) => tf.matMul(a!, b!),
    },
    {
      name: 'broadcast b, B read in place',
      specs: [
        { shape: [4, 9, 6], seed: 13 },
        { shape: [1, 6, 32], seed: 14 },
      ],
      fn: (a, b) => tf.matMul(a!, b!),
    },
    {
      name: 'batched 2x2 tb',
      specs: [
        { shape: [2, 2, 33, 17], seed: 3 },
        { shape: [2, 2, 40, 17], seed: 4 },
      ],
      fn: (a, b) => tf.matMul(a!, b!, false, true),
    },
    {
      name: 'broadcast b',
      specs: [
        { shape: [4, 9, 6], seed: 5 },
        { shape: [1, 6, 11], seed: 6 },
      ],
      fn: (a, b) => tf.matMul(a!, b!),
    },
    {
      name: 'broadcast a ta',
      specs: [
        { shape: [1, 6, 9], seed: 7 },
        { shape: [4, 6, 11], seed: 8 },
      ],
      fn: (a, b) => tf.matMul(a!, b!, true, false),
    },
    {
      name: 'general broadcast (cpu fallback)',
      specs: [
        { shape: [2, 1, 3, 4], seed: 9 },
        { shape: [1, 3, 4, 5], seed: 10 },
      ],
      fn: (a, b) => tf.matMul(a!, b!),
    },
  ]);
});

test('_FusedMatMul: bias, relu, transposes; gradients of matMul', async (t) => {
  const cases: Case[] = [];
  for (const activation of ['linear', 'relu'] as const) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      cases.push({
        name: `fused ${activation} ta=${ta} tb=${tb}`,
        specs: [
          { shape: ta ? [70, 13] : [13, 70], seed: 11 },
          { shape: tb ? [37, 70] : [70, 37], seed: 12 },
          { shape: [37], seed: 13 },
        ],
        fn: (a, b, bias) => tf.fused.matMul({ a: a!, b: b!, bias, activation, transposeA: ta, transposeB: tb }),
      });
    }
  }
  cases.push({
    name: 'fused, bias [1, n]',
    specs: [
      { shape: [5, 8], seed: 14 },
      { shape: [8, 6], seed: 15 },
      { shape: [1, 6], seed: 16 },
    ],
    fn: (a, b, bias) => tf.fused.matMul({ a: a!, b: b!, bias, activation: 'relu' }),
  });
  cases.push({
    name: 'fused, elu (cpu fallback)',
    specs: [
      { shape: [5, 8], seed: 17 },
      { shape: [8, 6], seed: 18 },
      { shape: [6], seed: 19 },
    ],
    fn: (a, b, bias) => tf.fused.matMul({ a: a!, b: b!, bias, activation: 'elu' }),
  });
  cases.push({
    name: 'dense layer gradients (relu, bias)',
    specs: [
      { shape: [16, 31], seed: 20 },
      { shape: [31, 9], seed: 21 },
      { shape: [9], seed: 22 },
      { shape: [16, 9], seed: 23 },
    ],
    fn: (x, w, b, dy) => {
      const g = tf.grads((xx, ww, bb) => tf.sum(tf.mul(tf.relu(tf.add(tf.matMul(xx!, ww!), bb!)), dy!)));
      return g([x!, w!, b!]);
    },
  });
  await check(t, cases);
});

interface ConvSpec {
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  co: number;
  stride: number | [number, number];
  pad: 'same' | 'valid';
}

const CONV_SPECS: ConvSpec[] = [
  { n: 1, h: 7, w: 9, c: 1, kh: 3, kw: 3, co: 4, stride: 1, pad: 'same' },
  { n: 3, h: 7, w: 9, c: 3, kh: 3, kw: 3, co: 5, stride: 1, pad: 'valid' },
  { n: 2, h: 9, w: 8, c: 5, kh: 3, kw: 2, co: 33, stride: 2, pad: 'same' },
  { n: 2, h: 9, w: 8, c: 5, kh: 5, kw: 5, co: 7, stride: 2, pad: 'valid' },
  { n: 2, h: 10, w: 11, c: 4, kh: 3, kw: 3, co: 6, stride: [2, 1], pad: 'same' },
  { n: 2, h: 6, w: 6, c: 8, kh: 1, kw: 1, co: 3, stride: 1, pad: 'valid' },
  { n: 4, h: 28, w: 28, c: 1, kh: 3, kw: 3, co: 32, stride: 1, pad: 'same' },
  { n: 3, h: 14, w: 14, c: 32, kh: 3, kw: 3, co: 64, stride: 1, pad: 'same' },
];

function convName(s: ConvSpec): string {
  return `${s.n}x${s.h}x${s.w}x${s.c} k${s.kh}x${s.kw}x${s.co} s${s.stride} ${s.pad}`;
}

test('Conv2D forward and both gradients (Conv2DBackpropInput, Conv2DBackpropFilter)', async (t) => {
  const cases: Case[] = [];
  let seed = 100;
  for (const s of CONV_SPECS) {
    const xs = { shape: [s.n, s.h, s.w, s.c], seed: seed++ };
    const fs = { shape: [s.kh, s.kw, s.c, s.co], seed: seed++ };
    cases.push({
      name: `conv2d ${convName(s)}`,
      specs: [xs, fs],
      fn: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, s.stride, s.pad),
    });
    cases.push({
      name: `conv2d grads ${convName(s)}`,
      specs: [xs, fs],
      fn: (x, f) => {
        // A fixed non-uniform dy: multiply the output by a deterministic pattern before summing.
        const g = tf.grads((xx, ff) => {
          const y = tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, s.stride, s.pad);
          const pattern = tf.sin(tf.reshape(tf.range(0, y.size, 1, 'float32'), y.shape));
          return tf.sum(tf.mul(y, pattern));
        });
        return g([x!, f!]);
      },
    });
  }
  await check(t, cases);
});

test('FusedConv2D (bias + relu), and NCHW falls back to cpu', async (t) => {
  await check(t, [
    {
      name: 'fused conv relu',
      specs: [
        { shape: [2, 9, 7, 3], seed: 1 },
        { shape: [3, 3, 3, 10], seed: 2 },
        { shape: [10], seed: 3 },
      ],
      fn: (x, f, b) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: f as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: b,
          activation: 'relu',
        }),
    },
    {
      name: 'fused conv linear valid stride 2',
      specs: [
        { shape: [1, 9, 7, 3], seed: 4 },
        { shape: [3, 3, 3, 10], seed: 5 },
        { shape: [10], seed: 6 },
      ],
      fn: (x, f, b) =>
        tf.fused.conv2d({ x: x as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 2, pad: 'valid', bias: b }),
    },
  ]);
});

test('MaxPool and MaxPoolGrad, including ties', async (t) => {
  const cases: Case[] = [];
  const pools: [number[], number, number, 'same' | 'valid'][] = [
    [[2, 14, 14, 8], 2, 2, 'valid'],
    [[1, 7, 9, 3], 2, 2, 'valid'],
    [[2, 7, 9, 3], 3, 2, 'same'],
    [[2, 6, 5, 4], 3, 1, 'same'],
    [[3, 28, 28, 32], 2, 2, 'valid'],
    // Tiling windows (the direct-write gradient): partial windows at the end ('same', odd sizes),
    // uncovered last row and column ('valid', odd sizes), 3x3 tiles, more than 512 channels.
    [[2, 7, 9, 3], 2, 2, 'same'],
    [[2, 8, 11, 5], 3, 3, 'valid'],
    [[1, 5, 4, 600], 2, 2, 'valid'],
  ];
  let seed = 200;
  for (const [shape, size, stride, pad] of pools) {
    for (const ties of [false, true]) {
      // With ties: values are rounded to a few levels (many equal maxima, like relu zeros).
      const spec: Spec = { shape, seed: seed++ };
      if (ties)
        spec.values = Float32Array.from(
          tf.util.sizeFromShape(shape) > 0 ? randomInts(tf.util.sizeFromShape(shape), seed) : [],
        );
      cases.push({
        name: `maxPool ${shape} ${size}/${stride} ${pad} ties=${ties}`,
        specs: [spec],
        fn: (x) => tf.maxPool(x as tf.Tensor4D, size, stride, pad),
      });
      cases.push({
        name: `maxPool grad ${shape} ${size}/${stride} ${pad} ties=${ties}`,
        specs: [spec],
        fn: (x) =>
          tf.grad((xx) => {
            const y = tf.maxPool(xx as tf.Tensor4D, size, stride, pad);
            return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size, 1, 'float32'), y.shape))));
          })(x!),
      });
    }
  }
  await check(t, cases);
});

function randomInts(n: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push((s >>> 16) % 3);
  }
  return out;
}

test('Add / Sub / Multiply: same shape, scalars, bias broadcast, general broadcast (fallback)', async (t) => {
  const cases: Case[] = [];
  const shapes: [number[], number[]][] = [
    [
      [7, 13],
      [7, 13],
    ],
    [[], [5, 3]],
    [[5, 3], []],
    [[1], [300, 257]],
    [[4, 5, 6, 33], [33]],
    [[33], [4, 5, 6, 33]],
    [
      [3, 10],
      [1, 10],
    ],
    [
      [3, 10],
      [3, 1],
    ],
    [
      [2, 1, 4],
      [1, 3, 1],
    ],
    [[70000], [70000]],
    [[256, 300], [300]],
    [[0, 4], [4]],
  ];
  let seed = 300;
  for (const [sa, sb] of shapes) {
    for (const [name, op] of [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
    ] as const) {
      cases.push({
        name: `${name} ${sa} ${sb}`,
        specs: [
          { shape: sa, seed: seed++ },
          { shape: sb, seed: seed++ },
        ],
        fn: (a, b) => op(a!, b!),
      });
    }
  }
  await check(t, cases);
});

test('Relu and Step (relu gradient), with NaN and -0', async (t) => {
  const special = new Float32Array([NaN, -0, 0, 1, -1, 3.5, -2.5, Infinity, -Infinity]);
  await check(t, [
    { name: 'relu', specs: [{ shape: [300, 257], seed: 1 }], fn: (x) => tf.relu(x!) },
    { name: 'relu special', specs: [{ shape: [9], seed: 0, values: special }], fn: (x) => tf.relu(x!) },
    { name: 'step', specs: [{ shape: [300, 257], seed: 2 }], fn: (x) => tf.step(x!) },
    { name: 'step alpha special', specs: [{ shape: [9], seed: 0, values: special }], fn: (x) => tf.step(x!, 0.3) },
    {
      name: 'relu grad',
      specs: [
        { shape: [17, 31], seed: 3 },
        { shape: [17, 31], seed: 4 },
      ],
      fn: (x, dy) => tf.grad((xx) => tf.sum(tf.mul(tf.relu(xx), dy!)))(x!),
    },
    {
      name: 'relu grad, large (threaded)',
      specs: [
        { shape: [300, 257], seed: 5 },
        { shape: [300, 257], seed: 6 },
      ],
      fn: (x, dy) => tf.grad((xx) => tf.sum(tf.mul(tf.relu(xx), dy!)))(x!),
    },
    // Every pair of special values in x and dy: the product dy * step(x) keeps -0, inf x 0 = NaN, NaN.
    {
      name: 'relu grad special',
      specs: [
        { shape: [81], seed: 0, values: Float32Array.from({ length: 81 }, (_, i) => special[Math.floor(i / 9)]!) },
        { shape: [81], seed: 0, values: Float32Array.from({ length: 81 }, (_, i) => special[i % 9]!) },
      ],
      fn: (x, dy) => tf.grad((xx) => tf.sum(tf.mul(tf.relu(xx), dy!)))(x!),
    },
  ]);
});

test('the relu gradient runs as one fused kernel on batchlab-native (no Step, no Multiply)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  await tf.setBackend('batchlab-native');
  const x = tf.tensor1d([1, -2, 3, 0]);
  const dy = tf.tensor1d([5, 6, 7, 8]);
  let g: tf.Tensor | undefined;
  const profile = await tf.profile(() => {
    g = tf.grad((xx) => tf.relu(xx))(x, dy);
  });
  const names = profile.kernels.map((k) => k.name);
  assert.ok(names.includes('BatchlabReluGrad'), names.join(','));
  assert.ok(!names.includes('Step') && !names.includes('Multiply'), names.join(','));
  assert.deepEqual(Array.from(g!.dataSync()), [5, 0, 7, 0]);
  tf.dispose([x, dy, g!]);
});

test('Sum over leading axes (bias grads), trailing axes, middle axes (fallback), keepDims', async (t) => {
  const cases: Case[] = [];
  const sums: [number[], number | number[] | undefined, boolean][] = [
    [[256, 300], 0, false],
    [[5, 7, 9, 33], [0, 1, 2], false],
    [[5, 7, 9, 33], [0, 1, 2], true],
    [[16, 10], -1, false],
    [[16, 10], 1, true],
    [[4, 6, 8], [1, 2], false],
    [[4, 6, 8], 1, false],
    [[3000, 40], 0, false],
    [[1, 1], 0, false],
    [[7, 5], undefined, false],
    [[0, 5], 0, false],
  ];
  let seed = 400;
  for (const [shape, axis, keepDims] of sums) {
    cases.push({
      name: `sum ${shape} axis=${axis} keep=${keepDims}`,
      specs: [{ shape, seed: seed++ }],
      fn: (x) => tf.sum(x!, axis, keepDims),
    });
  }
  await check(t, cases);
});

test('float32 tensors stored as Uint8Array or Int32Array (a cpu-backend Cast shares them) fall back correctly', async (t) => {
  if (skipReason) return t.skip(skipReason);
  await check(t, [
    {
      name: 'sum(cast(bool))',
      specs: [
        { shape: [7, 5], seed: 91 },
        { shape: [7, 5], seed: 92 },
      ],
      fn: (a, b) => tf.sum(tf.cast(tf.greater(a!, b!), 'float32'), 0),
    },
    {
      name: 'add(cast(int32))',
      specs: [{ shape: [4, 3], seed: 93 }],
      fn: (a) => tf.add(tf.cast(tf.cast(tf.mul(a!, 10), 'int32'), 'float32'), a!),
    },
    {
      name: 'matMul(cast(bool))',
      specs: [
        { shape: [3, 4], seed: 94 },
        { shape: [4, 2], seed: 95 },
      ],
      fn: (a, b) => tf.matMul(tf.cast(tf.greater(a!, 0), 'float32'), b!),
    },
  ]);
});

test('GatherV2 along axis 0 (batch rows): float32 and int32 sources, repeated indices, and its gradient', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const idx = [4, 0, 4, 2, 9];
  await check(t, [
    {
      name: 'gather rows 3-D',
      specs: [{ shape: [10, 3, 5], seed: 101 }],
      fn: (x) => tf.gather(x!, tf.tensor1d(idx, 'int32')),
    },
    {
      name: 'gather int32 rows',
      specs: [{ shape: [10, 4], seed: 102 }],
      fn: (x) => tf.cast(tf.gather(tf.cast(tf.mul(x!, 100), 'int32'), tf.tensor1d(idx, 'int32')), 'float32'),
    },
    {
      name: 'gather axis 1 (cpu fallback)',
      specs: [{ shape: [3, 10], seed: 103 }],
      fn: (x) => tf.gather(x!, tf.tensor1d(idx, 'int32'), 1),
    },
    {
      name: 'gather gradient',
      specs: [{ shape: [10, 6], seed: 104 }],
      fn: (x) => tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.gather(v, tf.tensor1d(idx, 'int32')))))(x!),
    },
  ]);
});

test('Pack (tf.stack) on axis 0, and other axes through the cpu kernel', async (t) => {
  const three = (shape: number[], seed: number): Spec[] => [0, 1, 2].map((i) => ({ shape, seed: seed + i }));
  await check(t, [
    { name: 'stack scalars', specs: three([], 700), fn: (a, b, c) => tf.stack([a!, b!, c!]) },
    { name: 'stack matrices', specs: three([3, 4], 710), fn: (a, b, c) => tf.stack([a!, b!, c!]) },
    { name: 'stack large (pooled output)', specs: three([130, 257], 720), fn: (a, b, c) => tf.stack([a!, b!, c!]) },
    { name: 'stack axis 1 (cpu)', specs: three([3, 4], 730), fn: (a, b, c) => tf.stack([a!, b!, c!], 1) },
    { name: 'stack one', specs: three([5], 740).slice(0, 1), fn: (a) => tf.stack([a!]) },
  ]);
});
