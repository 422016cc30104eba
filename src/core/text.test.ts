import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControl, isControlChar, MAX_ECHO_CHARS } from './text.js';

test('escapeControl writes controls as escapes and leaves other text alone', () => {
  assert.equal(escapeControl('plain text, ümlaut, 日本, emoji 🙂'), 'plain text, ümlaut, 日本, emoji 🙂');
  assert.equal(escapeControl('a\nb\tc\rd'), 'a\\nb\\tc\\rd');
  assert.equal(escapeControl('\u001b[31mred\u0000'), '\\x1b[31mred\\x00');
  assert.equal(escapeControl('del\u007f c1\u0085'), 'del\\x7f c1\\x85');
  assert.equal(escapeControl('evil\u202Etxt.exe \u2066x\u2069 \u2028'), 'evil\\u202etxt.exe \\u2066x\\u2069 \\u2028');
});

test('escapeControl cuts long text and says how long it was', () => {
  const long = 'x'.repeat(MAX_ECHO_CHARS + 50);
  assert.equal(escapeControl(long), `${'x'.repeat(MAX_ECHO_CHARS)}... (${MAX_ECHO_CHARS + 50} characters)`);
  assert.equal(escapeControl('abcdef', 3), 'abc... (6 characters)');
  assert.equal(escapeControl('abc', 3), 'abc');
});

test('no control character survives escaping', () => {
  let all = '';
  for (let c = 0; c < 0x3000; c++) all += String.fromCharCode(c);
  const out = escapeControl(all, Number.POSITIVE_INFINITY);
  for (const ch of out) assert.ok(!isControlChar(ch.codePointAt(0)!), `U+${ch.codePointAt(0)!.toString(16)}`);
});
