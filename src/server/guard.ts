/**
 * Who may read the dashboard. Three checks, in this order, before any route runs (docs/api.md):
 *
 * 1. Host: the request must name this server, as `localhost`, `127.0.0.1`, `[::1]` or the address it was
 *    started on, with its port. A page of another site that re-points its own name at 127.0.0.1 (DNS
 *    rebinding) is same-origin with itself, not with us: its requests carry its own name in Host and get 421.
 * 2. Token: a server bound to anything but loopback (or started with a token) wants its token on every
 *    request: the `batchlab_token_<port>` cookie (HttpOnly, SameSite=Strict; the server sets it when a page is
 *    opened with `?token=`), an `Authorization: Bearer` header, or `?token=`. Otherwise 401.
 * 3. Cross-site: the JSON API and the event stream refuse requests a browser marks as coming from another
 *    site (`Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` that is not this server): 403.
 *    Browsers already keep such pages from reading the answer (no CORS headers are ever sent); refusing
 *    them also keeps the store from being queried on another site's behalf.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { UsageError } from '../core/errors.js';

/** Names every server answers to, whatever it is bound to. */
export const LOOPBACK_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** A user-chosen token must be at least this long (a short one can be guessed over the network). */
export const MIN_TOKEN_LENGTH = 16;

/** Bytes of randomness of a generated token (24 base64url characters). */
const TOKEN_BYTES = 18;

/** Addresses that mean "every interface": then the machine's own addresses and name are accepted too. */
const WILDCARD_HOSTS: readonly string[] = ['0.0.0.0', '::', '[::]', ''];

/** A refused request: the status and the one-line reason the client (and the server log) gets. */
export interface Refusal {
  status: 401 | 403 | 421;
  code: 'BATCHLAB_BAD_HOST' | 'BATCHLAB_CROSS_SITE' | 'BATCHLAB_TOKEN';
  message: string;
}

/** Whether `host` (a --host value) is a loopback address or name: nobody else can connect to it. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** `host` as it appears in a Host header: lower case, IPv6 literals in brackets. */
function hostHeaderName(host: string): string {
  const h = host.toLowerCase();
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/**
 * The host names (without port) a server bound to `bindHost` answers to: the loopback names, `bindHost`
 * itself, and for a wildcard bind (0.0.0.0, ::) every address of this machine and its host name.
 */
export function allowedHostnames(
  bindHost: string,
  machine: { addresses: () => string[]; name: () => string } = { addresses: machineAddresses, name: hostname },
): Set<string> {
  const names = new Set([...LOOPBACK_HOSTNAMES, hostHeaderName(bindHost)]);
  if (WILDCARD_HOSTS.includes(bindHost)) {
    for (const a of machine.addresses()) names.add(hostHeaderName(a));
    names.add(machine.name().toLowerCase());
  }
  names.delete('');
  return names;
}

function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** Splits a Host header into name and port (null when it has none); null for a malformed header. */
export function parseHostHeader(header: string): { name: string; port: number | null } | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!m) return null;
  return { name: m[1]!.toLowerCase(), port: m[2] === undefined ? null : Number(m[2]) };
}

/** null when `header` names one of `allowed` with `port` (no port only on port 80), else the refusal. */
export function checkHost(header: string | undefined, allowed: ReadonlySet<string>, port: number): Refusal | null {
  const parsed = header === undefined ? null : parseHostHeader(header);
  const portOk = parsed !== null && (parsed.port === null ? port === 80 : parsed.port === port);
  if (parsed !== null && portOk && allowed.has(parsed.name)) return null;
  const shown = header === undefined ? 'no Host header' : `Host ${quoted(header)}`;
  return {
    status: 421,
    code: 'BATCHLAB_BAD_HOST',
    message: `${shown} is not this dashboard; open it as http://localhost:${port}/ (or the address batchlab serve printed)`,
  };
}

/**
 * null unless the browser says the request comes from another site: `Sec-Fetch-Site` other than
 * same-origin or none (typed, bookmarked), or an `Origin` other than this server's own (http or https, the
 * latter behind a proxy). Clients that send neither (curl, scripts) pass.
 */
export function checkSameOrigin(headers: IncomingHttpHeaders): Refusal | null {
  const site = headers['sec-fetch-site'];
  const origin = headers.origin;
  const own = [`http://${headers.host}`, `https://${headers.host}`];
  let why: string | null = null;
  if (site !== undefined && site !== 'same-origin' && site !== 'none') why = `Sec-Fetch-Site is ${quoted(site)}`;
  else if (origin !== undefined && !own.includes(origin)) why = `Origin ${quoted(origin)} is another site`;
  if (why === null) return null;
  return {
    status: 403,
    code: 'BATCHLAB_CROSS_SITE',
    message: `${why}: the dashboard's data is only for its own pages`,
  };
}

/** The cookie that carries the token; per port, since browsers share cookies across the ports of a host. */
export function tokenCookieName(port: number): string {
  return `batchlab_token_${port}`;
}

/** Set-Cookie value that stores the token for this server's pages. */
export function tokenCookie(port: number, token: string): string {
  return `${tokenCookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

/** Where a request carries a token: `?token=`, a Bearer header, or the cookie; null if nowhere. */
export function presentedToken(headers: IncomingHttpHeaders, url: URL, port: number): string | null {
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null) return fromQuery;
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
  if (bearer) return bearer[1]!;
  const name = tokenCookieName(port);
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Compares in constant time (digests, so the lengths leak nothing either). */
export function tokensEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** null when `presented` is the token, else the 401 that says how to get in. */
export function checkToken(presented: string | null, token: string): Refusal | null {
  if (presented !== null && tokensEqual(presented, token)) return null;
  return {
    status: 401,
    code: 'BATCHLAB_TOKEN',
    message: `${presented === null ? 'this dashboard needs its token' : 'wrong token'}: open the URL with ?token= that batchlab serve printed, or send Authorization: Bearer TOKEN`,
  };
}

/** A fresh random token (144 bits, URL- and cookie-safe). */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * The token a server uses: the user's (checked: long enough, URL-safe), a generated one when it is bound
 * beyond loopback, or null (loopback without --token: no token).
 */
export function serverToken(bindHost: string, userToken: string | undefined): string | null {
  if (userToken !== undefined) {
    if (userToken.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9._~-]+$/.test(userToken)) {
      throw new UsageError(
        `--token must be at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 . _ ~ -, got ${userToken.length} characters; leave it out to get a generated one`,
      );
    }
    return userToken;
  }
  return isLoopbackHost(bindHost) ? null : generateToken();
}

/** A header value in quotes with control characters escaped (JSON), so a message or log line stays one line. */
function quoted(text: string): string {
  return JSON.stringify(text);
}
