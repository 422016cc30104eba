import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchlabError } from '../../src/core/errors.js';
import { openStore, type Store } from '../../src/store/index.js';
import { hasDotDotSegment, parseCursor, startServer, type RunningServer } from '../../src/server/index.js';
import { serveCommand } from '../../src/cli/commands/serve.js';
import { syntheticSteps, writeSyntheticSweep, lcg, type SyntheticSweep } from './synthetic.js';
import { get } from './http.js';

const dir = mkdtempSync(join(tmpdir(), 'batchlab-serve-'));
const dbPath = join(dir, 'serve.db');
let writer: Store;
let sweep: SyntheticSweep;
let server: RunningServer;

before(async () => {
  writer = openStore(dbPath);
  sweep = writeSyntheticSweep(writer, { batchSizes: [16, 64], stepsPerRun: 200, runningSteps: 50 });
  server = await startServer({ dbPath, port: 0, pollIntervalMs: 100 });
});
after(async () => {
  await server.close();
  writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('static paths', () => {
  it('hasDotDotSegment sees literal and encoded parent segments', () => {
    for (const p of [
      '/../x',
      '/static/../package.json',
      '/static/%2e%2e/x',
      '/static/..%2fx',
      '/static/..%5cx',
      '/a/%2E%2E',
    ])
      assert.ok(hasDotDotSegment(p), p);
    for (const p of ['/static/app.js', '/static/a..b.js', '/']) assert.ok(!hasDotDotSegment(p), p);
  });

  it('the server refuses traversal with 403 JSON and serves its own files', async () => {
    for (const p of [
      '/../package.json',
      '/static/../../package.json',
      '/static/%2e%2e/%2e%2e/package.json',
      '/static/..%2f..%2fpackage.json',
      '/api/../../etc/passwd',
    ]) {
      const res = await get(server.url, p);
      assert.equal(res.status, 403, p);
      assert.match(res.type, /application\/json/);
      assert.match(JSON.parse(res.body).error.message, /\.\./);
    }
    const js = await get(server.url, '/static/dashboard.js');
    assert.equal(js.status, 200);
    assert.match(js.type, /javascript/);
    assert.match(js.body, /uPlot v\d/, 'the bundle carries uPlot and its licence line');
    assert.equal((await get(server.url, '/static/uPlot.min.css')).status, 200);
    assert.equal((await get(server.url, '/static/nope.js')).status, 404);
    assert.equal((await get(server.url, '/static/src/app.ts')).status, 404, 'only the named assets are served');
  });
});

describe('API', () => {
  it('lists experiments and returns one with its runs', async () => {
    const list = JSON.parse((await get(server.url, '/api/experiments')).body);
    assert.equal(list.length, 1);
    assert.equal(list[0].runCounts.running, 1);
    const one = JSON.parse((await get(server.url, `/api/experiments/${sweep.experimentId}`)).body);
    assert.equal(one.runs.length, 2);
    const report = JSON.parse((await get(server.url, `/api/experiments/latest/report?maxPoints=50`)).body);
    assert.equal(report.format, 'batchlab-report/1');
    assert.ok(report.runs[0].steps.step.length <= 50);
  });

  it('pages steps with from= and limit=', async () => {
    const runId = sweep.runs[0]!.id;
    const page = JSON.parse((await get(server.url, `/api/runs/${runId}/steps?from=150&limit=20`)).body);
    assert.equal(page.steps.length, 20);
    assert.equal(page.steps[0].step, 150);
    assert.equal(page.next, 170);
    const evals = JSON.parse((await get(server.url, `/api/runs/${runId}/evals`)).body);
    assert.ok(evals.length > 0);
  });

  it('answers unknown and malformed ids with a 404 JSON message, and keeps serving', async () => {
    const cases: [string, number, RegExp][] = [
      ['/api/experiments/999', 404, /no experiment with id 999/],
      ['/api/experiments/abc', 404, /no experiment with id "abc"/],
      ['/api/experiments/-1/report', 404, /positive integers/],
      ['/api/experiments/1e3', 404, /"1e3"/],
      ['/api/runs/424242/steps', 404, /no run with id 424242/],
      ['/api/runs/9999999999999999999999', 404, /no run with id/],
      ['/api/experiments/999/events', 404, /no experiment with id 999/],
      ['/api/nothing', 404, /no API route/],
      ['/experiments/xyz', 404, /no experiment/],
      ['/api/runs/1/steps?from=x', 400, /from must be an integer/],
      ['/api/experiments/1/events?cursor=zz', 400, /cursor must look like/],
    ];
    for (const [path, status, message] of cases) {
      const res = await get(server.url, path);
      assert.equal(res.status, status, path);
      assert.match(JSON.parse(res.body).error.message, message, path);
    }
    assert.equal((await get(server.url, '/api/experiments')).status, 200, 'still serving');
  });

  it('refuses writes', async () => {
    const url = new URL(server.url);
    const status = await new Promise<number>((done) => {
      const req = request({ host: url.hostname, port: url.port, path: '/api/experiments', method: 'POST' }, (res) => {
        res.resume();
        done(res.statusCode ?? 0);
      });
      req.end();
    });
    assert.equal(status, 405);
  });

  it('pushes steps a writer appends over SSE', { timeout: 10_000 }, async () => {
    const running = sweep.runningRun!;
    const url = new URL(
      `${server.url}/api/experiments/${sweep.experimentId}/events?cursor=${running.id}:50,${sweep.runs[0]!.id}:200,${sweep.runs[1]?.id ?? 0}:200`,
    );
    const got = new Promise<number[]>((resolveSteps, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search }, (res) => {
        assert.match(String(res.headers['content-type']), /text\/event-stream/);
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (const m of buf.matchAll(/event: steps\ndata: (.*)\n\n/g)) {
            const msg = JSON.parse(m[1]!);
            if (msg.runId === running.id) {
              resolveSteps(msg.steps.step);
              req.destroy();
            }
          }
        });
      });
      req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
      req.end();
    });
    const t0 = Date.now();
    writer.appendSteps(running.id, syntheticSteps(64, 51, 10, lcg(1)));
    const steps = await got;
    assert.deepEqual(steps, [51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
    assert.ok(Date.now() - t0 < 2000);
  });
});

