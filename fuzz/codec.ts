/**
 * The codec (protocol/) under random and mutated streams, through both
 * decoders (the service's ResponseDecoder and the simulator's
 * RequestDecoder), split at random points:
 *
 * - random bytes, biased toward the protocol's delimiters;
 * - valid streams (frames, annotations inside lines) mutated: bytes flipped,
 *   deleted, inserted, duplicated, cut;
 * - frames whose JSON was mutated and whose CRC was then made right again,
 *   so the mutation reaches the JSON and field checks;
 * - annotations: any text, and handshakes with fields added, dropped or bent.
 *
 * For every input: no throw; never more buffered than the bounds (8192 + 1
 * bytes of line, 1024 of annotation); every output one of the typed kinds
 * (a frame that passes the field checks and can cross to another thread, a
 * log line, an event, a counted decode error of a known kind), and the
 * counters add up. For mutated streams, resynchronisation: after the
 * mutated bytes and a newline, a valid stream decodes exactly. For a
 * CRC-valid mutated frame, exactly one output: the frame or a bad-frame
 * error of the kind its damage calls for.
 */
import fc from 'fast-check';
import {
  LOG_LEVELS,
  MAX_ANNOTATION_BYTES,
  MAX_LINE_BYTES,
  RequestDecoder,
  ResponseDecoder,
  checkRequestFrame,
  checkResponseFrame,
  crc8,
  crcHex,
  encodeAnnotation,
  encodeRequest,
  type Decoded,
  type DecoderCounters,
  type JsonValue,
  type RequestFrame,
  type ResponseFrame,
  type StreamDecoder,
} from '../protocol/index.js';
import { chunkSizes, chunks, responseFrame, stream } from '../test/protocol/arbitraries.js';
import { Stopwatch, check, heapUsed } from './outcome.js';
import type { FuzzOutcome } from './outcome.js';

const BUFFER_BOUND = MAX_LINE_BYTES + 1 + MAX_ANNOTATION_BYTES;
const ERROR_KINDS = new Set(['framing', 'crc', 'badJson', 'badFields', 'rawBracket', 'badEvent']);
const EVENT_TYPES = new Set(['handshake', 'setupMode', 'cboxError', 'firmwareUpdater', 'unknown']);
const LEVELS: ReadonlySet<string> = new Set(LOG_LEVELS);
const DELIMITERS = [0x3c, 0x3e, 0x0a, 0x0d, 0x23, 0x21, 0x2c, 0x3a, 0x22, 0x7b, 0x7d, 0x5c] as const;

type Side = 'response' | 'request';

// -------------------------------------------------------------- checking

/** Decodes `bytes` in `sizes`-chunks on one side; throws (an assertion) on any broken invariant. */
function decodeChecked(side: Side, bytes: Uint8Array, sizes: readonly number[]): Decoded<unknown>[] {
  const outs: Decoded<unknown>[] = [];
  const decoder: StreamDecoder<ResponseFrame> | StreamDecoder<RequestFrame> =
    side === 'response' ? new ResponseDecoder((o) => outs.push(o)) : new RequestDecoder((o) => outs.push(o));
  for (const chunk of chunks(bytes, sizes)) {
    decoder.push(chunk);
    if (decoder.buffered > BUFFER_BOUND) fail(`buffered ${decoder.buffered} bytes, bound ${BUFFER_BOUND}`);
  }
  for (const out of outs) checkOutput(side, out);
  checkCounters(decoder.counters, outs, bytes.length);
  return outs;
}

function fail(why: string): never {
  throw new Error(why);
}

