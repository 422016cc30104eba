/**
 * A real page of another site, in chromium, against `batchlab serve` (issue 12): `evil.test` is mapped to
 * 127.0.0.1 by --host-resolver-rules and served by a second tiny HTTP server of this test.
 * - Cross-origin: the page at http://evil.test:Q asks http://127.0.0.1:P (and localhost:P) for the API and
 *   the stream. The browser withholds the answers (no CORS headers) and the server refuses them (403).
 * - DNS rebinding: the attacker's page is loaded as http://evil.test:P, the dashboard's own port (as if
 *   evil.test had first resolved to the attacker, then to 127.0.0.1): its requests are same-origin to the
 *   browser, so only the server's Host check stands between them and the data. They get 421. Chromium's
 *   Private Network Access would block these requests on its own (a page from a "public" origin asking a
 *   loopback address); it is switched off here, as in browsers without it, so the test sees the server.
 * A secret in an experiment's settings (as a --cmd template might hold) must never reach the page; the same
 * request from the dashboard's own page does get it, so the test can see a leak.
 * And the token flow: a page opened with ?token= works through its cookie; without it, 401.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { openStore, type Store } from '../../src/store/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { lcg, syntheticSteps, writeSyntheticSweep, type SyntheticSweep } from '../report/synthetic.js';
import { launch, publishedCharts, skipReason, waitReady, watchPage } from './helpers.js';

const skip = skipReason();
if (skip) console.log(`# skipping dashboard security browser tests: ${skip}`);

const SECRET = 'SECRET-wandb-key-7f3a9c';
/** Chromium's Private Network Access checks (see the header comment). */
const PNA_FEATURES = [
  'BlockInsecurePrivateNetworkRequests',
  'PrivateNetworkAccessSendPreflights',
  'PrivateNetworkAccessRespectPreflightResults',
  'LocalNetworkAccessChecks',
].join(',');
const TOKEN = 'browser-test-token-0123456789';
/**
 * The attacker's page: its script fetches `urls` (CORS and no-cors, with credentials) and opens
 * EventSources on `streams`, and reports what it could read.
 */
const ATTACK_PAGE = `<!doctype html><title>cute cats</title><h1>cute cats</h1>
<script>
async function tryFetch(url, mode) {
  try {
    const res = await fetch(url, { mode, credentials: 'include' });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { error: String(err) };
  }
}
function tryStream(url) {
  return new Promise((resolve) => {
    const got = [];
    const source = new EventSource(url, { withCredentials: true });
    for (const name of ['steps', 'changed', 'message']) source.addEventListener(name, (e) => got.push(String(e.data)));
    const done = () => { source.close(); resolve(got); };
    source.onerror = done;
    setTimeout(done, 3000);
  });
}
window.attack = async (urls, streams) => {
  const fetches = [];
  for (const url of urls) fetches.push(await tryFetch(url, 'cors'), await tryFetch(url, 'no-cors'));
  const events = (await Promise.all(streams.map(tryStream))).flat();
  return { fetches, events };
};
</script>`;

/** What the attacker's script got from one request: a status and body it could read, or the error it saw. */
interface Attempt {
  status?: number;
  body?: string;
  error?: string;
}

/** Runs the attacker page's script. */
function attack(page: Page, urls: string[], streams: string[]): Promise<{ fetches: Attempt[]; events: string[] }> {
  type Attack = (u: string[], s: string[]) => Promise<{ fetches: Attempt[]; events: string[] }>;
  return page.evaluate(([u, s]) => (window as unknown as { attack: Attack }).attack(u, s), [urls, streams] as const);
}

