/**
 * The playground's pure parts, in Node: the string tables, the shareable URL, the toy loss landscape, the
 * chart specs and the verdicts (web/src/playground). The page itself is tested in chromium
 * (test/browser/playground.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeRun } from '../../src/core/summarize-run.js';
import type { StepRecord } from '../../src/core/types.js';
import { colorForBatch } from '../../src/report/palette.js';
import {
  CHART_IDS,
  keptIndices,
  MAX_POINTS,
  playgroundSpecs,
  type RunSeries,
} from '../../web/src/playground/chart-specs.js';
import { claimObservations, type FinishedRun, testEffect } from '../../web/src/playground/evidence.js';
import {
  baseLoss,
  batchGradient,
  escapeCounts,
  sgdPath,
  TOY_SAMPLES,
  toyProblem,
  trainingLoss,
} from '../../web/src/playground/landscape.js';
import {
  DEFAULT_SETTINGS,
  parseSettings,
  readSetting,
  settingsToQuery,
  type PlaygroundSettings,
} from '../../web/src/playground/settings.js';
import { EN, localizeNumber, placeholders, RO, type StringKey, translate } from '../../web/src/playground/strings.js';

describe('playground strings', () => {
  it('English and Romanian have the same keys, the same placeholders per key, and no empty string', () => {
    assert.deepEqual(Object.keys(RO).sort(), Object.keys(EN).sort());
    for (const key of Object.keys(EN) as StringKey[]) {
      assert.deepEqual(placeholders(RO[key]), placeholders(EN[key]), key);
      assert.ok(EN[key].trim().length > 0 && RO[key].trim().length > 0, key);
    }
  });

  it('the Romanian table is Romanian: its long strings differ from the English ones and use diacritics', () => {
    const long = (Object.keys(EN) as StringKey[]).filter((k) => EN[k].length > 40);
    assert.ok(long.length > 30);
    for (const key of long) assert.notEqual(RO[key], EN[key], `${key} is not translated`);
    const withDiacritics = long.filter((k) => /[ăâîșț]/i.test(RO[k]));
    assert.ok(withDiacritics.length > long.length * 0.8, 'long Romanian strings are written with diacritics');
    // comma-below ș and ț, not the cedilla forms ş and ţ
    for (const key of Object.keys(RO) as StringKey[]) assert.doesNotMatch(RO[key], /[şţŞŢ]/, key);
  });

  it('the claims are "the usual advice", never "the seed"', () => {
    for (const key of Object.keys(EN) as StringKey[]) {
      assert.doesNotMatch(EN[key], /\bthe seed\b/i, key);
      if (/advice/i.test(EN[key])) assert.match(RO[key], /sfatul(ui)? obișnuit/i, key);
    }
  });

  it('axis labels fit along a chart (uPlot clips what is longer than about 30 characters)', () => {
    for (const key of (Object.keys(EN) as StringKey[]).filter((k) => k.startsWith('axis.'))) {
      for (const lang of ['en', 'ro'] as const) {
        const label = translate(lang, key, { n: 128 });
        assert.ok(label.length <= 30, `${lang} ${key}: "${label}" has ${label.length} characters`);
      }
    }
  });

  it('fills placeholders and writes numbers with the separators of the language', () => {
    assert.equal(
      translate('en', 'landscape.count', { b: 2, k: 5, n: 20 }),
      'B = 2: left the sharp minimum in 5 of 20 seeds',
    );
    assert.equal(translate('ro', 'run.title', { b: 8 }), 'B = 8');
    assert.equal(localizeNumber('ro', '12,346.5'), '12.346,5');
    assert.equal(localizeNumber('en', '12,346.5'), '12,346.5');
  });
});

describe('playground settings in the URL', () => {
  it('the defaults make an empty query, and a query gives back the settings it was made from', () => {
    assert.equal(settingsToQuery(DEFAULT_SETTINGS), '');
    const s: PlaygroundSettings = {
      ...DEFAULT_SETTINGS,
      lang: 'ro',
      view: 'landscape',
      dataset: 'mnist',
      batchSizes: [16, 64, 256, 1024],
      optimizer: 'momentum',
      lr: 0.05,
      lrRule: 'linear',
      hidden: [64],
      seed: 7,
      backend: 'wasm',
      landscape: { batchSizes: [1, 128], lr: 0.04, steps: 800, seeds: 10 },
    };
    const query = settingsToQuery(s);
    assert.match(query, /b=16,64,256,1024/);
    assert.deepEqual(parseSettings(query), { settings: s, problems: [] });
  });

  it('a bad value falls back to the default and is reported by its key; unknown keys are ignored', () => {
    const { settings, problems } = parseSettings('?b=8&lr=-1&data=cifar&epochs=abc&seed=3&x=1');
    assert.deepEqual(settings.batchSizes, DEFAULT_SETTINGS.batchSizes, 'one batch size is no comparison');
    assert.equal(settings.lr, DEFAULT_SETTINGS.lr);
    assert.equal(settings.dataset, DEFAULT_SETTINGS.dataset);
    assert.equal(settings.seed, 3);
    assert.deepEqual(
      problems.map((p) => p.key),
      ['data', 'b', 'lr', 'epochs'],
    );
  });

  it('form fields read the same way: lists sorted and deduplicated, a decimal comma accepted', () => {
    assert.deepEqual(readSetting('batchSizes', '256, 8, 8'), [8, 256]);
    assert.equal(readSetting('batchSizes', '8, 16, 32, 64, 128'), undefined, 'at most four runs');
    assert.deepEqual(readSetting('hidden', '64, 32'), [64, 32], 'layer widths keep their order');
    assert.equal(readSetting('lr', '0,05'), 0.05);
    assert.equal(readSetting('lr', '0'), undefined);
  });
});

describe('the toy loss landscape', () => {
  const p = toyProblem();

  it('the batch gradient is the gradient of the mean loss (central differences)', () => {
    const all = Array.from({ length: TOY_SAMPLES }, (_, i) => i);
    for (const w of [
      [-0.9, 0.35],
      [0.4, -0.2],
      [1.5, 0.6],
    ] as const) {
      const g = batchGradient(p, w, all);
      const eps = 1e-6;
      const fd = [0, 1].map((k) => {
        const plus = [...w] as [number, number];
        const minus = [...w] as [number, number];
        plus[k] += eps;
        minus[k] -= eps;
        return (trainingLoss(p, ...plus) - trainingLoss(p, ...minus)) / (2 * eps);
      });
      assert.ok(Math.abs(g[0] - fd[0]!) < 1e-5 && Math.abs(g[1] - fd[1]!) < 1e-5, `${g} vs ${fd}`);
    }
  });

  it('has a sharp well much more curved than the wide one', () => {
    const curvature = (c: readonly [number, number]) => {
      const h = 1e-3;
      return (baseLoss(p, c[0] + h, c[1]) - 2 * baseLoss(p, c[0], c[1]) + baseLoss(p, c[0] - h, c[1])) / h ** 2;
    };
    assert.ok(curvature(p.sharp.center) > 20 * curvature(p.wide.center));
  });

  it('a path depends only on its settings and seed', () => {
    const o = { batchSize: 4, lr: 0.06, steps: 200, seed: 3 };
    assert.deepEqual(sgdPath(p, o).points, sgdPath(p, o).points);
    assert.notDeepEqual(sgdPath(p, o).points, sgdPath(p, { ...o, seed: 4 }).points);
  });

  it('with the page defaults, B = 1 leaves the sharp minimum in most seeds, B = 2 in some, B = 64 in none', () => {
    const counts = escapeCounts(p, DEFAULT_SETTINGS.landscape);
    const [b1, b2, b64] = counts.map((c) => c.escaped);
    assert.deepEqual(
      counts.map((c) => c.batchSize),
      [1, 2, 64],
    );
    assert.ok(b1! >= 16, `B = 1 escaped in ${b1} of 20`);
    assert.ok(b2! > 0 && b2! < 20, `B = 2 escaped in ${b2} of 20: the page shows seeds where it does not happen`);
    assert.equal(b64, 0);
    // full-batch descent from the start settles in the sharp well: the large batch is not merely lost
    assert.equal(sgdPath(p, { batchSize: TOY_SAMPLES, lr: 0.06, steps: 500, seed: 1 }).ending, 'sharp');
  });
});

/** A run's steps: loss falling with noise that shrinks with B, constant step time, B_simple measurable. */
function fakeSteps(batchSize: number, count: number): StepRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const noisy = i % 4 === 3;
    const wobble = ((i * 7919) % 13) / 13 - 0.5;
    return {
      step: i + 1,
      samples: (i + 1) * batchSize,
      loss: 1 / (1 + i / 50) + wobble / Math.sqrt(batchSize),
      lr: 0.01,
      stepMs: 1 + batchSize / 100 + (i % 5) * 0.01,
      batchSize,
      microBatchSize: noisy ? batchSize / 2 : batchSize,
      accumSteps: noisy ? 2 : 1,
      gradSqNorm: 1 + 10 / batchSize,
      microGradSqNorm: noisy ? 1 + 20 / batchSize : 1 + 10 / batchSize,
      peakBytes: 1000 + 40 * batchSize,
    };
  });
}

