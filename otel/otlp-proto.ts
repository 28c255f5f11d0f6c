/**
 * OTLP/protobuf encoding of ended worker spans, written in the worker as
 * they end, so the main thread only joins bytes: no span objects there, no
 * clone of span data between threads, no second encoding pass. The bytes
 * are the ones @opentelemetry/otlp-transformer's ProtobufTraceSerializer
 * writes for the same spans (same fields, same order; the tests compare
 * them), so a collector sees no difference.
 *
 * A worker's chunk is a run of `ScopeSpans.spans` fields (tag 2, length,
 * Span) for one scope; `buildTraceRequest` wraps chunks of the same scope
 * into one ScopeSpans of one ResourceSpans of an ExportTraceServiceRequest.
 */
import type { AttributeValue, Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { EndedSpan } from './span-wire.js';
import { addMillis, millisToHrTime } from './span-wire.js';

const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** A growable byte buffer with the protobuf primitives. */
export class ProtoWriter {
  buf: Uint8Array;
  pos = 0;
  #view: DataView;

  constructor(capacity = 16 * 1024) {
    this.buf = new Uint8Array(capacity);
    this.#view = new DataView(this.buf.buffer);
  }

  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.#view = new DataView(grown.buffer);
  }

  /** The bytes written so far, copied out; the writer starts over. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }

  tag(field: number, wireType: number): void {
    const tag = (field << 3) | wireType;
    if (tag < 0x80) {
      // Every tag of a span is one byte: skip varint's general path.
      this.ensure(1);
      this.buf[this.pos++] = tag;
      return;
    }
    this.varint(tag);
  }

  /** Unsigned up to 2^53, or a negative int64 (ten bytes, two's complement), as ProtobufWriter does. */
  varint(value: number): void {
    this.ensure(10);
    this.pos = putVarint(this.buf, this.pos, value);
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.#view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.#view.setUint32(this.pos, low >>> 0, true);
    this.#view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.#view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** A length-prefixed UTF-8 string. */
  string(text: string): void {
    const length = text.length;
    if (isAscii(text)) {
      this.varint(length);
      this.ensure(length);
      this.pos = putAscii(this.buf, this.pos, text);
      return;
    }
    this.bytes(Buffer.from(text, 'utf8'));
  }

  /** Length-prefixed bytes. */
  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.raw(bytes);
  }

  raw(bytes: Uint8Array): void {
    const length = bytes.length;
    this.ensure(length);
    const buf = this.buf;
    if (length > 64) {
      buf.set(bytes, this.pos);
      this.pos += length;
      return;
    }
    // A few bytes (an encoded key): a loop beats TypedArray.set's call.
    this.pos = putBytes(buf, this.pos, bytes);
  }

  /** A length-prefixed id from its hex text (16 or 8 bytes). */
  hexId(hex: string): void {
    const length = hex.length >>> 1;
    this.varint(length);
    this.ensure(length);
    this.pos = putHexId(this.buf, this.pos, hex, length);
  }

  /** Starts a length-delimited field's body; `end` with what this returns writes its length before it. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  end(mark: number): void {
    const length = this.pos - mark - 1;
    if (length < 0x80) {
      this.buf[mark] = length;
      return;
    }
    // The length takes more than the one byte kept for it: move the body up.
    let extra = 0;
    for (let v = length >>> 7; v > 0; v >>>= 7) extra += 1;
    this.ensure(extra);
    this.buf.copyWithin(mark + 1 + extra, mark + 1, this.pos);
    this.pos += extra;
    let v = length;
    let at = mark;
    while (v > 0x7f) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at] = v;
  }
}

/** The value of a hex digit by its character code (ids are valid hex: checked where they were made). */
const HEX_VALUE = new Uint8Array(128);
for (let i = 0; i < 10; i += 1) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i += 1) {
  HEX_VALUE[65 + i] = 10 + i;
  HEX_VALUE[97 + i] = 10 + i;
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** AnyValue, as the SDK writes it (integers as int_value, other numbers as double_value). */
export function writeAnyValue(w: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, 2);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, 0);
      w.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.tag(3, 0);
        w.varint(value);
      } else {
        w.tag(4, 1);
        w.double(value);
      }
      return;
  }
  if (Array.isArray(value)) {
    w.tag(5, 2);
    const array = w.begin();
    for (const item of value as unknown[]) {
      w.tag(1, 2);
      const at = w.begin();
      writeAnyValue(w, item);
      w.end(at);
    }
    w.end(array);
  }
}

