/**
 * One pass over a frame's JSON bytes for the two rules that need no parse:
 * no raw `>` (the spec's), and the nesting bound (ours, MAX_JSON_DEPTH).
 * Brackets inside strings do not count. The decoder runs it on every line,
 * the encoder on what it is about to send, so both sides agree.
 */

const GT = 0x3e; // >
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]

/** Marks a raw `>` in the result of `scanJson`. */
export const RAW_GT = -1;

/** The deepest nesting of objects and arrays in `bytes[0, end)`, or RAW_GT when a raw `>` is there. */
export function scanJson(bytes: Uint8Array, end: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  for (let k = 0; k < end; k++) {
    const c = bytes[k]!;
    if (c === GT) return RAW_GT;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === BACKSLASH) escaped = true;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > deepest) deepest = depth;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return deepest;
}
