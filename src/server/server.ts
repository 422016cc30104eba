/**
 * `batchlab serve`: a read-only dashboard over the store. Node's own http module, no framework:
 * a handful of routes (docs/api.md), JSON errors with a message for every bad request, SSE for live
 * updates. The store is opened read-only and lazily, so the server may start before the first sweep
 * creates the database, and any number of tabs can read while a sweep writes (WAL).
 *
 * Every request passes ./guard.ts first (Host, token, and for the API same-origin), so no route runs for a
 * request another site made. Event streams share one store poller per experiment (./hub.ts).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { extname } from 'node:path';
import { BatchlabError } from '../core/errors.js';
import { openStore, type Store } from '../store/index.js';
import { ASSET_FILES, isAssetName } from '../report/assets.js';
import { loadReportData } from '../report/data.js';
import { renderReportHtml } from '../report/html.js';
import { parseCursor, POLL_INTERVAL_MS, REAL_TICKER, sseFrame, type Ticker } from './events.js';
import {
  allowedHostnames,
  checkHost,
  checkSameOrigin,
  checkToken,
  isLoopbackHost,
  presentedToken,
  serverToken,
  tokenCookie,
  type Refusal,
} from './guard.js';
import { DEFAULT_MAX_STREAMS, LiveHub, type Stream } from './hub.js';
import { dashboardPage } from './pages.js';
import { CONTENT_TYPES, hasDotDotSegment } from './static.js';

export const DEFAULT_PORT = 8477;
export const DEFAULT_HOST = '127.0.0.1';

/** Most steps one /api/runs/:id/steps response carries; ask again with from= for the rest. */
export const MAX_STEPS_PER_RESPONSE = 20_000;

/** Retry-After of a stream refused over the cap, in seconds. */
export const STREAM_RETRY_AFTER_S = 5;

/** A stream with this much unread at a heartbeat is dropped (a live page reconnects with its cursor). */
const MAX_UNREAD_BYTES = 8 * 1024 * 1024;

export interface ServerOptions {
  dbPath: string;
  /** 0 picks a free port (tests). Default DEFAULT_PORT. */
  port?: number;
  /** Default DEFAULT_HOST. Any address beyond loopback makes a token required (a generated one if none). */
  host?: string;
  /** The token every request must carry (>= 16 URL-safe characters). Default: none on loopback. */
  token?: string;
  /** Store poll period of the live events, in ms. Default POLL_INTERVAL_MS. */
  pollIntervalMs?: number;
  /** Concurrent event streams; one more gets 503 + Retry-After. Default DEFAULT_MAX_STREAMS. */
  maxStreams?: number;
  /** Timers of the live events (tests tick by hand). */
  ticker?: Ticker;
  /** Called once per store poll of an experiment's live events (tests count polls). */
  onPoll?: (experimentId: number) => void;
  /** Where the server logs: one line per expected problem, a stack only for a bug. Default stderr. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8477 */
  url: string;
  /** The address to open in a browser, with ?token= when the server wants one. */
  pageUrl: string;
  /** The token requests must carry, or null (loopback without --token). */
  token: string | null;
  /** False when bound to an address other machines can reach. */
  loopback: boolean;
  /** Ends open event streams, stops listening and closes the store. */
  close(): Promise<void>;
}