describe('another site cannot read the dashboard (chromium)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-security-'));
  const dbPath = join(dir, 'secure.db');
  const logged: string[] = [];
  let writer: Store;
  let sweep: SyntheticSweep;
  let server: RunningServer;
  let port: number;
  let attacker: Server;
  let attackerPort: number;
  let browser: Browser;

  before(async () => {
    writer = openStore(dbPath);
    sweep = writeSyntheticSweep(writer, { batchSizes: [16, 64], stepsPerRun: 200, runningSteps: 50 });
    writer.createExperiment({ kind: 'sweep', settings: { cmd: `python train.py --api-key ${SECRET}` }, env: {} });
    server = await startServer({ dbPath, port: 0, log: (l) => logged.push(l) });
    port = Number(new URL(server.url).port);
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(ATTACK_PAGE);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
    attackerPort = (attacker.address() as AddressInfo).port;
    browser = await launch(['--host-resolver-rules=MAP evil.test 127.0.0.1', `--disable-features=${PNA_FEATURES}`]);
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => attacker?.close(r));
    await server?.close();
    writer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the dashboard itself reads the secret (so a leak would show)', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    const body = await page.evaluate(() => fetch('/api/experiments').then((r) => r.text()));
    assert.ok(body.includes(SECRET));
    await page.close();
  });

  it('a page on another origin reads neither the API nor the stream, and the server refuses them', async () => {
    const page = await browser.newPage();
    await page.goto(`http://evil.test:${attackerPort}/`);
    assert.equal(await page.title(), 'cute cats');
    const targets = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
    const got = await attack(
      page,
      targets.flatMap((t) => [`${t}/api/experiments`, `${t}/api/experiments/latest`]),
      targets.map((t) => `${t}/api/experiments/${sweep.experimentId}/events?cursor=`),
    );
    for (const f of got.fetches) {
      assert.ok(!f.body?.includes(SECRET), JSON.stringify(f));
      assert.ok(f.error !== undefined || (f.status === 0 && f.body === ''), `unreadable: ${JSON.stringify(f)}`);
    }
    assert.deepEqual(got.events, []);
    assert.ok(
      logged.some((l) => /403 GET \/api\/experiments: Sec-Fetch-Site is "cross-site"/.test(l)),
      logged.join('\n'),
    );
    assert.ok(
      logged.some((l) => /403 GET \/api\/experiments\/\d+\/events: /.test(l)),
      'the stream was refused too',
    );
    await page.close();
  });

  it('a DNS-rebinding page on the dashboard port gets 421 for the API, the stream and the report', async () => {
    const page = await browser.newPage();
    const origin = `http://evil.test:${port}`;
    // the attacker's first DNS answer: its own server delivers the page for this origin
    await page.route(`${origin}/`, async (route) =>
      route.fulfill({ response: await route.fetch({ url: `http://127.0.0.1:${attackerPort}/` }) }),
    );
    await page.goto(`${origin}/`);
    assert.equal(await page.title(), 'cute cats');
    const got = await attack(
      page,
      ['/api/experiments', `/api/experiments/${sweep.experimentId}`, `/experiments/${sweep.experimentId}/report.html`],
      [`/api/experiments/${sweep.experimentId}/events?cursor=`],
    );
    const readable = got.fetches.filter((f) => f.status !== undefined && f.status !== 0);
    assert.ok(
      readable.length >= 3,
      `same-origin to the browser, the page reads status and body: ${JSON.stringify(got)}`,
    );
    for (const f of readable) {
      assert.equal(f.status, 421, JSON.stringify(f));
      assert.equal(JSON.parse(f.body!).error.code, 'BATCHLAB_BAD_HOST');
    }
    for (const f of got.fetches) assert.ok(!f.body?.includes(SECRET) && !f.body?.includes('"runCount"'));
    assert.deepEqual(got.events, []);
    await page.close();
  });

  it('with a token: the URL with ?token= opens the dashboard, live, through its cookie; without it, 401', async () => {
    const guarded = await startServer({ dbPath, port: 0, token: TOKEN, log: () => {} });
    try {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      const seen = watchPage(page);
      await page.goto(`${guarded.url}/?token=${TOKEN}`);
      assert.equal(page.url(), `${guarded.url}/`, 'the token left the address bar');
      await page.waitForSelector(`#experiments tr[data-experiment-id="${sweep.experimentId}"]`);
      assert.equal(await page.evaluate(() => document.cookie), '', 'the cookie is HttpOnly');
      await page.goto(`${guarded.url}/experiments/${sweep.experimentId}`);
      await waitReady(page);
      const running = sweep.runningRun!;
      const last = writer.stepsOf(running.id).at(-1)!.step;
      writer.appendSteps(running.id, syntheticSteps(64, last + 1, 5, lcg(5)));
      await page.waitForFunction(
        ([id, step]) => {
          const charts = (
            window as unknown as {
              __batchlab: { charts: { id: string; series: { runId?: number; lastX: number | null }[] }[] };
            }
          ).__batchlab.charts;
          return charts.find((c) => c.id === 'loss-steps')?.series.find((s) => s.runId === id)?.lastX === step;
        },
        [running.id, last + 5],
        { timeout: 10_000 },
      );
      assert.ok((await publishedCharts(page)).length > 0);
      assert.deepEqual(seen.errors, []);
      await context.close();
      const stranger = await browser.newPage();
      const res = await stranger.goto(`${guarded.url}/`);
      assert.equal(res?.status(), 401);
      await stranger.close();
    } finally {
      await guarded.close();
    }
  });
});