function checkOutput(side: Side, out: Decoded<unknown>): void {
  switch (out.kind) {
    case 'frame': {
      const again = side === 'response' ? checkResponseFrame(out.frame) : checkRequestFrame(out.frame);
      if (typeof again === 'string') fail(`a frame that fails its own check: ${again}`);
      // What the connection hands to the commander crosses a thread boundary.
      try {
        structuredClone(out.frame);
      } catch (error) {
        fail(`a frame that cannot cross threads: ${String(error)}`);
      }
      return;
    }
    case 'log':
      if (!LEVELS.has(out.level)) fail(`log level ${out.level}`);
      if (/[<>\n]/.test(out.text)) fail('a log text with a delimiter in it');
      // One character at most per byte held (an invalid byte reads as U+FFFD).
      if (out.text.length > MAX_ANNOTATION_BYTES) fail('a log text over the annotation bound');
      return;
    case 'event':
      if (!EVENT_TYPES.has(out.event.type)) fail(`event type ${out.event.type}`);
      return;
    case 'error':
      if (!ERROR_KINDS.has(out.error)) fail(`error kind ${out.error}`);
      if (out.sample.length > 64) fail('an error sample over 64 characters');
      if (typeof out.reason !== 'string' || out.reason === '') fail('an error without a reason');
      return;
    default:
      fail(`output kind ${(out as { kind: unknown }).kind as string}`);
  }
}

function checkCounters(counters: DecoderCounters, outs: readonly Decoded<unknown>[], bytes: number): void {
  if (counters.bytes !== bytes) fail(`counted ${counters.bytes} bytes of ${bytes}`);
  const errors =
    counters.framingErrors +
    counters.crcErrors +
    counters.badJson +
    counters.badFields +
    counters.rawBracket +
    counters.badEvents;
  const counted = counters.frames + counters.logs + counters.events + errors;
  if (counted !== outs.length) fail(`counters add up to ${counted}, ${outs.length} outputs`);
}

// ------------------------------------------------------------ generators

/** Bytes biased toward the delimiters, in long runs without newlines often enough to pass the bounds. */
const noise: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2000 }) },
      // Past the line bound: a short random pattern repeated (cheap to make, and to shrink).
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 8000, max: 12_000 }))
          .map(([pattern, length]) => {
            const bytes = new Uint8Array(length);
            for (let i = 0; i < length; i++) bytes[i] = pattern[i % pattern.length]!;
            return bytes;
          }),
      },
    ),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...DELIMITERS)), { maxLength: 60 }),
    fc.boolean(),
  )
  .map(([base, marks, keepNewlines]) => {
    const bytes = Uint8Array.from(base);
    if (!keepNewlines) for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) bytes[i] = 0x41;
    for (const [at, b] of marks) if (bytes.length > 0) bytes[at % bytes.length] = b;
    return bytes;
  });

type Mutation =
  | { op: 'flip'; at: number; byte: number }
  | { op: 'delete'; at: number; length: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'duplicate'; at: number; length: number; to: number }
  | { op: 'cut'; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant('flip' as const),
    at: fc.nat(),
    byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...DELIMITERS)),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 32 }),
      fc.array(fc.constantFrom(...DELIMITERS), { minLength: 1, maxLength: 8 }).map((a) => Uint8Array.from(a)),
      // Long enough to push a line or an annotation past its bound.
      fc.integer({ min: 1000, max: 9000 }).map((n) => new Uint8Array(n).fill(0x61)),
    ),
  }),
  fc.record({
    op: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 512 }),
    to: fc.nat(),
  }),
  fc.record({ op: fc.constant('cut' as const), length: fc.nat() }),
);

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = Buffer.from(input);
  for (const m of mutations) {
    const n = bytes.length;
    switch (m.op) {
      case 'flip':
        if (n > 0) bytes[m.at % n] = m.byte;
        break;
      case 'delete': {
        if (n === 0) break;
        const at = m.at % n;
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
        break;
      }
      case 'insert': {
        const at = n === 0 ? 0 : m.at % (n + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      }
      case 'duplicate': {
        if (n === 0) break;
        const at = m.at % n;
        const slice = bytes.subarray(at, at + m.length);
        const to = m.to % (n + 1);
        bytes = Buffer.concat([bytes.subarray(0, to), slice, bytes.subarray(to)]);
        break;
      }
      case 'cut':
        bytes = bytes.subarray(0, n === 0 ? 0 : m.length % (n + 1));
        break;
    }
  }
  return bytes;
}

