/**
 * What the CLI prints from the service, made safe for a terminal. The
 * service passes on text it did not write: a controller's handshake fields
 * (firmware version, platform, ...), its error messages, the reason a link
 * dropped. A controller that puts an ESC sequence there must not get to
 * retitle the operator's window, move the cursor or hide lines. Every string
 * (keys too) is made printable (errors/quote.ts) before anything formats it;
 * the colours the CLI adds come after and are its own.
 */
import { printable } from '../errors/index.js';

/** Deeper than any view the API answers with; past it a value is shown as "…". */
const MAX_DEPTH = 32;

/** `value` (parsed JSON) with every string and key printable; walks arrays and plain objects. */
export function terminalSafe(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return printable(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) return value.map((item) => terminalSafe(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    Object.defineProperty(out, printable(key), {
      value: terminalSafe(inner, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Characters JSON.stringify leaves as they are but a terminal may act on:
 * DEL, the C1 controls, the line separators and the bidi controls (C0 it
 * escapes itself). They can only stand inside strings, so `\uXXXX` keeps
 * the text the same JSON.
 */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `value` as indented JSON that is safe to print and parses back to the same value. */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    UNSAFE_IN_JSON,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