/**
 * The `key` part of a KeyValue (tag, length, UTF-8), kept per key: the same
 * few attribute keys come back on every span.
 */
const keyCache = new Map<string, Uint8Array>();
const KEY_CACHE_MAX = 1024;

function keyBytes(key: string): Uint8Array {
  let bytes = keyCache.get(key);
  if (bytes === undefined) {
    const w = new ProtoWriter(key.length * 3 + 8);
    w.tag(1, 2);
    w.string(key);
    bytes = w.take();
    if (keyCache.size < KEY_CACHE_MAX) keyCache.set(key, bytes);
  }
  return bytes;
}

/** A span's `name` field (tag 5), kept per name: spans of a kind share theirs. */
const nameCache = new Map<string, Uint8Array>();

function nameBytes(name: string): Uint8Array {
  let bytes = nameCache.get(name);
  if (bytes === undefined) {
    const w = new ProtoWriter(name.length * 3 + 8);
    w.tag(5, 2);
    w.string(name);
    bytes = w.take();
    if (nameCache.size < KEY_CACHE_MAX) nameCache.set(name, bytes);
  }
  return bytes;
}

/** One KeyValue as field `field` of its message. */
function writeKeyValue(w: ProtoWriter, field: number, key: string, value: unknown): void {
  w.tag(field, 2);
  const kv = w.begin();
  w.raw(keyBytes(key));
  w.tag(2, 2);
  const at = w.begin();
  writeAnyValue(w, value);
  w.end(at);
  w.end(kv);
}

/** (key, value) pairs from `from` in `pairs`, as repeated KeyValue field `field`. */
function writePairs(w: ProtoWriter, field: number, pairs: unknown[], from: number): void {
  for (let i = from; i < pairs.length; i += 2) writeKeyValue(w, field, pairs[i] as string, pairs[i + 1]);
}

/** Every KeyValue of an attributes object, as field `field`. */
export function writeAttributes(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    if (Object.prototype.hasOwnProperty.call(attributes, key)) {
      writeKeyValue(w, field, key, attributes[key] as AttributeValue);
    }
  }
}

/** A KeyValue field, encoded once (e.g. tether.actor.id, added to every span of a worker). */
export function encodeKeyValue(field: number, key: string, value: AttributeValue): Uint8Array {
  const w = new ProtoWriter(256);
  writeKeyValue(w, field, key, value);
  return w.take();
}

/** Epoch ms to fixed64 nanoseconds, via the same HrTime and the same arithmetic as the SDK. */
function writeTime(w: ProtoWriter, seconds: number, nanos: number): void {
  const lowSeconds = seconds & 0xffff;
  const highSeconds = (seconds / 0x10000) >>> 0;
  const fromLow = lowSeconds * 1e9;
  const fromHigh = highSeconds * 1e9;
  const low = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos;
  const high =
    Math.floor(fromLow / 0x100000000) + ((fromHigh / 0x10000) >>> 0) + Math.floor(low / 0x100000000);
  w.fixed64(low >>> 0, high >>> 0);
}

/**
 * One span as a `ScopeSpans.spans` field (tag 2), with `extra` (an encoded
 * KeyValue, field 9) after its own attributes.
 */
export function writeSpanField(w: ProtoWriter, span: EndedSpan, extra: Uint8Array | undefined): void {
  if (!writeSimpleSpanField(w, span, extra)) writeAnySpanField(w, span, extra);
}

/**
 * The common span (no events, no links, attribute values that are ASCII
 * strings, numbers or booleans), the same bytes as writeAnySpanField but
 * sized first and written in one pass with local indexes: every command
 * makes one, and the general path's per-field calls and length back-patching
 * cost several times the bytes themselves. False (nothing written) for any
 * other span.
 */