/** Values a hostile or broken peer might put anywhere in a frame. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    -1,
    0,
    65536,
    1e308,
    -0,
    1.5,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    'OK',
    '\u0000',
    '\u2028',
    '<!SPARK>',
    '#00',
    [],
    {},
    { __proto__: null, constructor: 1 },
  ),
  fc.integer({ min: 1, max: 3000 }).map((depth) => nested(depth)),
  fc.integer({ min: 1, max: 9000 }).map((n) => 'x'.repeat(n)),
);

/** An array nested `depth` deep: what broke crossing threads at 2,000 levels (issue 10). */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** JSON text of a frame with one field replaced, removed, or added (`__proto__` among the names). */
const damagedJson: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.oneof(responseFrame as fc.Arbitrary<unknown>, requestFrameValue()),
      fc.constantFrom('msgId', 'error', 'payload', 'opcode', '__proto__', 'constructor', 'extra'),
      fc.option(hostileValue, { nil: undefined }),
    )
    .map(([frame, key, value]) => {
      const record = { ...(frame as Record<string, unknown>) };
      if (value === undefined) delete record[key];
      else
        Object.defineProperty(record, key, { value, enumerable: true, configurable: true, writable: true });
      return jsonOf(record);
    }),
  // Text mutations of valid JSON: duplicate keys, cut strings, stray commas, bad escapes.
  fc
    .tuple(
      responseFrame,
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.constantFrom('"', ',', '}', '{', '\\', '\\u', ':', '"msgId":1,', '1e999', '\t'),
        ),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
    )
    .map(([frame, edits]) => {
      let text = jsonOf(frame);
      for (const [at, piece] of edits) {
        const k = at % (text.length + 1);
        text = text.slice(0, k) + piece + text.slice(k);
      }
      return text;
    }),
);

function requestFrameValue(): fc.Arbitrary<unknown> {
  return fc
    .record({
      msgId: fc.integer({ min: 1, max: 65535 }),
      opcode: fc.constantFrom('NONE', 'BLOCK_READ', 'BLOCK_WRITE', 'BOGUS'),
      payload: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    })
    .map((f) => JSON.parse(JSON.stringify(f)) as unknown);
}

/** JSON with `<`, `>` escaped as the encoder does (so the brackets do not start annotations). */
function jsonOf(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/[<>]/g, (c) => (c === '<' ? '\\u003c' : '\\u003e'));
}

/** The frame's line with a correct CRC over whatever the JSON now is. */
function withCrc(json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  return Buffer.concat([body, Buffer.from(`#${crcHex(crc8(body, 0, body.length))}\n`, 'latin1')]);
}

/** Annotation texts: anything without the three forbidden characters, and handshakes bent out of shape. */
const annotationText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 1200 }).map((s) => s.replace(/[<>\n]/g, '_')),
  fc
    .tuple(
      fc.array(
        fc.string({ maxLength: 30 }).map((s) => s.replace(/[<>\n,]/g, '_')),
        { maxLength: 14 },
      ),
      fc.constantFrom('!SPARK', '!CBOXERROR', '!FIRMWARE_UPDATER', '!SETUP_MODE', '!', '!UNKNOWN'),
    )
    .map(([fields, head]) => [head, ...fields].join(',')),
  fc
    .constantFrom(...LOG_LEVELS)
    .chain((level) => fc.string({ maxLength: 50 }).map((s) => `${level}:${s.replace(/[<>\n]/g, '_')}`)),
);

// ---------------------------------------------------------------- target

export interface CodecFuzzOptions {
  /** Inputs in all (each decoded on both sides). */
  runs: number;
  seed: number;
}

