/**
 * How fast the playground (dist/playground, from `npm run build`) opens and trains in headless Debian
 * chromium, opened from file://: the time from navigation start until the page is drawn with its backend
 * chosen (window.__batchlab.readyMs) over LOADS fresh loads, then the default comparison (spiral, B = 8 and
 * B = 256, 40 epochs) and an MNIST one (B = 16 and B = 256, 3 epochs) trained to the end: wall time, and per
 * run the samples/s the page reports (B / median step time, warm-up excluded) and the sum of its step times,
 * and the steps/s of each: 1000 / median step ms (= samples/s / B) and steps / the sum of step times.
 * Writes bench/results/playground.json.
 * Usage: npx tsx bench/playground.ts   (or npm run bench:playground)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { launch } from '../test/browser/helpers.js';

const LOADS = 5;
const INDEX = pathToFileURL(fileURLToPath(new URL('../dist/playground/index.html', import.meta.url))).href;
const TRAININGS = [
  { name: 'spiral, B = 8 and 256, 40 epochs (the defaults)', query: '' },
  { name: 'MNIST subset, B = 16 and 256, 3 epochs', query: '?data=mnist&b=16,256&epochs=3' },
];

interface PublishedRun {
  batchSize: number;
  samplesPerSec: number;
  steps: number;
  samples: number;
  trainMs: number;
  finalTrainLoss: number;
  finalTestAccuracy: number;
}

async function readyMs(browser: Browser): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  try {
    const page = await context.newPage();
    await page.goto(INDEX);
    await page.waitForFunction(() => (window as unknown as { __batchlab?: { ready: boolean } }).__batchlab?.ready);
    return await page.evaluate(() => (window as unknown as { __batchlab: { readyMs: number } }).__batchlab.readyMs);
  } finally {
    await context.close();
  }
}

async function train(browser: Browser, query: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  try {
    const page = await context.newPage();
    await page.goto(INDEX + query);
    await page.waitForFunction(() => (window as unknown as { __batchlab?: { ready: boolean } }).__batchlab?.ready);
    const t0 = Date.now();
    await page.click('#pg-train');
    await page.waitForFunction(
      () => (window as unknown as { __batchlab: { phase: string } }).__batchlab.phase === 'done',
      null,
      { timeout: 1_800_000, polling: 500 },
    );
    const wallMs = Date.now() - t0;
    const state = await page.evaluate(
      () => (window as unknown as { __batchlab: { backend: { name: string }; runs: PublishedRun[] } }).__batchlab,
    );
    return {
      backend: state.backend.name,
      wallMs,
      runs: state.runs.map((r) => ({
        batchSize: r.batchSize,
        samplesPerSec: Math.round(r.samplesPerSec),
        meanSamplesPerSec: Math.round((r.samples * 1000) / r.trainMs),
        stepsPerSec: Number((r.samplesPerSec / r.batchSize).toFixed(1)),
        meanStepsPerSec: Number(((r.steps * 1000) / r.trainMs).toFixed(1)),
        trainMs: Math.round(r.trainMs),
        finalTrainLoss: Number(r.finalTrainLoss.toFixed(3)),
        finalTestAccuracy: r.finalTestAccuracy,
      })),
    };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const browser = await launch();
  try {
    const loadAverageBefore = loadavg()[0]!;
    const loads: number[] = [];
    for (let i = 0; i < LOADS; i++) loads.push(Math.round(await readyMs(browser)));
    const sorted = [...loads].sort((a, b) => a - b);
    console.log(`ready (drawn, backend chosen): median ${sorted[Math.floor(LOADS / 2)]} ms of ${loads.join(', ')} ms`);
    const trainings = [];
    for (const t of TRAININGS) {
      const result = await train(browser, t.query);
      trainings.push({ ...t, ...result });
      console.log(`${t.name} on ${result.backend}: ${(result.wallMs / 1000).toFixed(1)} s`);
      for (const r of result.runs) {
        console.log(
          `  B = ${r.batchSize}: ${r.stepsPerSec} steps/s and ${r.samplesPerSec} samples/s (median step), ${r.meanStepsPerSec} steps/s and ${r.meanSamplesPerSec} samples/s (all steps), loss ${r.finalTrainLoss}, held-out accuracy ${(r.finalTestAccuracy * 100).toFixed(1)}%`,
        );
      }
    }
    const loadAverage = [loadAverageBefore, loadavg()[0]!].map((x) => Number(x.toFixed(1)));
    console.log(`load average (1 min) before and after: ${loadAverage.join(', ')}`);
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(
      new URL('./results/playground.json', import.meta.url),
      `${JSON.stringify({ readyMs: loads, trainings, loadAverage }, null, 2)}\n`,
    );
  } finally {
    await browser.close();
  }
}

await main();
