/**
 * Quoting outside text in what a person reads: error messages, the CLI's
 * output. Text from a file, a variable, a controller or another process may
 * carry terminal controls (an ESC sequence can retitle the window, move the
 * cursor or hide the lines after it), bidirectional overrides (which make a
 * line read differently from what it holds), or be a megabyte long. Such
 * characters are written as visible escapes (`\x1b`, `\u202e`), never
 * passed on, and long text is cut with its length said.
 */

/**
 * C0 controls (tab and newline included: every field we print is one line),
 * DEL, C1 controls (U+009B is a CSI on its own for some terminals), the
 * line and paragraph separators, and the bidirectional marks, embeddings,
 * overrides and isolates.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g; // eslint-disable-line no-control-regex

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control, separator and bidi character written as a visible escape. */
export function printable(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/** How much of a piece of outside text an error quotes, unless told otherwise. */
export const QUOTE_MAX_CHARS = 120;

/**
 * `text` cut to `maxChars` (saying how long it was) and made printable: what
 * an error may quote of a key, a value or a name it did not write itself.
 */
export function quote(text: string, maxChars = QUOTE_MAX_CHARS): string {
  if (text.length <= maxChars) return printable(text);
  let head = text.slice(0, maxChars);
  // Do not leave half of a surrogate pair at the cut.
  const last = head.charCodeAt(head.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) head = head.slice(0, -1);
  return `${printable(head)}… (${text.length} characters)`;
}
