/**
 * How fast a big report opens: 16 runs x 20,000 steps (8 batch sizes x 2 seeds), written through the
 * Store, rendered by renderReport, opened from file:// in headless Debian chromium. Prints the render
 * time in Node, the file size, and the time from navigation start until every chart has drawn
 * (window.__batchlab.drawnMs, set by web/src/app.ts after uPlot's first draw of the last chart); the goal
 * is under 2 s. Best of 3 page loads, after one warm-up load. Writes bench/results/report.json.
 * Usage: npx tsx bench/report.ts [--runs-steps N]
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { openStore } from '../src/store/index.js';
import { renderReport } from '../src/report/index.js';
import { writeSyntheticSweep } from '../test/report/synthetic.js';

const GOAL_MS = 2000;
const LOADS = 3;

async function main(): Promise<void> {
  const stepsArg = process.argv.indexOf('--runs-steps');
  const stepsPerRun = stepsArg > 0 ? Number(process.argv[stepsArg + 1]) : 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-bench-report-'));
  try {
    const store = openStore(join(dir, 'bench.db'));
    let t = performance.now();
    const { experimentId } = writeSyntheticSweep(store, {
      batchSizes: [16, 32, 64, 128, 256, 512, 1024, 2048],
      seeds: [1, 2],
      stepsPerRun,
      probes: true,
    });
    const writeMs = performance.now() - t;
    t = performance.now();
    const html = renderReport(store, experimentId);
    const renderMs = performance.now() - t;
    store.close();
    const path = join(dir, 'report.html');
    writeFileSync(path, html);
    const openMs = await timeOpen(pathToFileURL(path).href);
    const result = {
      runs: 16,
      stepsPerRun,
      writeStoreMs: Math.round(writeMs),
      renderReportMs: Math.round(renderMs),
      htmlBytes: statSync(path).size,
      openAndDrawMs: Math.round(Math.min(...openMs)),
      allOpenMs: openMs.map(Math.round),
      goalMs: GOAL_MS,
    };
    console.log(
      `store written in ${result.writeStoreMs} ms; renderReport ${result.renderReportMs} ms; HTML ${(result.htmlBytes / 1e6).toFixed(2)} MB`,
    );
    console.log(
      `open + draw all charts in chromium: ${result.openAndDrawMs} ms (best of ${LOADS}: ${result.allOpenMs.join(', ')} ms; goal < ${GOAL_MS} ms) ${result.openAndDrawMs < GOAL_MS ? 'OK' : 'TOO SLOW'}`,
    );
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(new URL('./results/report.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds from navigation start until every chart drew, per load (first load excluded: cold cache). */
async function timeOpen(url: string): Promise<number[]> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const times: number[] = [];
    for (let i = 0; i <= LOADS; i++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(url);
      await page.waitForFunction(
        () => (window as unknown as { __batchlab?: { ready: boolean } }).__batchlab?.ready === true,
        null,
        { timeout: 30_000 },
      );
      const ms = await page.evaluate(
        () => (window as unknown as { __batchlab: { drawnMs: number } }).__batchlab.drawnMs,
      );
      if (i > 0) times.push(ms);
      await page.close();
    }
    return times;
  } finally {
    await browser.close();
  }
}

await main();
