/**
 * The streaming decoder: bytes in, in any chunking (down to one byte at a
 * time), and out come frames, events, log lines and counted errors, in the
 * order their last byte arrived.
 *
 * It works on bytes in two fixed buffers, one for the data line (8192 bytes,
 * plus one for a trailing `\r`) and one for the annotation (1024), so memory
 * stays bounded whatever the peer sends; the reference implementation grows a
 * string without limit. Past a bound it counts a framing error and discards:
 * a data line up to its `\n`, an annotation up to its `>`.
 *
 * Decisions where the spec leaves room, all following from "an annotation
 * never contains `<`, `>` or `\n`":
 * - A `\n` inside an open annotation means its `<` was a raw byte of a data
 *   line: count `rawBracket`, drop that line, and start afresh. The same `\n`
 *   ends an over-long annotation being discarded, so one stray `<` can never
 *   swallow good traffic past the end of its line.
 * - A `<` inside an open annotation means the first `<` was raw: count
 *   `rawBracket`, drop the line it sat in, and open a new annotation.
 * - Annotations are still extracted while an over-long data line is being
 *   discarded: they are independent of the line they interrupt.
 * - A line without a `#hh` checksum counts as a CRC error (it cannot be
 *   checked); a line with a good CRC but a raw `>` counts as `rawBracket`.
 * - A frame nested deeper than MAX_JSON_DEPTH (ours, not the spec's) counts
 *   as `badFields`. A bad-fields error names the frame's msgId when it has a
 *   valid one, so the request it answers can fail at once.
 *
 * A plain class with a callback (no EventEmitter) so the connection actor's
 * worker can own it without ceremony.
 */
import { crc8 } from './crc8.js';
import { parseAnnotation } from './annotation.js';
import { RAW_GT, scanJson } from './scan.js';
import { checkRequestFrame, checkResponseFrame, isJsonObject, isMsgId } from './payloads.js';
import {
  MAX_ANNOTATION_BYTES,
  MAX_JSON_DEPTH,
  MAX_LINE_BYTES,
  type Decoded,
  type DecodeErrorKind,
  type DecoderCounters,
  type RequestFrame,
  type ResponseFrame,
} from './model.js';

const LT = 0x3c; // <
const GT = 0x3e; // >
const NL = 0x0a; // \n
const CR = 0x0d; // \r
const HASH = 0x23; // #
const SAMPLE_BYTES = 64;

export type DecodeListener<F> = (out: Decoded<F>) => void;

/** Checks a parsed JSON value: the typed frame, or why it is not one. */
export type FrameCheck<F> = (value: unknown) => F | string;

export interface DecoderOptions {
  /** Longest data line, `\n` and a trailing `\r` excluded. Default 8192 (the spec's). */
  maxLineBytes?: number;
  /** Longest annotation, brackets excluded. Default 1024 (the spec's). */
  maxAnnotationBytes?: number;
  /** Deepest nesting of objects and arrays in a frame, the frame itself included. Default 32 (ours). */
  maxDepth?: number;
}

const COUNTER_OF: Record<DecodeErrorKind, keyof DecoderCounters> = {
  framing: 'framingErrors',
  crc: 'crcErrors',
  badJson: 'badJson',
  badFields: 'badFields',
  rawBracket: 'rawBracket',
  badEvent: 'badEvents',
};

export class StreamDecoder<F> {
  readonly #listener: DecodeListener<F>;
  readonly #check: FrameCheck<F>;
  readonly #maxLine: number;
  readonly #maxAnnotation: number;
  readonly #maxDepth: number;

  // One spare byte so a line of exactly maxLine bytes may still end in `\r\n`.
  readonly #line: Buffer;
  #lineLen = 0;
  /** The current line went over the bound; discard up to `\n`. */
  #lineDiscard = false;
  /** The current line held a raw `<` (already counted); drop it at `\n`. */
  #lineTainted = false;

  readonly #annotation: Buffer;
  #annotationLen = 0;
  #inAnnotation = false;
  /** The current annotation went over the bound; discard up to `>` (or `\n`). */
  #annotationDiscard = false;