function writeSimpleSpanField(w: ProtoWriter, span: EndedSpan, extra: Uint8Array | undefined): boolean {
  if (span.events !== undefined || span.links !== undefined) return false;
  const pairs = span.attributes;
  const count = pairs.length >>> 1;
  if (count > MAX_SIMPLE_ATTRIBUTES) return false;
  const anySizes = simpleAnySizes;
  const keys = simpleKeys;
  let attributesSize = 0;
  for (let i = 0; i < count; i += 1) {
    const any = anyValueSize(pairs[2 * i + 1]);
    if (any < 0) return false;
    anySizes[i] = any;
    const key = keyBytes(pairs[2 * i] as string);
    keys[i] = key;
    const kv = key.length + 1 + varintSize(any) + any;
    attributesSize += 1 + varintSize(kv) + kv;
  }
  const statusMessage = span.statusMessage;
  let messageSize = 0;
  if (statusMessage) {
    if (!isAscii(statusMessage)) return false;
    messageSize = 1 + varintSize(statusMessage.length) + statusMessage.length;
  }
  const statusSize = messageSize + 1 + varintSize(span.statusCode);
  const name = nameBytes(span.name);
  const hasParent = span.parentSpanId !== '';
  const bodySize =
    18 + // trace id
    10 + // span id
    (hasParent ? 10 : 0) +
    name.length +
    1 +
    varintSize(span.kind + 1) +
    18 + // start and end times
    attributesSize +
    (extra === undefined ? 0 : extra.length) +
    1 +
    varintSize(span.droppedAttributes) +
    1 +
    varintSize(span.droppedEvents) +
    1 +
    varintSize(span.droppedLinks) +
    1 +
    varintSize(statusSize) +
    statusSize +
    6; // flags: a two-byte tag and a fixed32

  w.ensure(1 + 10 + bodySize);
  const buf = w.buf;
  let pos = w.pos;
  buf[pos++] = 0x12; // field 2, length-delimited
  pos = putVarint(buf, pos, bodySize);
  buf[pos++] = 0x0a;
  buf[pos++] = 16;
  pos = putHexId(buf, pos, span.traceId, 16);
  buf[pos++] = 0x12;
  buf[pos++] = 8;
  pos = putHexId(buf, pos, span.spanId, 8);
  if (hasParent) {
    buf[pos++] = 0x22;
    buf[pos++] = 8;
    pos = putHexId(buf, pos, span.parentSpanId, 8);
  }
  pos = putBytes(buf, pos, name);
  buf[pos++] = 0x30;
  pos = putVarint(buf, pos, span.kind + 1);
  w.pos = pos;
  writeSpanTimes(w, span.startMs, span.durationMs);
  pos = w.pos;
  for (let i = 0; i < count; i += 1) {
    const key = keys[i] as Uint8Array;
    const any = anySizes[i] as number;
    const kv = key.length + 1 + varintSize(any) + any;
    buf[pos++] = 0x4a; // field 9, length-delimited
    pos = putVarint(buf, pos, kv);
    pos = putBytes(buf, pos, key);
    buf[pos++] = 0x12;
    pos = putVarint(buf, pos, any);
    pos = putAnyValue(buf, pos, pairs[2 * i + 1]);
  }
  if (extra !== undefined) pos = putBytes(buf, pos, extra);
  buf[pos++] = 0x50;
  pos = putVarint(buf, pos, span.droppedAttributes);
  buf[pos++] = 0x60;
  pos = putVarint(buf, pos, span.droppedEvents);
  buf[pos++] = 0x70;
  pos = putVarint(buf, pos, span.droppedLinks);
  buf[pos++] = 0x7a;
  pos = putVarint(buf, pos, statusSize);
  if (statusMessage) {
    buf[pos++] = 0x12;
    pos = putVarint(buf, pos, statusMessage.length);
    pos = putAscii(buf, pos, statusMessage);
  }
  buf[pos++] = 0x18;
  pos = putVarint(buf, pos, span.statusCode);
  buf[pos++] = 0x85; // field 16, fixed32: two bytes of tag
  buf[pos++] = 0x01;
  const flags = (span.traceFlags & 0xff) | HAS_IS_REMOTE | (span.parentIsRemote ? IS_REMOTE : 0);
  buf[pos++] = flags & 0xff;
  buf[pos++] = (flags >>> 8) & 0xff;
  buf[pos++] = (flags >>> 16) & 0xff;
  buf[pos++] = (flags >>> 24) & 0xff;
  w.pos = pos;
  return true;
}

/** Attributes a simple span may have (their sizes are kept in one array, not one per span). */
const MAX_SIMPLE_ATTRIBUTES = 32;
const simpleAnySizes = new Array<number>(MAX_SIMPLE_ATTRIBUTES).fill(0);
const simpleKeys = new Array<Uint8Array>(MAX_SIMPLE_ATTRIBUTES).fill(new Uint8Array(0));

