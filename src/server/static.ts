/**
 * Paths and types of the dashboard's static files. The server serves only the named assets of
 * src/report/assets.ts, and refuses any path with a `..` segment (literal or percent-encoded) before routing.
 */

/** Whether a raw request path has a `..` segment, literally or percent-encoded (%2e%2e, ..%2f, ..%5c). */
export function hasDotDotSegment(rawPath: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return true; // malformed escapes: refuse rather than guess
  }
  return decoded.split(/[/\\]/).some((segment) => segment === '..');
}

/** Content types of the files the dashboard serves. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};