  readonly #counters: DecoderCounters = {
    bytes: 0,
    frames: 0,
    logs: 0,
    events: 0,
    framingErrors: 0,
    crcErrors: 0,
    badJson: 0,
    badFields: 0,
    rawBracket: 0,
    badEvents: 0,
  };

  /** The first exception a listener threw during this push, rethrown once the chunk is fully decoded. */
  #listenerError: { error: unknown } | undefined;

  constructor(listener: DecodeListener<F>, check: FrameCheck<F>, options: DecoderOptions = {}) {
    this.#listener = listener;
    this.#check = check;
    this.#maxLine = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.#maxAnnotation = options.maxAnnotationBytes ?? MAX_ANNOTATION_BYTES;
    this.#maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
    this.#line = Buffer.allocUnsafe(this.#maxLine + 1);
    this.#annotation = Buffer.allocUnsafe(this.#maxAnnotation);
  }

  /** A copy of the counters since construction (reset() keeps them). */
  get counters(): DecoderCounters {
    return { ...this.#counters };
  }

  /** Bytes currently held for an unfinished line and annotation; never above the bounds. */
  get buffered(): number {
    return this.#lineLen + this.#annotationLen;
  }

  /**
   * Decodes a chunk; outputs go to the listener synchronously. A listener that
   * throws does not stop decoding: the rest of the chunk is decoded (nothing
   * is lost) and the first exception is rethrown at the end.
   */
  push(chunk: Uint8Array): void {
    this.#counters.bytes += chunk.length;
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.#inAnnotation) i = this.#annotationBytes(chunk, i, end);
      else i = this.#lineBytes(chunk, i, end);
    }
    const failed = this.#listenerError;
    if (failed !== undefined) {
      this.#listenerError = undefined;
      throw failed.error;
    }
  }

  /** Forgets any partial line or annotation, e.g. when a new connection starts. Counters are kept. */
  reset(): void {
    this.#lineLen = 0;
    this.#lineDiscard = false;
    this.#lineTainted = false;
    this.#annotationLen = 0;
    this.#inAnnotation = false;
    this.#annotationDiscard = false;
  }

  // ------------------------------------------------------------ scanning

  /** Data-line bytes from i; returns where it stopped (after a delimiter it handled, or at end). */
  #lineBytes(chunk: Uint8Array, i: number, end: number): number {
    const line = this.#line;
    const cap = line.length;
    let len = this.#lineLen;
    const discard = this.#lineDiscard;
    while (i < end) {
      const c = chunk[i++]!;
      if (c === LT) {
        this.#lineLen = len;
        this.#inAnnotation = true;
        this.#annotationLen = 0;
        this.#annotationDiscard = false;
        return i;
      }
      if (c === NL) {
        this.#lineLen = len;
        this.#endLine();
        return i;
      }
      if (discard) continue;
      if (len === cap) {
        this.#lineLen = len;
        this.#lineDiscard = true;
        this.#error('framing', `data line longer than ${this.#maxLine} bytes`, line, len);
        return i;
      }
      line[len++] = c;
    }
    this.#lineLen = len;
    return i;
  }

  #annotationBytes(chunk: Uint8Array, i: number, end: number): number {
    const buf = this.#annotation;
    const cap = buf.length;
    let len = this.#annotationLen;
    const discard = this.#annotationDiscard;
    while (i < end) {
      const c = chunk[i++]!;
      if (c === GT) {
        this.#annotationLen = len;
        this.#inAnnotation = false;
        if (!discard) this.#finishAnnotation();
        this.#annotationLen = 0;
        return i;
      }
      if (c === NL) {
        // An annotation never holds `\n`: its `<` was a raw byte of the data line.
        if (!discard) this.#error('rawBracket', 'unclosed < before end of line', buf, len);
        this.#inAnnotation = false;
        this.#annotationLen = 0;
        this.#lineTainted = true;
        this.#endLine();
        return i;
      }
      if (c === LT) {
        if (!discard) this.#error('rawBracket', '< inside an annotation', buf, len);
        this.#lineTainted = true;
        this.#annotationLen = 0;
        this.#annotationDiscard = false;
        return i;
      }
      if (discard) continue;
      if (len === cap) {
        this.#annotationLen = 0;
        this.#annotationDiscard = true;
        this.#error('framing', `annotation longer than ${this.#maxAnnotation} bytes`, buf, len);
        return i;
      }
      buf[len++] = c;
    }
    this.#annotationLen = len;
    return i;
  }

  // ------------------------------------------------------------- results

  #endLine(): void {
    let len = this.#lineLen;
    const dropped = this.#lineDiscard || this.#lineTainted;
    this.#lineLen = 0;
    this.#lineDiscard = false;
    this.#lineTainted = false;
    if (dropped) return; // already counted when it went wrong
    const line = this.#line;
    if (len > 0 && line[len - 1] === CR) len--;
    if (len === 0) return; // empty lines are ignored
    if (len > this.#maxLine) {
      this.#error('framing', `data line longer than ${this.#maxLine} bytes`, line, len);
      return;
    }
    this.#frame(line, len);
  }

  #frame(line: Buffer, len: number): void {
    // The last `#` separates JSON and checksum (a `#` may appear inside JSON strings).
    let hash = len - 1;
    while (hash >= 0 && line[hash] !== HASH) hash--;
    if (hash < 0 || len - hash !== 3) {
      this.#error('crc', 'no #hh checksum at the end of the line', line, len);
      return;
    }
    const sent = (hexValue(line[hash + 1]!) << 4) | hexValue(line[hash + 2]!);
    if (sent < 0) {
      this.#error('crc', 'checksum is not two hex digits', line, len);
      return;
    }
    if (crc8(line, 0, hash) !== sent) {
      this.#error('crc', 'checksum mismatch', line, len);
      return;
    }
    const deepest = scanJson(line, hash);
    if (deepest === RAW_GT) {
      this.#error('rawBracket', 'raw > in a frame', line, len);
      return;
    }
    let value: unknown;
    try {
      // V8 parses JSON without recursion, so even a line of 4096 brackets is safe to parse here.
      value = JSON.parse(line.toString('utf8', 0, hash));
    } catch {
      this.#error('badJson', 'JSON does not parse', line, len);
      return;
    }
    if (deepest > this.#maxDepth) {
      this.#error(
        'badFields',
        `nested deeper than ${this.#maxDepth} levels`,
        line,
        len,
        readableMsgId(value),
      );
      return;
    }
    const checked = this.#check(value);
    if (typeof checked === 'string') {
      this.#error('badFields', checked, line, len, readableMsgId(value));
      return;
    }
    this.#counters.frames++;
    this.#emit({ kind: 'frame', frame: checked });
  }

  #finishAnnotation(): void {
    const text = this.#annotation.toString('utf8', 0, this.#annotationLen);
    const parsed = parseAnnotation(text);
    switch (parsed.kind) {
      case 'log':
        this.#counters.logs++;
        this.#emit(parsed);
        return;
      case 'event':
        this.#counters.events++;
        this.#emit(parsed);
        return;
      case 'badEvent':
        this.#error('badEvent', parsed.reason, this.#annotation, this.#annotationLen);
        return;
    }
  }

  #error(error: DecodeErrorKind, reason: string, bytes: Buffer, len: number, msgId?: number): void {
    this.#counters[COUNTER_OF[error]]++;
    const sample = bytes.toString('latin1', 0, Math.min(len, SAMPLE_BYTES));
    this.#emit(
      msgId === undefined
        ? { kind: 'error', error, reason, sample }
        : { kind: 'error', error, reason, sample, msgId },
    );
  }

  #emit(out: Decoded<F>): void {
    try {
      this.#listener(out);
    } catch (error) {
      this.#listenerError ??= { error };
    }
  }
}

/** The msgId of a parsed frame that is otherwise bad, when it has a valid one. */
function readableMsgId(value: unknown): number | undefined {
  return isJsonObject(value) && isMsgId(value.msgId) ? value.msgId : undefined;
}

/** 0..15 for a hex digit (either case), -256 otherwise so that any combination stays negative. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -256;
}

/** The service's side: decodes what a controller sends (responses, annotations). */
export class ResponseDecoder extends StreamDecoder<ResponseFrame> {
  constructor(listener: DecodeListener<ResponseFrame>, options?: DecoderOptions) {
    super(listener, checkResponseFrame, options);
  }
}

/** The controller's side (the simulator): decodes what a service sends (requests). */
export class RequestDecoder extends StreamDecoder<RequestFrame> {
  constructor(listener: DecodeListener<RequestFrame>, options?: DecoderOptions) {
    super(listener, checkRequestFrame, options);
  }
}