/** The size of an AnyValue as writeAnyValue writes it; -1 for one the simple path leaves to it. */
function anyValueSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return isAscii(value) ? 1 + varintSize(value.length) + value.length : -1;
    case 'boolean':
      return 2;
    case 'number':
      return Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64 ? 1 + varintSize(value) : 9;
    default:
      return -1;
  }
}

function putAnyValue(buf: Uint8Array, pos: number, value: unknown): number {
  switch (typeof value) {
    case 'string':
      buf[pos++] = 0x0a;
      pos = putVarint(buf, pos, value.length);
      return putAscii(buf, pos, value);
    case 'boolean':
      buf[pos++] = 0x10;
      buf[pos++] = value ? 1 : 0;
      return pos;
    default: {
      const number = value as number;
      if (Number.isInteger(number) && number >= MIN_INT64 && number < MAX_INT64) {
        buf[pos++] = 0x18;
        return putVarint(buf, pos, number);
      }
      buf[pos++] = 0x21;
      DOUBLE_VIEW.setFloat64(0, number, true);
      for (let i = 0; i < 8; i += 1) buf[pos++] = DOUBLE_BYTES[i] as number;
      return pos;
    }
  }
}

const DOUBLE_BYTES = new Uint8Array(8);
const DOUBLE_VIEW = new DataView(DOUBLE_BYTES.buffer);

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) if (text.charCodeAt(i) > 127) return false;
  return true;
}

/** The bytes ProtoWriter.varint writes for `value`. */
function varintSize(value: number): number {
  if (value < 0) return 10;
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 4;
  for (let v = Math.floor(value / 0x10000000); v > 0; v = Math.floor(v / 0x80)) size += 1;
  return size;
}

/** ProtoWriter.varint on a buffer already large enough. */
function putVarint(buf: Uint8Array, pos: number, value: number): number {
  if (value >= 0 && value < 0x80) {
    buf[pos] = value;
    return pos + 1;
  }
  if (value >= 0 && value <= 0xffffffff) {
    let v = value >>> 0;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    return pos;
  }
  return putLongVarint(buf, pos, value);
}

function putLongVarint(buf: Uint8Array, pos: number, value: number): number {
  let low: number;
  let high: number;
  if (value >= 0) {
    low = value >>> 0;
    high = (value / 0x100000000) >>> 0;
  } else {
    const abs = Math.abs(value);
    low = ~(abs >>> 0) >>> 0;
    high = ~((abs / 0x100000000) >>> 0) >>> 0;
    low = (low + 1) >>> 0;
    if (low === 0) high = (high + 1) >>> 0;
  }
  while (high > 0 || low > 0x7f) {
    buf[pos++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
  }
  buf[pos++] = low & 0x7f;
  return pos;
}

function putHexId(buf: Uint8Array, pos: number, hex: string, bytes: number): number {
  for (let i = 0; i < bytes; i += 1) {
    buf[pos++] =
      ((HEX_VALUE[hex.charCodeAt(2 * i)] as number) << 4) | (HEX_VALUE[hex.charCodeAt(2 * i + 1)] as number);
  }
  return pos;
}

function putBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i += 1) buf[pos++] = bytes[i] as number;
  return pos;
}

function putAscii(buf: Uint8Array, pos: number, text: string): number {
  for (let i = 0; i < text.length; i += 1) buf[pos++] = text.charCodeAt(i);
  return pos;
}

/**
 * A span's start and end time fields (tags 7 and 8): millisToHrTime and
 * addMillis (span-wire.ts) without their arrays, the same arithmetic.
 */
function writeSpanTimes(w: ProtoWriter, startMs: number, durationMs: number): void {
  const startSeconds = Math.trunc(startMs / 1000);
  const startNanos = Math.round((startMs - startSeconds * 1000) * 1e6);
  const addSeconds = Math.trunc(durationMs / 1000);
  let endSeconds = startSeconds + addSeconds;
  let endNanos = startNanos + Math.round((durationMs - addSeconds * 1000) * 1e6);
  if (endNanos >= 1e9) {
    endSeconds += 1;
    endNanos -= 1e9;
  } else if (endNanos < 0) {
    endSeconds -= 1;
    endNanos += 1e9;
  }
  w.tag(7, 1);
  writeTime(w, startSeconds, startNanos);
  w.tag(8, 1);
  writeTime(w, endSeconds, endNanos);
}

