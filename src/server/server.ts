/**
 * `batchlab serve`: a read-only dashboard over the store. Node's own http module, no framework:
 * a handful of routes (docs/api.md), JSON errors with a message for every bad request, SSE for live
 * updates. The store is opened read-only and lazily, so the server may start before the first sweep
 * creates the database, and any number of tabs can read while a sweep writes (WAL).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { BatchlabError } from '../core/errors.js';
import { openStore, type Store } from '../store/index.js';
import { ASSET_FILES, WEB_DIR } from '../report/assets.js';
import { loadReportData } from '../report/data.js';
import { renderReportHtml } from '../report/html.js';
import { ExperimentWatcher, parseCursor, POLL_INTERVAL_MS, sseFrame } from './events.js';
import { dashboardPage } from './pages.js';
import { CONTENT_TYPES, hasDotDotSegment, resolveInside } from './static.js';

export const DEFAULT_PORT = 8477;
export const DEFAULT_HOST = '127.0.0.1';

/** Most steps one /api/runs/:id/steps response carries; ask again with from= for the rest. */
export const MAX_STEPS_PER_RESPONSE = 20_000;

/** A comment line every so often keeps proxies and idle timeouts from closing an SSE stream. */
const SSE_HEARTBEAT_MS = 15_000;

export interface ServerOptions {
  dbPath: string;
  /** 0 picks a free port (tests). Default DEFAULT_PORT. */
  port?: number;
  /** Default DEFAULT_HOST (loopback only: the dashboard has no authentication). */
  host?: string;
  /** Store poll period of the live events, in ms. Default POLL_INTERVAL_MS. */
  pollIntervalMs?: number;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8477 */
  url: string;
  /** Ends open event streams, stops listening and closes the store. */
  close(): Promise<void>;
}

/** An HTTP error with the JSON body `{ error: { code, message } }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the dashboard; resolves once it listens. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const ctx = new ServerContext(opts);
  const server = createServer((req, res) => ctx.handle(req, res));
  const port = opts.port ?? DEFAULT_PORT;
  const host = opts.host ?? DEFAULT_HOST;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, host, port)));
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${shown}:${address.port}`, close: () => ctx.close(server) };
}

/** "Port in use" and "cannot bind" are the user's to fix: one line naming the address. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): unknown {
  if (err.code === 'EADDRINUSE') {
    return new BatchlabError(
      'BATCHLAB_BAD_ARGUMENT',
      `port ${port} on ${host} is already in use; pass --port N (0 picks a free one)`,
      { cause: err },
    );
  }
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES' || err.code === 'ENOTFOUND') {
    return new BatchlabError(
      'BATCHLAB_BAD_ARGUMENT',
      `cannot listen on ${host}:${port} (${err.code}); pass another --host or --port`,
      { cause: err },
    );
  }
  return err;
}

/** Per-server state: the lazily opened store and the open event streams. */
class ServerContext {
  private store: Store | null = null;
  private readonly streams = new Set<() => void>();

