/**
 * Who may read `batchlab serve` (src/server/guard.ts, hub.ts): Host names, same-origin API, tokens, the cap
 * on event streams, one store poll per tick for any number of streams, and one-line logs of expected
 * conditions. The real-browser attacks (DNS rebinding, a cross-origin page) are in test/browser/security.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import {
  allowedHostnames,
  isLoopbackHost,
  parseHostHeader,
  POLL_INTERVAL_MS,
  serverToken,
  startServer,
  STREAM_RETRY_AFTER_S,
  tokenCookieName,
  type RunningServer,
  type Ticker,
} from '../../src/server/index.js';
import { serveCommand } from '../../src/cli/commands/serve.js';
import { get, openStream, until } from './http.js';
import { lcg, syntheticSteps, writeSyntheticSweep, type SyntheticSweep } from './synthetic.js';

const TOKEN = 'correct-horse-battery-staple-42';

/** A ticker the test drives: `tick(ms)` runs every callback registered with that period once. */
function manualTicker(): Ticker & { tick(ms: number): void; active(): number } {
  const timers = new Set<{ ms: number; fn: () => void }>();
  return {
    every(ms, fn) {
      const t = { ms, fn };
      timers.add(t);
      return () => timers.delete(t);
    },
    tick(ms) {
      for (const t of [...timers]) if (t.ms === ms) t.fn();
    },
    active: () => timers.size,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'batchlab-serve-security-'));
const dbPath = join(dir, 'serve.db');
let writer: Store;
let sweep: SyntheticSweep;
let server: RunningServer;
let port: number;
const logged: string[] = [];

before(async () => {
  writer = openStore(dbPath);
  sweep = writeSyntheticSweep(writer, { batchSizes: [16, 64], stepsPerRun: 100, runningSteps: 50 });
  server = await startServer({ dbPath, port: 0, log: (line) => logged.push(line) });
  port = Number(new URL(server.url).port);
});
after(async () => {
  await server.close();
  writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Host header', () => {
  it('answers the loopback names with the port', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      assert.equal((await get(server.url, '/api/experiments', { host })).status, 200, host);
    }
  });

  it('refuses any other name, or the wrong port, with 421 before any route runs', async () => {
    const cases = [
      `evil.test:${port}`,
      `127.0.0.1.evil.test:${port}`,
      `localhost:${port + 1}`,
      'localhost',
      `192.168.1.7:${port}`,
      `localhost:${port}@evil.test`,
    ];
    for (const host of cases) {
      for (const [path, method] of [
        ['/api/experiments', 'GET'],
        [`/api/experiments/${sweep.experimentId}/events`, 'GET'],
        ['/api/experiments/999', 'GET'], // would be a 404 if a route ran
        ['/', 'GET'],
        ['/static/dashboard.js', 'GET'],
        ['/api/experiments', 'POST'], // would be a 405
      ]) {
        const res = await get(server.url, path!, { host }, method);
        assert.equal(res.status, 421, `${method} ${path} with Host ${host}`);
        assert.equal(JSON.parse(res.body).error.code, 'BATCHLAB_BAD_HOST');
        assert.doesNotMatch(res.body, /sweep|settings|runCount/, 'no data in the refusal');
      }
    }
    assert.ok(logged.some((l) => /421 GET \/api\/experiments: Host "evil\.test:\d+" is not this dashboard/.test(l)));
  });

  it('knows which names a bind address adds', () => {
    const machine = { addresses: () => ['10.1.2.3', 'fe80::1'], name: () => 'Box' };
    assert.deepEqual([...allowedHostnames('127.0.0.1', machine)].sort(), ['127.0.0.1', '[::1]', 'localhost']);
    assert.ok(allowedHostnames('box.lan', machine).has('box.lan'));
    assert.ok(!allowedHostnames('box.lan', machine).has('10.1.2.3'), 'a named bind adds only that name');
    const wildcard = allowedHostnames('0.0.0.0', machine);
    for (const n of ['10.1.2.3', '[fe80::1]', 'box']) assert.ok(wildcard.has(n), n);
    assert.deepEqual(parseHostHeader('[::1]:8477'), { name: '[::1]', port: 8477 });
    assert.equal(parseHostHeader('a:b:c'), null);
    assert.ok(isLoopbackHost('127.0.0.2') && isLoopbackHost('::1') && isLoopbackHost('localhost'));
    assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('::') && !isLoopbackHost('192.168.1.7'));
  });
});

