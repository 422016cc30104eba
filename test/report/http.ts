/** Raw HTTP for the server tests: paths go out exactly as written, headers as given (Host included). */
import { request, type IncomingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  type: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request; the path is sent as written (no URL normalization of "..", unlike fetch). */
export function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolveGet, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () =>
        resolveGet({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          headers: res.headers,
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** An open event stream: its status, the events parsed so far, and a way to close it. */
export interface OpenStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed `event:`/`data:` frames, in order. */
  events: { event: string; data: unknown }[];
  /** The body of a refused stream (JSON error). */
  body(): string;
  close(): void;
}

/** Opens an SSE request and resolves once the response headers arrived. */
export function openStream(base: string, path: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  const url = new URL(base);
  return new Promise((resolveOpen, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      let buf = '';
      const stream: OpenStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events: [],
        body: () => buf,
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end = buf.indexOf('\n\n');
        while (end >= 0 && res.statusCode === 200) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event !== undefined && data !== undefined) stream.events.push({ event, data: JSON.parse(data) });
          end = buf.indexOf('\n\n');
        }
      });
      res.on('error', () => {});
      resolveOpen(stream);
    });
    req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
    req.end();
  });
}

/** Waits until `check` is true, polling every few ms (the server answers on the same event loop). */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