  constructor(private readonly opts: ServerOptions) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.route(req, res);
    } catch (err) {
      this.fail(res, err);
    }
  }

  async close(server: Server): Promise<void> {
    for (const stop of [...this.streams]) stop();
    await new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
    this.store?.close();
    this.store = null;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.url ?? '/';
    if (hasDotDotSegment(raw.split('?')[0]!))
      throw new HttpError(403, 'BATCHLAB_FORBIDDEN', 'paths with ".." segments are refused');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new HttpError(405, 'BATCHLAB_METHOD', `the API is read-only; ${req.method} is not allowed`);
    const url = new URL(raw, 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean);
    const [a, b, c] = parts;
    if (parts.length === 0) return sendHtml(res, dashboardPage({ page: 'list' }));
    if (a === 'static' && parts.length >= 2) return this.serveStatic(res, url.pathname.slice('/static/'.length));
    if (a === 'experiments' && b !== undefined && parts.length === 2) {
      return sendHtml(res, dashboardPage({ page: 'experiment', experimentId: this.experimentId(b) }));
    }
    if (a === 'experiments' && b !== undefined && c === 'report.html' && parts.length === 3) {
      return sendHtml(res, renderReportHtml(loadReportData(this.db(), this.experimentId(b))));
    }
    if (a === 'api') return this.api(req, res, url, parts.slice(1));
    throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `no page at ${url.pathname}; see docs/api.md for the routes`);
  }

  private api(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[]): void {
    const [a, b, c] = parts;
    if (a === 'experiments' && parts.length === 1) return sendJson(res, this.db().listExperiments());
    if (a === 'experiments' && b !== undefined) {
      const id = this.experimentId(b);
      if (parts.length === 2) {
        const store = this.db();
        return sendJson(res, {
          experiment: store.getExperiment(id),
          runs: store.runsOf(id),
          probes: store.probesOf(id),
        });
      }
      if (c === 'report' && parts.length === 3) {
        const maxPoints = optionalInt(url, 'maxPoints', { min: 2 });
        return sendJson(
          res,
          loadReportData(this.db(), id, maxPoints === undefined ? {} : { maxPointsPerRun: maxPoints }),
        );
      }
      if (c === 'events' && parts.length === 3) return this.events(req, res, id, url);
    }
    if (a === 'runs' && b !== undefined) {
      const id = parseId('run', b);
      if (parts.length === 2) return sendJson(res, this.db().getRun(id));
      if (c === 'steps' && parts.length === 3) {
        const from = optionalInt(url, 'from', { min: 0 }) ?? 0;
        const limit = Math.min(optionalInt(url, 'limit', { min: 1 }) ?? MAX_STEPS_PER_RESPONSE, MAX_STEPS_PER_RESPONSE);
        const steps = this.db().stepsOf(id, { fromStep: from });
        const page = steps.slice(0, limit);
        const next = steps.length > limit ? page[page.length - 1]!.step + 1 : null;
        return sendJson(res, { runId: id, steps: page, next });
      }
      if (c === 'evals' && parts.length === 3) return sendJson(res, this.db().evalsOf(id));
    }
    throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `no API route ${url.pathname}; see docs/api.md`);
  }

  /** SSE stream of one experiment: `steps`, `changed` and `error` events (see ./events.ts). */
  private events(req: IncomingMessage, res: ServerResponse, experimentId: number, url: URL): void {
    const store = this.db();
    store.getExperiment(experimentId); // 404 before the stream starts
    const cursor = parseCursor(url.searchParams.get('cursor'));
    if (cursor === null)
      throw new HttpError(400, 'BATCHLAB_BAD_ARGUMENT', 'cursor must look like RUN:STEP,RUN:STEP (e.g. 12:400,13:380)');
    const watcher = new ExperimentWatcher(store, experimentId, cursor);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 1000\n\n`);
    const push = () => {
      for (const e of watcher.poll()) res.write(sseFrame(e));
    };
    push();
    const poll = setInterval(push, this.opts.pollIntervalMs ?? POLL_INTERVAL_MS);
    const heartbeat = setInterval(() => res.write(': ping\n\n'), SSE_HEARTBEAT_MS);
    const stop = () => {
      clearInterval(poll);
      clearInterval(heartbeat);
      this.streams.delete(stop);
      if (!res.writableEnded) res.end();
    };
    this.streams.add(stop);
    req.on('close', stop);
    res.on('error', stop);
  }

  private serveStatic(res: ServerResponse, relPath: string): void {
    const asset = (ASSET_FILES as Record<string, () => string>)[relPath] as (() => string) | undefined;
    const file = asset ? asset() : resolveInside(WEB_DIR, relPath);
    if (file === null) throw new HttpError(403, 'BATCHLAB_FORBIDDEN', 'that path is outside the static folder');
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `no static file ${relPath}`);
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    });
    res.end(body);
  }

  /** The store, opened read-only on first use; if that fails the request fails and the next one retries. */
  private db(): Store {
    if (this.store === null || !this.store.isOpen) this.store = openStore(this.opts.dbPath, { readonly: true });
    return this.store;
  }

  private experimentId(text: string): number {
    if (text === 'latest') {
      const latest = this.db().latestExperiment();
      if (latest === undefined)
        throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `${this.opts.dbPath} has no experiments yet`);
      return latest.id;
    }
    return parseId('experiment', text);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const { status, code, message } = describeError(err);
    if (status >= 500) console.error(err);
    if (res.headersSent) {
      res.end();
      return;
    }
    sendJson(res, { error: { code, message } }, status);
  }
}

/** Status, code and message of any error; unknown errors are 500 without their internals. */
function describeError(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof BatchlabError) {
    const status = err.code === 'BATCHLAB_NOT_FOUND' ? 404 : err.code === 'BATCHLAB_STORE' ? 503 : 400;
    return { status, code: err.code, message: err.message };
  }
  return { status: 500, code: 'BATCHLAB_INTERNAL', message: 'internal error; see the server log' };
}

/** A positive integer id from a path segment, else 404 naming it (an id that cannot exist is not found). */
function parseId(what: 'experiment' | 'run', text: string): number {
  const id = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new HttpError(
      404,
      'BATCHLAB_NOT_FOUND',
      `no ${what} with id "${decodeSafe(text)}"; ids are positive integers`,
    );
  }
  return id;
}

function optionalInt(url: URL, name: string, opts: { min: number }): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  const n = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < opts.min) {
    throw new HttpError(400, 'BATCHLAB_BAD_ARGUMENT', `${name} must be an integer >= ${opts.min}, got "${raw}"`);
  }
  return n;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}