describe('startServer', () => {
  it('parses cursors', () => {
    assert.deepEqual(
      [...parseCursor('3:10, 4:0')!],
      [
        [3, 10],
        [4, 0],
      ],
    );
    assert.equal(parseCursor('3:x'), null);
    assert.equal(parseCursor(null)!.size, 0);
  });

  it('reports a port in use as one line', async () => {
    const port = Number(new URL(server.url).port);
    await assert.rejects(
      startServer({ dbPath, port }),
      (e: unknown) => e instanceof BatchlabError && /port \d+ on 127\.0\.0\.1 is already in use/.test(e.message),
    );
  });

  it('starts before the database exists and answers 503 until it does', async () => {
    const s = await startServer({ dbPath: join(dir, 'later.db'), port: 0 });
    try {
      const res = await get(s.url, '/api/experiments');
      assert.equal(res.status, 503);
      assert.match(JSON.parse(res.body).error.message, /later\.db/);
      const later = openStore(join(dir, 'later.db'));
      later.createExperiment({ kind: 'sweep', settings: {}, env: {} });
      later.close();
      assert.equal(JSON.parse((await get(s.url, '/api/experiments')).body).length, 1);
    } finally {
      await s.close();
    }
  });
});

describe('batchlab serve', () => {
  it('prints its URL, serves until stopped, and rejects bad options by name', async () => {
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: () => {}, errStream: process.stderr };
    const stopper = new AbortController();
    const stop = () => stopper.abort('SIGINT');
    const done = serveCommand(['--port', '0', '--db', dbPath], io, { signal: stopper.signal });
    while (out.length === 0) await new Promise((r) => setTimeout(r, 10));
    const url = /on (http:\/\/127\.0\.0\.1:\d+) /.exec(out[0]!)?.[1];
    assert.ok(url, out[0]);
    assert.equal((await get(url, '/api/experiments')).status, 200);
    stop();
    assert.equal(await done, 0);
    await assert.rejects(serveCommand(['--port', 'x'], io), /--port must be an integer >= 0, got "x"/);
    await assert.rejects(serveCommand(['--port', '70000'], io), /between 0 and 65535/);
    await assert.rejects(serveCommand(['--bogus'], io), /unknown option --bogus/);
  });
});
