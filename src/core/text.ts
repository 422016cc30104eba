/**
 * Echoing user-supplied text (a file name, a CSV cell, a flag value) inside a message. Control
 * characters are escaped so that the text cannot break the one-line error, move the terminal cursor or
 * change its colours (ESC sequences), or reorder what is shown (Unicode bidi overrides); very long text
 * is cut so one bad cell cannot flood the terminal.
 */

/** How many characters of user text a message shows by default. */
export const MAX_ECHO_CHARS = 200;

/** Short escapes for the common controls; the rest are written as \xNN or \uNNNN. */
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * True for C0 controls (U+0000-001F), DEL and C1 controls (U+007F-009F), the line and paragraph
 * separators (U+2028-2029) and the bidi embedding, override and isolate marks (U+202A-202E, U+2066-2069).
 */
export function isControlChar(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * `text` with every control character escaped (`\n`, `\t`, `\r`, `\x1b`, `\u202e`) and, when longer than
 * `maxChars`, cut there with a note of the full length: `abc... (5000 characters)`.
 */
export function escapeControl(text: string, maxChars: number = MAX_ECHO_CHARS): string {
  const shown = text.length > maxChars ? text.slice(0, maxChars) : text;
  let out = '';
  for (const ch of shown) {
    const code = ch.codePointAt(0) as number;
    if (!isControlChar(code)) out += ch;
    else out += NAMED_ESCAPES[ch] ?? (code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`);
  }
  return text.length > maxChars ? `${out}... (${text.length} characters)` : out;
}

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, '0');
}