function finishedRun(batchSize: number, steps: StepRecord[], testAccuracy: number): FinishedRun {
  const summary = summarizeRun(
    {
      status: 'done',
      steps,
      evals: [],
      final: { train: { loss: 0.3, accuracy: 0.9 }, test: { loss: 0.4, accuracy: testAccuracy } },
      trainMs: steps.reduce((a, s) => a + s.stepMs, 0),
      wallMs: 0,
      samples: steps.at(-1)!.samples,
      peakBytes: steps.reduce((m, s) => Math.max(m, s.peakBytes), 0),
      distanceFromInit: 1,
    },
    { batchSize, microBatchSize: batchSize, accumSteps: 1, seed: 1, lr: 0.01, backend: 'cpu' },
  );
  return { summary, steps, heldOutSamples: 512, trainEvalSamples: 512 };
}

describe('playground verdicts (core/trend.ts on the runs just trained)', () => {
  const small = finishedRun(8, fakeSteps(8, 400), 0.85);
  const large = finishedRun(256, fakeSteps(256, 40), 0.84);

  it('memory is counted exactly: growing with B agrees with the usual advice, shrinking contradicts it', () => {
    assert.equal(testEffect('memory', [small, large])[0]!.result!.verdict, 'agrees');
    const shrinking = { ...large, summary: { ...large.summary, peakBytes: small.summary.peakBytes / 2 } };
    assert.equal(testEffect('memory', [small, shrinking])[0]!.result!.verdict, 'contradicts');
  });

  it('one point of held-out accuracy on 512 samples is within the noise: inconclusive', () => {
    const [accuracy] = testEffect('generalization', [small, large]);
    assert.equal(accuracy!.claim, 'held-out-accuracy');
    assert.equal(accuracy!.result!.verdict, 'inconclusive');
  });

  it('every claim of a panel gets its own test, with the runs sampling error as the noise', () => {
    const claims = testEffect('stability', [small, large]);
    assert.deepEqual(
      claims.map((c) => c.claim),
      ['loss-noise', 'gradient-noise'],
    );
    const observations = claimObservations('loss-noise', [small, large])!;
    assert.ok(observations.every((o) => o.samplingVariance !== undefined && o.samplingVariance > 0));
    assert.equal(claimObservations('memory', [small]), undefined, 'one run is no trend');
  });
});