describe('cross-site requests', () => {
  it('the API and the stream refuse what a browser marks as another site', async () => {
    const events = `/api/experiments/${sweep.experimentId}/events`;
    for (const path of ['/api/experiments', events]) {
      const refused: Record<string, string>[] = [
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' }, // another port of localhost
        { origin: 'http://evil.test' },
        { origin: `http://localhost:${port + 1}` },
        { origin: 'null' },
      ];
      for (const headers of refused) {
        const res = await get(server.url, path, headers);
        assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.equal(JSON.parse(res.body).error.code, 'BATCHLAB_CROSS_SITE');
      }
    }
  });

  it('serves its own pages, typed URLs and scripts', async () => {
    const own = { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' };
    assert.equal((await get(server.url, '/api/experiments', own)).status, 200);
    assert.equal((await get(server.url, '/api/experiments', { 'sec-fetch-site': 'none' })).status, 200);
    assert.equal((await get(server.url, '/api/experiments')).status, 200, 'curl sends neither header');
    assert.equal((await get(server.url, '/', { 'sec-fetch-site': 'cross-site' })).status, 200, 'a link to the page');
  });
});

describe('tokens', () => {
  let guarded: RunningServer;
  before(async () => {
    guarded = await startServer({ dbPath, port: 0, token: TOKEN, log: () => {} });
  });
  after(() => guarded.close());

  it('refuses requests without the token, on the API, the stream and the pages', async () => {
    for (const path of ['/api/experiments', `/api/experiments/${sweep.experimentId}/events`, '/', '/static/app.css']) {
      const res = await get(guarded.url, path);
      assert.equal(res.status, 401, path);
      assert.match(JSON.parse(res.body).error.message, /needs its token/);
    }
    const wrong = await get(guarded.url, '/api/experiments', { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.match(JSON.parse(wrong.body).error.message, /wrong token/);
  });

  it('a page opened with ?token= sets the cookie and drops the token from the address', async () => {
    const res = await get(guarded.url, `/experiments/${sweep.experimentId}?token=${TOKEN}&x=1`);
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/experiments/${sweep.experimentId}?x=1`);
    const cookie = String(res.headers['set-cookie']);
    const port = new URL(guarded.url).port;
    assert.match(cookie, new RegExp(`^${tokenCookieName(Number(port))}=${TOKEN}; Path=/; HttpOnly; SameSite=Strict$`));
    const withCookie = { cookie: cookie.split(';')[0]! };
    assert.equal((await get(guarded.url, `/experiments/${sweep.experimentId}`, withCookie)).status, 200);
    assert.equal((await get(guarded.url, '/api/experiments', withCookie)).status, 200);
    const stream = await openStream(guarded.url, `/api/experiments/${sweep.experimentId}/events`, withCookie);
    assert.equal(stream.status, 200);
    stream.close();
    const bearer = await get(guarded.url, '/api/experiments', { authorization: `Bearer ${TOKEN}` });
    assert.equal(bearer.status, 200);
  });

  it('a non-loopback bind generates a token and refuses requests without it', async () => {
    const open = await startServer({ dbPath, host: '0.0.0.0', port: 0, log: () => {} });
    try {
      assert.equal(open.loopback, false);
      assert.ok(open.token !== null && open.token.length >= 24);
      assert.ok(open.pageUrl.endsWith(`/?token=${open.token}`));
      const local = `http://127.0.0.1:${new URL(open.url).port}`;
      assert.equal((await get(local, '/api/experiments')).status, 401);
      assert.equal((await get(local, '/')).status, 401);
      assert.equal((await get(local, '/api/experiments', { authorization: `Bearer ${open.token}` })).status, 200);
    } finally {
      await open.close();
    }
    assert.equal(serverToken('127.0.0.1', undefined), null, 'loopback stays token-free');
    assert.notEqual(serverToken('::', undefined), serverToken('::', undefined), 'a fresh token each start');
    assert.throws(() => serverToken('0.0.0.0', 'short'), UsageError);
    assert.throws(() => serverToken('0.0.0.0', 'has spaces in it, sixteen+'), /--token must be at least 16/);
  });

  it('batchlab serve --host 0.0.0.0 warns and prints the URL with the token', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), errStream: process.stderr };
    const stopper = new AbortController();
    const stop = () => stopper.abort('SIGINT');
    const done = serveCommand(['--host', '0.0.0.0', '--port', '0', '--db', dbPath], io, { signal: stopper.signal });
    await until(() => out.length >= 2, 'the start lines');
    stop();
    assert.equal(await done, 0);
    assert.match(err.join('\n'), /^warning: --host 0\.0\.0\.0 lets other machines reach the dashboard; every request/);
    assert.match(out[0]!, /^batchlab dashboard on http:\/\/0\.0\.0\.0:\d+ /);
    assert.match(out[1]!, /^open http:\/\/[^/]+:\d+\/\?token=[A-Za-z0-9_-]{24} \(the page keeps the token in a cookie/);
    await assert.rejects(serveCommand(['--token', 'tooshort'], io), /--token must be at least 16 characters/);
  });
});

