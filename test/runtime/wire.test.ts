/**
 * The batch layout calls travel in: whatever a batch holds arrives as it was
 * written, in order, after a real structured clone; a packet the writer did
 * not make stops at its first bad entry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CallMessage } from '../../runtime/messages.js';
import { MAX_CALL_ID, PACKET_MESSAGES, PacketWriter, messagesOf, readPacket } from '../../runtime/wire.js';

const value = fc.oneof(
  fc.integer(),
  fc.string(),
  fc.constant(null),
  fc.double({ noNaN: true }),
  fc.array(fc.integer()),
);
// Few methods and traceparents, so a batch reuses them (the tables), and some arguments lists past 63 (the escape).
const method = fc.oneof(fc.constantFrom('echo', 'bump', 'add', ''), fc.string({ maxLength: 6 }));
const traceparent = fc.constantFrom('', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x');
const args = fc.oneof(fc.array(value, { maxLength: 4 }), fc.array(value, { minLength: 60, maxLength: 70 }));
const callId = fc.integer({ min: 0, max: MAX_CALL_ID });
const message: fc.Arbitrary<CallMessage> = fc.oneof(
  fc.record({ t: fc.constant('call' as const), id: callId, m: method, tp: traceparent, a: args }),
  fc.record({ t: fc.constant('cast' as const), m: method, tp: traceparent, a: args }),
  fc.record({ t: fc.constant('ok' as const), id: callId, v: value }),
  fc.record({
    t: fc.constant('err' as const),
    id: callId,
    e: fc.record({ name: fc.string(), message: fc.string() }),
  }),
);

function roundTrip(messages: readonly CallMessage[]): CallMessage[] {
  const writer = new PacketWriter();
  for (const m of messages) writer.write(m);
  const packet = writer.take();
  return packet === undefined ? [] : messagesOf(structuredClone(packet));
}

describe('the call batch layout', () => {
  it('every message of a batch arrives as it was written, in order', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 60 }), (messages) => {
        // Compared with a clone: fast-check makes its records without a prototype.
        assert.deepEqual(roundTrip(messages), structuredClone(messages));
      }),
      { numRuns: 300 },
    );
  });

  it('a full batch of distinct methods and traceparents arrives whole', () => {
    const messages: CallMessage[] = Array.from({ length: PACKET_MESSAGES }, (_, i) => ({
      t: 'call',
      id: MAX_CALL_ID - i,
      m: `method-${i}`,
      tp: `trace-${i}`,
      a: [i],
    }));
    const writer = new PacketWriter();
    for (const m of messages) {
      assert.equal(writer.full, false);
      writer.write(m);
    }
    assert.equal(writer.full, true);
    assert.deepEqual(messagesOf(structuredClone(writer.take() ?? [])), messages);
    assert.equal(writer.take(), undefined, 'the writer starts a new, empty packet');
  });

  it('each packet carries its own strings: a later packet reads without an earlier one', () => {
    const writer = new PacketWriter();
    writer.cast('bump', '', []);
    writer.take();
    writer.cast('bump', '', []);
    assert.deepEqual(messagesOf(structuredClone(writer.take() ?? [])), [
      { t: 'cast', m: 'bump', tp: '', a: [] },
    ]);
  });

  it('a packet the writer did not make stops at its first bad entry, keeping what came before', () => {
    const writer = new PacketWriter();
    writer.ok(7, 'fine');
    const packet = writer.take() ?? [];
    for (const garbage of [['not a header'], [-1], [1.5], [1 | (5 << 8)], [1 | (63 << 2), 'm', '', 1e9]]) {
      const seen: unknown[] = [];
      readPacket([...packet, ...garbage, ...packet], {
        call: () => seen.push('call'),
        cast: () => seen.push('cast'),
        ok: (id, v) => seen.push([id, v]),
        err: () => seen.push('err'),
      });
      assert.deepEqual(seen, [[7, 'fine']], JSON.stringify(garbage));
    }
  });
});