describe('playground chart specs', () => {
  const runs: RunSeries[] = [8, 256].map((b) => {
    const steps = fakeSteps(b, b === 8 ? 4000 : 100);
    let ms = 0;
    return {
      config: { batchSize: b },
      steps,
      trainMsAt: steps.map((s) => (ms += s.stepMs)),
      evals: [{ step: 0, samples: 0, split: 'test' as const, loss: 1, accuracy: 0.3 }],
      noise: [{ step: 4, bSimple: 12 }],
    };
  });
  const specs = playgroundSpecs(runs, (key, params) => translate('en', key, params));

  it('draws seven charts with axis labels, one series per run in the colour of its batch size', () => {
    assert.deepEqual(
      specs.map((s) => s.id),
      [...CHART_IDS],
    );
    for (const s of specs) {
      assert.ok(s.xLabel.length > 3 && s.yLabel.length > 3, s.id);
      assert.deepEqual(
        s.series.map((x) => [x.batchSize, x.color]),
        [
          [8, colorForBatch(8)],
          [256, colorForBatch(256)],
        ],
      );
    }
    assert.match(specs.find((s) => s.id === 'loss-time')!.xLabel, /\(s\)/, 'time in seconds');
  });

  it('thins long series to MAX_POINTS, keeping the last step', () => {
    const idx = keptIndices(4000);
    assert.ok(idx.length <= MAX_POINTS + 1);
    assert.equal(idx.at(-1), 3999);
    const lossSteps = specs.find((s) => s.id === 'loss-steps')!.series[0]!;
    assert.equal(lossSteps.xs.at(-1), 4000);
  });

  it('the smoothed loss averages the same number of samples at every batch size', () => {
    const bySamples = specs.find((s) => s.id === 'loss-samples')!;
    const raw = specs.find((s) => s.id === 'loss-steps')!;
    // B = 256 averages one step (>= 128 samples): raw; B = 8 averages 16 steps: smoother than raw
    assert.deepEqual(bySamples.series[1]!.ys, raw.series[1]!.ys);
    const spread = (ys: readonly (number | null | undefined)[]) => {
      const v = ys.slice(200, 400) as number[];
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return v.reduce((a, b) => a + (b - m) ** 2, 0);
    };
    assert.ok(spread(bySamples.series[0]!.ys) < spread(raw.series[0]!.ys) / 4);
  });
});
