import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseDecoder, type Decoded, type ResponseFrame } from '../../protocol/index.js';
import { chunkSizes, chunks, stream } from './arbitraries.js';

const NUM_RUNS = 300;

function decodeAll(bytes: Uint8Array, sizes: readonly number[]): Decoded<ResponseFrame>[] {
  const out: Decoded<ResponseFrame>[] = [];
  const d = new ResponseDecoder((o) => out.push(o));
  for (const chunk of chunks(bytes, sizes)) d.push(chunk);
  return out;
}

test('valid frames and annotations, split anywhere and interleaved inside lines, decode exactly and in order', () => {
  fc.assert(
    fc.property(stream, chunkSizes, (s, sizes) => {
      assert.deepEqual(decodeAll(s.bytes, sizes), s.expected);
    }),
    { numRuns: NUM_RUNS },
  );
});

/** Bytes biased toward the delimiters, so every state and bound of the decoder is visited. */
const noise = fc.uint8Array({ maxLength: 4000 }).chain((base) =>
  fc
    .array(fc.tuple(fc.nat(), fc.constantFrom(0x3c, 0x3e, 0x0a, 0x0d, 0x23, 0x21)), { maxLength: 40 })
    .map((marks) => {
      const bytes = Uint8Array.from(base);
      // Mostly long runs without `\n`, so the small bounds below are exceeded often.
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) bytes[i] = 0x41;
      for (const [at, b] of marks) if (bytes.length > 0) bytes[at % bytes.length] = b;
      return bytes;
    }),
);

test('arbitrary bytes never throw and never buffer past the bounds', () => {
  fc.assert(
    fc.property(noise, chunkSizes, (bytes, sizes) => {
      const d = new ResponseDecoder(() => {}, { maxLineBytes: 64, maxAnnotationBytes: 16 });
      for (const chunk of chunks(bytes, sizes)) {
        d.push(chunk);
        assert.ok(d.buffered <= 64 + 1 + 16);
      }
    }),
    { numRuns: NUM_RUNS },
  );
});

test('a valid stream after garbage decodes exactly once the next newline has passed', () => {
  fc.assert(
    fc.property(noise, stream, chunkSizes, (garbage, s, sizes) => {
      const out: Decoded<ResponseFrame>[] = [];
      const d = new ResponseDecoder((o) => out.push(o));
      for (const chunk of chunks(Buffer.concat([garbage, Buffer.from('\n')]), sizes)) d.push(chunk);
      out.length = 0;
      for (const chunk of chunks(s.bytes, sizes)) d.push(chunk);
      assert.deepEqual(out, s.expected);
    }),
    { numRuns: NUM_RUNS },
  );
});