/** Any span, field by field (events, links, any attribute value). */
function writeAnySpanField(w: ProtoWriter, span: EndedSpan, extra: Uint8Array | undefined): void {
  w.tag(2, 2);
  const at = w.begin();
  w.tag(1, 2);
  w.hexId(span.traceId);
  w.tag(2, 2);
  w.hexId(span.spanId);
  if (span.parentSpanId !== '') {
    w.tag(4, 2);
    w.hexId(span.parentSpanId);
  }
  w.raw(nameBytes(span.name));
  w.tag(6, 0);
  w.varint(span.kind + 1);
  writeSpanTimes(w, span.startMs, span.durationMs);
  const start = millisToHrTime(span.startMs);
  writePairs(w, 9, span.attributes, 0);
  if (extra !== undefined) w.raw(extra);
  w.tag(10, 0);
  w.varint(span.droppedAttributes);
  for (const event of span.events ?? []) {
    w.tag(11, 2);
    const e = w.begin();
    const time = addMillis(start, event[1] as number);
    w.tag(1, 1);
    writeTime(w, time[0], time[1]);
    w.tag(2, 2);
    w.string(event[0] as string);
    writePairs(w, 3, event, 3);
    w.tag(4, 0);
    w.varint(event[2] as number);
    w.end(e);
  }
  w.tag(12, 0);
  w.varint(span.droppedEvents);
  for (const link of span.links ?? []) {
    w.tag(13, 2);
    const l = w.begin();
    w.tag(1, 2);
    w.hexId(link[0] as string);
    w.tag(2, 2);
    w.hexId(link[1] as string);
    writePairs(w, 4, link, 5);
    w.tag(5, 0);
    w.varint(link[4] as number);
    w.tag(6, 5);
    w.fixed32(((link[2] as number) & 0xff) | HAS_IS_REMOTE | (link[3] === true ? IS_REMOTE : 0));
    w.end(l);
  }
  w.tag(14, 0);
  w.varint(span.droppedLinks);
  w.tag(15, 2);
  const status = w.begin();
  if (span.statusMessage) {
    w.tag(2, 2);
    w.string(span.statusMessage);
  }
  w.tag(3, 0);
  w.varint(span.statusCode);
  w.end(status);
  w.tag(16, 5);
  w.fixed32((span.traceFlags & 0xff) | HAS_IS_REMOTE | (span.parentIsRemote ? IS_REMOTE : 0));
  w.end(at);
}

/** `ResourceSpans.resource` (field 1), encoded once per process. */
export function encodeResource(attributes: Attributes): Uint8Array {
  const w = new ProtoWriter(4096);
  w.tag(1, 2);
  const at = w.begin();
  writeAttributes(w, 1, attributes);
  w.tag(2, 0);
  w.varint(0);
  w.end(at);
  return w.take();
}

/** Chunks of span fields of one scope, as worker hand-overs carry them. */
export interface ScopeChunks {
  scope: InstrumentationScope;
  chunks: Uint8Array[];
}

/** An ExportTraceServiceRequest: one ResourceSpans (the resource encoded once) with one ScopeSpans per scope. */
export function buildTraceRequest(
  resource: Uint8Array,
  resourceSchemaUrl: string | undefined,
  scopes: readonly ScopeChunks[],
): Uint8Array {
  let size = 0;
  for (const { chunks } of scopes) for (const chunk of chunks) size += chunk.length;
  const w = new ProtoWriter(size + resource.length + 256 * (scopes.length + 1));
  w.tag(1, 2);
  const resourceSpans = w.begin();
  w.raw(resource);
  for (const { scope, chunks } of scopes) {
    w.tag(2, 2);
    const scopeSpans = w.begin();
    w.tag(1, 2);
    const s = w.begin();
    w.tag(1, 2);
    w.string(scope.name);
    if (scope.version) {
      w.tag(2, 2);
      w.string(scope.version);
    }
    w.end(s);
    for (const chunk of chunks) w.raw(chunk);
    if (scope.schemaUrl) {
      w.tag(3, 2);
      w.string(scope.schemaUrl);
    }
    w.end(scopeSpans);
  }
  if (resourceSchemaUrl) {
    w.tag(3, 2);
    w.string(resourceSchemaUrl);
  }
  w.end(resourceSpans);
  return w.take();
}