export function fuzzCodec(options: CodecFuzzOptions): FuzzOutcome {
  const { runs, seed } = options;
  const watch = new Stopwatch();
  const failures: string[] = [];
  const started = performance.now();
  const heapBefore = heapUsed();
  const share = (fraction: number): number => Math.max(1, Math.round(runs * fraction));
  const record = (what: string, failure: string | undefined): void => {
    if (failure !== undefined) failures.push(`${what}: ${failure}`);
  };
  const sides: Side[] = ['response', 'request'];

  record(
    'random bytes',
    check(
      fc.property(noise, chunkSizes, (bytes, sizes) =>
        watch.time(() => sides.forEach((side) => decodeChecked(side, bytes, sizes))),
      ),
      share(0.4),
      seed,
    ),
  );

  record(
    'mutated streams, then a valid stream after a newline',
    check(
      fc.property(
        stream,
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        stream,
        chunkSizes,
        (damaged, mutations, valid, sizes) =>
          watch.time(() => {
            const bad = mutate(damaged.bytes, mutations);
            for (const side of sides) decodeChecked(side, bad, sizes);
            const outs = decodeChecked(
              'response',
              Buffer.concat([bad, Buffer.from('\n'), valid.bytes]),
              sizes,
            );
            const tail = outs.slice(outs.length - valid.expected.length);
            if (JSON.stringify(tail) !== JSON.stringify(valid.expected)) {
              fail('the valid stream after the damage and a newline did not decode exactly');
            }
          }),
      ),
      share(0.35),
      seed + 1,
    ),
  );

  record(
    'CRC-valid mutated frames',
    check(
      fc.property(damagedJson, chunkSizes, (json, sizes) =>
        watch.time(() => {
          const line = withCrc(json);
          for (const side of sides) {
            const outs = decodeChecked(side, line, sizes);
            // A raw newline or `<` in the damage makes more than one piece; otherwise exactly one verdict.
            if (/[\n<]/.test(json)) continue;
            if (outs.length !== 1) fail(`${outs.length} outputs for one line`);
            const [out] = outs;
            if (
              out?.kind === 'error' &&
              !['badJson', 'badFields', 'rawBracket', 'framing'].includes(out.error)
            ) {
              fail(`a CRC-valid line gave a ${out.error} error`);
            }
            if (out?.kind !== 'error' && out?.kind !== 'frame') fail(`a CRC-valid line gave a ${out?.kind}`);
          }
        }),
      ),
      share(0.15),
      seed + 2,
    ),
  );

  record(
    'annotations',
    check(
      fc.property(annotationText, chunkSizes, (text, sizes) =>
        watch.time(() => {
          const bytes = Buffer.from(`<${text}>`, 'utf8');
          for (const side of sides) {
            const outs = decodeChecked(side, bytes, sizes);
            if (outs.length !== 1) fail(`${outs.length} outputs for one annotation`);
            const [out] = outs;
            const overLong = Buffer.byteLength(text) > MAX_ANNOTATION_BYTES;
            if (overLong && !(out?.kind === 'error' && out.error === 'framing'))
              fail('an over-long annotation kept');
            if (!overLong && out?.kind === 'error' && out.error !== 'badEvent')
              fail(`an annotation gave ${out.error}`);
          }
          // What the simulator encodes, the service decodes back to the same text.
          if (Buffer.byteLength(text) <= MAX_ANNOTATION_BYTES)
            decodeChecked('response', encodeAnnotation(text), [64]);
        }),
      ),
      share(0.05),
      seed + 3,
    ),
  );

  // A round trip the service itself relies on: every request it can encode, the controller decodes.
  record(
    'encoded requests decode as sent',
    check(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.jsonValue({ maxDepth: 3 }), (msgId, data) =>
        watch.time(() => {
          let bytes: Buffer;
          try {
            bytes = encodeRequest({
              msgId,
              opcode: 'BLOCK_WRITE',
              payload: { id: 100, type: 'T', data: { data: data as JsonValue } },
            });
          } catch {
            return; // refused by the encoder (too long): nothing was sent
          }
          const outs = decodeChecked('request', bytes, [4096]);
          if (outs.length !== 1 || outs[0]?.kind !== 'frame')
            fail('an encoded request did not decode as one frame');
        }),
      ),
      share(0.05),
      seed + 4,
    ),
  );

  return {
    target: 'codec',
    inputs: share(0.4) + share(0.35) + share(0.15) + share(0.05) + share(0.05),
    ms: performance.now() - started,
    heapGrowthBytes: heapUsed() - heapBefore,
    slowestMs: watch.slowestMs,
    failures,
  };
}
