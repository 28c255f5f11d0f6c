/**
 * fast-check generators for protocol streams: valid frames and annotations,
 * assembled into a byte stream with annotations inserted inside data lines,
 * together with the outputs a decoder must produce for it, in order.
 */
import fc from 'fast-check';
import {
  ERROR_CODES,
  LOG_LEVELS,
  RESET_DATA,
  RESET_REASONS,
  encodeAnnotation,
  encodeResponse,
  formatEvent,
  formatLog,
  type ControllerEvent,
  type Decoded,
  type JsonValue,
  type ResponseFrame,
} from '../../protocol/index.js';

/** Normalized through JSON so -0 and undefined fields cannot differ from what the decoder parses. */
const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);
/** Strings full of the protocol's special characters, which must survive escaping. */
const nastyString = fc.string({
  unit: fc.oneof(
    fc.constantFrom('<', '>', '\n', '\r', '#', ',', '!', ':', '"', '\\', 'é', '🙂'),
    fc.string({ minLength: 1, maxLength: 1 }),
  ),
  maxLength: 20,
});

export const responseFrame: fc.Arbitrary<ResponseFrame> = fc
  .record(
    {
      msgId: fc.integer({ min: 1, max: 65535 }),
      error: fc.constantFrom(...ERROR_CODES),
      payload: fc.oneof(
        fc.record({
          id: fc.integer({ min: 1, max: 65535 }),
          type: nastyString,
          data: fc.dictionary(nastyString, json, { maxKeys: 5 }),
        }),
        fc.array(
          fc.record({ id: fc.integer({ min: 1, max: 65535 }), type: fc.string(), data: fc.constant({}) }),
          {
            maxLength: 3,
          },
        ),
      ),
    },
    { requiredKeys: ['msgId', 'error'] },
  )
  // Through JSON: generated dictionaries have a null prototype, parsed ones do not.
  .map((f) => JSON.parse(JSON.stringify(f)) as ResponseFrame);

/** Annotation text: anything but the three characters an annotation may not hold. */
const annotationText = fc.string({ maxLength: 60 }).map((s) => s.replace(/[<>\n]/g, '_'));
/** Event fields additionally exclude the field separator. */
const field = fc.string({ minLength: 1, maxLength: 24 }).map((s) => s.replace(/[<>\n,]/g, '_'));
const hex2 = (table: Record<string, string>): fc.Arbitrary<string> => fc.constantFrom(...Object.keys(table));

export const controllerEvent: fc.Arbitrary<ControllerEvent> = fc.oneof(
  fc
    .record({
      firmwareVersion: field,
      protoVersion: field,
      firmwareDate: field,
      protoDate: field,
      systemVersion: field,
      platform: field,
      resetReason: hex2(RESET_REASONS),
      resetData: hex2(RESET_DATA),
      deviceId: field,
    })
    .map((h): ControllerEvent => ({ type: 'handshake', handshake: { ...h } })),
  fc.constant<ControllerEvent>({ type: 'setupMode' }),
  fc.integer({ min: 0, max: 255 }).map((code): ControllerEvent => ({ type: 'cboxError', code })),
  fc
    .record({ firmwareVersion: field, protoVersion: field })
    .map((f): ControllerEvent => ({ type: 'firmwareUpdater', ...f })),
  field.map((text): ControllerEvent => ({ type: 'unknown', text: `X${text}` })),
);

export type Expected = Decoded<ResponseFrame>;

export const annotation: fc.Arbitrary<{ bytes: Buffer; expected: Expected }> = fc.oneof(
  fc.record({ level: fc.constantFrom(...LOG_LEVELS), text: annotationText }).map(({ level, text }) => ({
    bytes: encodeAnnotation(formatLog(level, text)),
    expected: { kind: 'log', level, text } as Expected,
  })),
  controllerEvent.map((event) => ({
    bytes: encodeAnnotation(formatEvent(event)),
    expected: { kind: 'event', event } as Expected,
  })),
);

/** One data line with annotations before it and inside it. */
const line = fc.record({
  frame: responseFrame,
  before: fc.array(annotation, { maxLength: 2 }),
  inside: fc.array(fc.tuple(annotation, fc.nat()), { maxLength: 3 }),
  crlf: fc.boolean(),
  blankAfter: fc.boolean(),
});

export interface Stream {
  bytes: Buffer;
  expected: Expected[];
}

export const stream: fc.Arbitrary<Stream> = fc
  .record({ lines: fc.array(line, { maxLength: 12 }), trailing: fc.array(annotation, { maxLength: 2 }) })
  .map(({ lines, trailing }) => {
    const parts: Buffer[] = [];
    const expected: Expected[] = [];
    for (const l of lines) {
      for (const a of l.before) {
        parts.push(a.bytes);
        expected.push(a.expected);
      }
      let bytes = encodeResponse(l.frame);
      if (l.crlf) bytes = Buffer.concat([bytes.subarray(0, -1), Buffer.from('\r\n')]);
      // Insert at positions before the final `\n`, in ascending order so expectations follow the bytes.
      const body = bytes.length - 1;
      const inserts = l.inside.map(([a, at]) => ({ a, at: at % (body + 1) })).sort((x, y) => x.at - y.at);
      let from = 0;
      for (const { a, at } of inserts) {
        parts.push(bytes.subarray(from, at), a.bytes);
        expected.push(a.expected);
        from = at;
      }
      parts.push(bytes.subarray(from));
      expected.push({ kind: 'frame', frame: l.frame });
      if (l.blankAfter) parts.push(Buffer.from('\r\n\n'));
    }
    for (const a of trailing) {
      parts.push(a.bytes);
      expected.push(a.expected);
    }
    return { bytes: Buffer.concat(parts), expected };
  });

/** Chunk sizes to split a stream at arbitrary points (cycled), 1 meaning byte by byte. */
export const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 });

export function* chunks(bytes: Uint8Array, sizes: readonly number[]): Generator<Uint8Array> {
  let at = 0;
  let k = 0;
  while (at < bytes.length) {
    const size = sizes[k++ % sizes.length] ?? 1;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}