describe('event streams', () => {
  it('N streams on one experiment cost one store poll per tick, and each gets every new step once', async () => {
    const ticker = manualTicker();
    const polls: number[] = [];
    const s = await startServer({ dbPath, port: 0, ticker, onPoll: (id) => polls.push(id), log: () => {} });
    const running = sweep.runningRun!;
    const cursor = [...sweep.runs.map((r) => `${r.id}:100`), `${running.id}:50`].join(',');
    const N = 6;
    const streams = [];
    try {
      for (let i = 0; i < N; i++) {
        streams.push(await openStream(s.url, `/api/experiments/${sweep.experimentId}/events?cursor=${cursor}`));
      }
      assert.equal(polls.length, 1, 'the first stream starts the feed with one poll; the others join it');
      writer.appendSteps(running.id, syntheticSteps(64, 51, 5, lcg(3)));
      ticker.tick(POLL_INTERVAL_MS);
      writer.appendSteps(running.id, syntheticSteps(64, 56, 5, lcg(4)));
      ticker.tick(POLL_INTERVAL_MS);
      ticker.tick(POLL_INTERVAL_MS);
      assert.deepEqual(polls, [sweep.experimentId, sweep.experimentId, sweep.experimentId, sweep.experimentId]);
      for (const st of streams) {
        await until(() => st.events.filter((e) => e.event === 'steps').length === 2, 'two steps events');
        const steps = st.events.flatMap((e) =>
          e.event === 'steps' ? (e.data as { steps: { step: number[] } }).steps.step : [],
        );
        assert.deepEqual(steps, [51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
      }
    } finally {
      for (const st of streams) st.close();
      await until(() => ticker.active() === 0, 'the feed to stop once its streams closed');
      await s.close();
    }
  });

  it('a stream that joins late first gets the steps between its cursor and the feed', async () => {
    const ticker = manualTicker();
    const s = await startServer({ dbPath, port: 0, ticker, log: () => {} });
    const running = sweep.runningRun!;
    const done = sweep.runs.map((r) => `${r.id}:100`).join(',');
    const path = (from: number) => `/api/experiments/${sweep.experimentId}/events?cursor=${done},${running.id}:${from}`;
    const last = writer.stepsOf(running.id).at(-1)!.step;
    try {
      const first = await openStream(s.url, path(last));
      const late = await openStream(s.url, path(last - 5));
      await until(() => late.events.length > 0, 'the catch-up');
      const steps = (late.events[0]!.data as { runId: number; steps: { step: number[] } }).steps.step;
      assert.deepEqual(steps, [last - 4, last - 3, last - 2, last - 1, last]);
      assert.equal(first.events.length, 0, 'the first stream had everything');
      first.close();
      late.close();
    } finally {
      await s.close();
    }
  });

  it('over the cap a stream gets 503 with Retry-After; a freed slot is usable again', async () => {
    const s = await startServer({ dbPath, port: 0, maxStreams: 2, ticker: manualTicker(), log: () => {} });
    const path = `/api/experiments/${sweep.experimentId}/events`;
    try {
      const a = await openStream(s.url, path);
      const b = await openStream(s.url, path);
      assert.deepEqual([a.status, b.status], [200, 200]);
      const over = await get(s.url, path);
      assert.equal(over.status, 503);
      assert.equal(over.headers['retry-after'], String(STREAM_RETRY_AFTER_S));
      assert.equal(JSON.parse(over.body).error.code, 'BATCHLAB_BUSY');
      assert.equal((await get(s.url, '/api/experiments')).status, 200, 'the rest of the API still answers');
      a.close();
      let again = await openStream(s.url, path);
      for (let i = 0; again.status !== 200 && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 10)); // the server sees the close a moment later
        again = await openStream(s.url, path);
      }
      assert.equal(again.status, 200);
      again.close();
      b.close();
    } finally {
      await s.close();
    }
  });
});

describe('logging', () => {
  it('a missing database is one line, said once while it lasts, never a stack', async () => {
    const lines: string[] = [];
    const s = await startServer({ dbPath: join(dir, 'not-yet.db'), port: 0, log: (l) => lines.push(l) });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await get(s.url, '/api/experiments')).status, 503);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^batchlab serve: 503 GET \/api\/experiments: .*not-yet\.db/);
      assert.doesNotMatch(lines[0]!, /\n|\bat /);
    } finally {
      await s.close();
    }
  });

  it('a token in a URL never reaches the log', async () => {
    const lines: string[] = [];
    const s = await startServer({ dbPath, port: 0, token: TOKEN, log: (l) => lines.push(l) });
    try {
      await get(s.url, `/api/experiments?token=${TOKEN}x`);
      assert.equal(lines.length, 1);
      assert.doesNotMatch(lines[0]!, new RegExp(TOKEN));
    } finally {
      await s.close();
    }
  });
});