/** An HTTP error with the JSON body `{ error: { code, message } }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Starts the dashboard; resolves once it listens. Throws a UsageError for a bad token, before binding. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? DEFAULT_HOST;
  const token = serverToken(host, opts.token);
  const server = createServer();
  await new Promise<void>((resolveListen, reject) => {
    const port = opts.port ?? DEFAULT_PORT;
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, host, port)));
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const ctx = new ServerContext(opts, { port: address.port, allowed: allowedHostnames(host), token });
  server.on('request', (req, res) => ctx.handle(req, res));
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shown}:${address.port}`;
  const browserHost = displayHost(host, shown);
  return {
    url,
    pageUrl: `http://${browserHost}:${address.port}/${token === null ? '' : `?token=${token}`}`,
    token,
    loopback: isLoopbackHost(host),
    close: () => ctx.close(server),
  };
}

/** The host to print for a browser: for a wildcard bind, this machine's first external IPv4 address or name. */
function displayHost(bindHost: string, bound: string): string {
  if (bound !== '0.0.0.0' && bound !== '[::]') return bound;
  const external = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .find((i) => !i.internal && i.family === 'IPv4');
  return external?.address ?? (bindHost === '' ? 'localhost' : hostname());
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

/** What the server was bound to, fixed once it listens. */
interface Binding {
  port: number;
  /** Host names (no port) the Host header may name. */
  allowed: ReadonlySet<string>;
  token: string | null;
}

/** Per-server state: the lazily opened store, the event streams, the log. */
class ServerContext {
  private store: Store | null = null;
  private readonly hub: LiveHub;
  private lastLogLine: string | null = null;

  constructor(
    private readonly opts: ServerOptions,
    private readonly binding: Binding,
  ) {
    this.hub = new LiveHub({
      store: () => this.db(),
      pollIntervalMs: opts.pollIntervalMs ?? POLL_INTERVAL_MS,
      maxStreams: opts.maxStreams ?? DEFAULT_MAX_STREAMS,
      ticker: opts.ticker ?? REAL_TICKER,
      onPoll: opts.onPoll,
      log: (line) => this.logOnce(line),
    });
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    let url = new URL('http://localhost/');
    try {
      url = new URL(req.url ?? '/', url);
      const refusal = this.admit(req, url);
      if (refusal !== null) throw new HttpError(refusal.status, refusal.code, refusal.message);
      if (this.setTokenCookie(req, res, url)) return;
      this.route(req, res, url);
    } catch (err) {
      this.fail(req, res, url, err);
    }
  }

  async close(server: Server): Promise<void> {
    this.hub.closeAll();
    await new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
    this.store?.close();
    this.store = null;
  }

  /** Host, then token, then (for the API) same-origin: the first refusal, or null to go on. */
  private admit(req: IncomingMessage, url: URL): Refusal | null {
    const { port, allowed, token } = this.binding;
    const host = checkHost(req.headers.host, allowed, port);
    if (host !== null) return host;
    if (token !== null) {
      const bad = checkToken(presentedToken(req.headers, url, port), token);
      if (bad !== null) return bad;
    }
    return url.pathname.startsWith('/api/') || url.pathname === '/api' ? checkSameOrigin(req.headers) : null;
  }

  /**
   * A page opened with a (valid) `?token=`: store it in the cookie and send the browser to the same page
   * without it, so the token leaves the address bar and the history. True if it answered.
   */
  private setTokenCookie(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const { token, port } = this.binding;
    if (token === null || !url.searchParams.has('token') || url.pathname.startsWith('/api/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    url.searchParams.delete('token');
    res.writeHead(303, {
      location: url.pathname + url.search,
      'set-cookie': tokenCookie(port, token),
      'cache-control': 'no-store',
    });
    res.end();
    return true;
  }

  private route(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (hasDotDotSegment((req.url ?? '/').split('?')[0]!))
      throw new HttpError(403, 'BATCHLAB_FORBIDDEN', 'paths with ".." segments are refused');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new HttpError(405, 'BATCHLAB_METHOD', `the API is read-only; ${req.method} is not allowed`);
    const parts = url.pathname.split('/').filter(Boolean);
    const [a, b, c] = parts;
    if (parts.length === 0) return sendHtml(res, dashboardPage({ page: 'list' }));
    if (a === 'static' && parts.length === 2) return this.serveStatic(res, b!);
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
    if (a === 'runs' && b !== undefined) return this.runApi(res, url, parseId('run', b), parts);
    throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `no API route ${url.pathname}; see docs/api.md`);
  }

  private runApi(res: ServerResponse, url: URL, id: number, parts: string[]): void {
    const c = parts[2];
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
    throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `no API route ${url.pathname}; see docs/api.md`);
  }

  /** SSE stream of one experiment: `steps`, `changed` and `error` events (see ./events.ts). */
  private events(req: IncomingMessage, res: ServerResponse, experimentId: number, url: URL): void {
    if (this.hub.full) {
      const max = this.opts.maxStreams ?? DEFAULT_MAX_STREAMS;
      throw new HttpError(
        503,
        'BATCHLAB_BUSY',
        `${max} live streams are open already (the most this server keeps); close some dashboard tabs`,
        { 'retry-after': String(STREAM_RETRY_AFTER_S) },
      );
    }
    this.db().getExperiment(experimentId); // 404 before the stream starts
    const cursor = parseCursor(url.searchParams.get('cursor'));
    if (cursor === null)
      throw new HttpError(400, 'BATCHLAB_BAD_ARGUMENT', 'cursor must look like RUN:STEP,RUN:STEP (e.g. 12:400,13:380)');
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 1000\n\n`);
    let unsubscribe = () => {};
    const stop = () => {
      unsubscribe();
      if (!res.writableEnded) res.end();
    };
    const write = (text: string) => {
      if (!res.writableEnded) res.write(text);
    };
    // a client that has not read what was sent by the next heartbeat is stuck: drop it (it reconnects)
    const ping = () => {
      if (res.writableLength <= MAX_UNREAD_BYTES) return write(': ping\n\n');
      this.logOnce('batchlab serve: dropped a live stream whose client stopped reading');
      stop();
      res.destroy();
    };
    const stream: Stream = { cursor, send: (e) => write(sseFrame(e)), ping, end: stop };
    unsubscribe = this.hub.subscribe(experimentId, stream);
    req.on('close', stop);
    res.on('error', (err: NodeJS.ErrnoException) => {
      this.logOnce(`batchlab serve: a live stream ended: ${err.code ?? err.message}`);
      stop();
    });
  }

  /** Only the named assets (src/report/assets.ts); nothing else on disk is reachable. */
  private serveStatic(res: ServerResponse, name: string): void {
    if (!isAssetName(name)) throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `no static file ${decodeSafe(name)}`);
    const file = ASSET_FILES[name]();
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      throw new HttpError(404, 'BATCHLAB_NOT_FOUND', `no static file ${name} (${file}); run npm run build`);
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

  /**
   * Answers an error as JSON. Expected conditions (a refused request, a database not there yet, a full
   * server) are logged as one line, the same line once while it repeats; a bug is logged with its stack.
   */
  private fail(req: IncomingMessage, res: ServerResponse, url: URL, err: unknown): void {
    const { status, code, message, headers } = describeError(err);
    if (code === 'BATCHLAB_INTERNAL') this.log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    else if (status >= 500 || status === 401 || status === 403 || status === 421)
      this.logOnce(`batchlab serve: ${status} ${req.method} ${url.pathname}: ${message}`);
    if (res.headersSent) {
      res.end();
      return;
    }
    sendJson(res, { error: { code, message } }, status, headers);
  }

  private log(text: string): void {
    (this.opts.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(text);
  }

  /** Logs `line` unless it is the line logged last (a dashboard polling a missing database says so once). */
  private logOnce(line: string): void {
    if (line === this.lastLogLine) return;
    this.lastLogLine = line;
    this.log(line);
  }
}

/** Status, code, message and extra headers of any error; unknown errors are 500 without their internals. */
function describeError(err: unknown): {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
} {
  if (err instanceof HttpError)
    return { status: err.status, code: err.code, message: err.message, headers: err.headers };
  if (err instanceof BatchlabError) {
    const status = err.code === 'BATCHLAB_NOT_FOUND' ? 404 : err.code === 'BATCHLAB_STORE' ? 503 : 400;
    return { status, code: err.code, message: err.message, headers: {} };
  }
  return { status: 500, code: 'BATCHLAB_INTERNAL', message: 'internal error; see the server log', headers: {} };
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

function sendJson(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}
