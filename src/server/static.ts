/**
 * Static files of the dashboard without path traversal: a request path is decoded, resolved against the
 * root folder and served only if the result is still inside it. `..` segments are refused before any
 * resolution, so `/static/../package.json` and its percent-encoded forms never reach the file system.
 */
import { resolve, sep } from 'node:path';

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

/**
 * The file `relPath` (already stripped of its route prefix, still URL-encoded) under `rootDir`, or null
 * when it would leave `rootDir`, is empty, or holds a NUL byte.
 */
export function resolveInside(rootDir: string, relPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relPath);
  } catch {
    return null;
  }
  if (decoded === '' || decoded.includes('\0') || hasDotDotSegment(relPath)) return null;
  const root = resolve(rootDir);
  const full = resolve(root, decoded.replace(/^[/\\]+/, ''));
  return full.startsWith(root + sep) ? full : null;
}

/** Content types of the files the dashboard serves. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
