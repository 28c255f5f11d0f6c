import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_ANNOTATION_BYTES,
  MAX_JSON_DEPTH,
  MAX_LINE_BYTES,
  RequestDecoder,
  ResponseDecoder,
  crc8,
  crcHex,
  encodeResponse,
  type Decoded,
  type ResponseFrame,
} from '../../protocol/index.js';

function decoder(): { d: ResponseDecoder; out: Decoded<ResponseFrame>[] } {
  const out: Decoded<ResponseFrame>[] = [];
  return { d: new ResponseDecoder((o) => out.push(o)), out };
}

/** A line with a correct checksum over exactly the given JSON text. */
function line(json: string, end = '\n'): string {
  return `${json}#${crcHex(crc8(Buffer.from(json)))}${end}`;
}

function errorsOf(out: Decoded<ResponseFrame>[]): string[] {
  return out.flatMap((o) => (o.kind === 'error' ? [o.error] : []));
}

test('the spec example splits into a log annotation and one frame', () => {
  const { d, out } = decoder();
  const json = '{"msgId":7,"error":"OK","payload":{}}';
  const crc = crcHex(crc8(Buffer.from(json)));
  d.push(Buffer.from(`{"msgId":7,"error":"OK","pay<INFO:tick>load":{}}#${crc}\n`));
  assert.deepEqual(out, [
    { kind: 'log', level: 'INFO', text: 'tick' },
    { kind: 'frame', frame: { msgId: 7, error: 'OK', payload: {} } },
  ]);
});

test('a stream fed one byte at a time decodes like the whole', () => {
  const { d, out } = decoder();
  const bytes = Buffer.from(`<DEBUG:a>${line('{"msgId":1,"error":"OK"}')}<WARN:b>`);
  for (const b of bytes) d.push(Uint8Array.of(b));
  assert.deepEqual(out, [
    { kind: 'log', level: 'DEBUG', text: 'a' },
    { kind: 'frame', frame: { msgId: 1, error: 'OK' } },
    { kind: 'log', level: 'WARN', text: 'b' },
  ]);
});

test('a CR before the LF is ignored and empty lines are skipped', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(`\n\r\n${line('{"msgId":2,"error":"BUSY"}', '\r\n')}\n`));
  assert.deepEqual(out, [{ kind: 'frame', frame: { msgId: 2, error: 'BUSY' } }]);
});

test('a lower-case checksum is accepted', () => {
  const { d, out } = decoder();
  const json = '{"msgId":3,"error":"OK"}';
  d.push(Buffer.from(`${json}#${crcHex(crc8(Buffer.from(json))).toLowerCase()}\n`));
  assert.equal(out[0]?.kind, 'frame');
});

test('the last # on the line separates the checksum from JSON holding #', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(line('{"msgId":4,"error":"OK","payload":{"n":"a#b"}}')));
  assert.deepEqual(out, [{ kind: 'frame', frame: { msgId: 4, error: 'OK', payload: { n: 'a#b' } } }]);
});

test('annotations without a known level are logged whole as INFO', () => {
  const { d, out } = decoder();
  d.push(Buffer.from('<hello:world><TRACE:x><>'));
  assert.deepEqual(out, [
    { kind: 'log', level: 'INFO', text: 'hello:world' },
    { kind: 'log', level: 'INFO', text: 'TRACE:x' },
    { kind: 'log', level: 'INFO', text: '' },
  ]);
});

test('the handshake of the spec example is decoded field by field', () => {
  const { d, out } = decoder();
  d.push(
    Buffer.from('<!SPARK,4558bdae,b1698b6e,2026-03-24,2026-03-15,3.2.0,sim,3c,00,123456789012345678901234>'),
  );
  assert.deepEqual(out, [
    {
      kind: 'event',
      event: {
        type: 'handshake',
        handshake: {
          firmwareVersion: '4558bdae',
          protoVersion: 'b1698b6e',
          firmwareDate: '2026-03-24',
          protoDate: '2026-03-15',
          systemVersion: '3.2.0',
          platform: 'sim',
          resetReason: '3C',
          resetData: '00',
          deviceId: '123456789012345678901234',
        },
      },
    },
  ]);
});

test('setup mode, CBOX errors, firmware updater and unknown events are told apart', () => {
  const { d, out } = decoder();
  d.push(Buffer.from('<!SETUP_MODE><!CBOXERROR,1f><!FIRMWARE_UPDATER,aaaaaaaa,bbbbbbbb><!WHATEVER,1>'));
  assert.deepEqual(
    out.map((o) => (o.kind === 'event' ? o.event : o)),
    [
      { type: 'setupMode' },
      { type: 'cboxError', code: 0x1f },
      { type: 'firmwareUpdater', firmwareVersion: 'aaaaaaaa', protoVersion: 'bbbbbbbb' },
      { type: 'unknown', text: 'WHATEVER,1' },
    ],
  );
});

test('a handshake with the wrong number of fields is a counted bad event', () => {
  const { d, out } = decoder();
  d.push(Buffer.from('<!SPARK,4558bdae,b1698b6e,2026-03-24,2026-03-15,3.2.0,sim,00,00>'));
  assert.deepEqual(errorsOf(out), ['badEvent']);
  assert.equal(d.counters.badEvents, 1);
});

test('a wrong checksum, a missing checksum and a non-hex checksum are CRC errors', () => {
  const { d, out } = decoder();
  d.push(Buffer.from('{"msgId":5,"error":"OK"}#00\n{"msgId":5,"error":"OK"}\n{"msgId":5}#zz\n'));
  assert.deepEqual(errorsOf(out), ['crc', 'crc', 'crc']);
  assert.equal(d.counters.crcErrors, 3);
  assert.equal(d.counters.frames, 0);
});

test('JSON that does not parse is counted as bad JSON', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(line('{"msgId":5,')));
  assert.deepEqual(errorsOf(out), ['badJson']);
  assert.equal(d.counters.badJson, 1);
});

test('fields of the wrong type are counted as bad fields', () => {
  const { d, out } = decoder();
  for (const json of [
    '[1]',
    '{"msgId":"5","error":"OK"}',
    '{"msgId":0,"error":"OK"}',
    '{"msgId":65536,"error":"OK"}',
    '{"msgId":1.5,"error":"OK"}',
    '{"msgId":5,"error":1}',
    '{"msgId":5,"error":"OK","payload":3}',
    '{"msgId":5,"error":"OK","payload":null}',
  ]) {
    d.push(Buffer.from(line(json)));
  }
  assert.equal(d.counters.badFields, 8);
  assert.equal(errorsOf(out).length, 8);
});

test('a bad frame whose msgId is readable names it, so its request can fail at once', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(line('{"msgId":5,"error":1}') + line('{"msgId":"6","error":"OK"}')));
  const errors = out.filter((o) => o.kind === 'error');
  assert.equal(errors.length, 2);
  assert.equal(errors[0]!.kind === 'error' && errors[0]!.msgId, 5);
  assert.equal(errors[1]!.kind === 'error' && errors[1]!.msgId, undefined);
});

/** A response whose payload holds an array nested so that the whole frame is `depth` levels deep. */
function nestedResponse(msgId: number, depth: number): string {
  // The frame object and the payload object are two levels; the rest is the array.
  const inner = depth - 2;
  return `{"msgId":${msgId},"error":"OK","payload":{"a":${'['.repeat(inner)}${']'.repeat(inner)}}}`;
}

test('a frame nested deeper than the bound is a counted bad frame that still names its msgId', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(line(nestedResponse(8, MAX_JSON_DEPTH)) + line(nestedResponse(9, MAX_JSON_DEPTH + 1))));
  assert.equal(out[0]?.kind, 'frame', 'exactly the bound is accepted');
  const error = out[1];
  assert.ok(error?.kind === 'error');
  assert.equal(error.error, 'badFields');
  assert.equal(error.msgId, 9);
  assert.equal(d.counters.badFields, 1);
  assert.equal(d.counters.frames, 1);
});

test('a frame of 4,000 nested arrays (under the line bound) is refused without a throw', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(line(nestedResponse(3, 4000)) + line('{"msgId":4,"error":"OK"}')));
  assert.deepEqual(errorsOf(out), ['badFields']);
  assert.equal(out[1]?.kind, 'frame', 'the next line decodes');
});

test('brackets inside strings do not count towards the nesting bound', () => {
  const { d, out } = decoder();
  // An escaped backslash before a quote, brackets, an escaped quote: none of them opens or closes anything.
  const text = '[{'.repeat(40) + '\\"[[' + '"]';
  d.push(Buffer.from(line(`{"msgId":2,"error":"OK","payload":{"s":${JSON.stringify(text)}}}`)));
  assert.equal(out[0]?.kind, 'frame');
  assert.equal(out[0]?.kind === 'frame' && (out[0].frame.payload as { s: string }).s, text);
});

test('a raw > in a frame with a matching checksum is rejected as a raw bracket', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(line('{"msgId":6,"error":"OK","payload":{"a":"x>y"}}')));
  assert.deepEqual(errorsOf(out), ['rawBracket']);
  assert.equal(d.counters.rawBracket, 1);
});

test('a raw < left open at the end of a line drops that line and the next line decodes', () => {
  const { d, out } = decoder();
  d.push(
    Buffer.from(`{"msgId":6,"error":"OK","payload":{"a":"x<y"}}#00\n${line('{"msgId":7,"error":"OK"}')}`),
  );
  assert.deepEqual(errorsOf(out), ['rawBracket']);
  assert.deepEqual(out.at(-1), { kind: 'frame', frame: { msgId: 7, error: 'OK' } });
});

test('a < inside an open annotation restarts the annotation and drops the tainted line', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(`{"a":"<b"<INFO:kept>"}#00\n${line('{"msgId":8,"error":"OK"}')}`));
  assert.deepEqual(out, [
    out[0],
    { kind: 'log', level: 'INFO', text: 'kept' },
    { kind: 'frame', frame: { msgId: 8, error: 'OK' } },
  ]);
  assert.equal(out[0]?.kind === 'error' && out[0].error, 'rawBracket');
});

test('a flood without newline never buffers past the line bound and counts one framing error', () => {
  const { d, out } = decoder();
  const junk = Buffer.alloc(64 * 1024, 0x41);
  for (let i = 0; i < 16; i++) {
    d.push(junk);
    assert.ok(d.buffered <= MAX_LINE_BYTES + 1);
  }
  assert.equal(d.counters.framingErrors, 1);
  d.push(Buffer.from(`\n${line('{"msgId":9,"error":"OK"}')}`));
  assert.deepEqual(out.at(-1), { kind: 'frame', frame: { msgId: 9, error: 'OK' } });
  assert.deepEqual(errorsOf(out), ['framing']);
});

test('a flood inside an annotation never buffers past the annotation bound and ends at >', () => {
  const { d, out } = decoder();
  d.push(Buffer.from('<INFO:'));
  const junk = Buffer.alloc(64 * 1024, 0x41);
  for (let i = 0; i < 4; i++) {
    d.push(junk);
    assert.ok(d.buffered <= MAX_ANNOTATION_BYTES);
  }
  d.push(Buffer.from(`><INFO:after>${line('{"msgId":10,"error":"OK"}')}`));
  assert.deepEqual(errorsOf(out), ['framing']);
  assert.deepEqual(out.slice(1), [
    { kind: 'log', level: 'INFO', text: 'after' },
    { kind: 'frame', frame: { msgId: 10, error: 'OK' } },
  ]);
});

test('a line of exactly the bound is decoded, one byte more is a framing error', () => {
  const { d, out } = decoder();
  const prefix = '{"msgId":11,"error":"OK","payload":{"s":"';
  const suffix = '"}}';
  const fill = MAX_LINE_BYTES - 3 - prefix.length - suffix.length;
  d.push(Buffer.from(line(prefix + 'x'.repeat(fill) + suffix, '\r\n')));
  d.push(Buffer.from(line(prefix + 'x'.repeat(fill + 1) + suffix)));
  assert.equal(out[0]?.kind, 'frame');
  assert.deepEqual(errorsOf(out), ['framing']);
});

test('an annotation of exactly the bound is decoded, one byte more is a framing error', () => {
  const { d, out } = decoder();
  d.push(Buffer.from(`<INFO:${'x'.repeat(MAX_ANNOTATION_BYTES - 5)}>`));
  d.push(Buffer.from(`<INFO:${'x'.repeat(MAX_ANNOTATION_BYTES - 4)}>`));
  assert.equal(out[0]?.kind, 'log');
  assert.deepEqual(errorsOf(out), ['framing']);
});

test('a listener that throws loses nothing: the chunk is decoded and the first error rethrown', () => {
  const seen: string[] = [];
  const d = new ResponseDecoder((o) => {
    seen.push(o.kind);
    throw new Error('listener failed');
  });
  assert.throws(
    () => d.push(Buffer.from(`<INFO:a>${line('{"msgId":1,"error":"OK"}')}<INFO:b>`)),
    /listener failed/,
  );
  assert.deepEqual(seen, ['log', 'frame', 'log']);
});

test('reset forgets a partial line but keeps the counters', () => {
  const { d, out } = decoder();
  d.push(Buffer.from('{"msgId":1,"err'));
  d.push(Buffer.from('{"msgId":1,"error":"OK"}#00\n'));
  d.reset();
  d.push(Buffer.from('{"msgId":1,"err'));
  d.reset();
  d.push(Buffer.from(line('{"msgId":12,"error":"OK"}')));
  assert.deepEqual(out.at(-1), { kind: 'frame', frame: { msgId: 12, error: 'OK' } });
  assert.equal(d.counters.crcErrors, 1);
});

test('the request decoder accepts requests and counts a non-object payload as bad fields', () => {
  const frames: unknown[] = [];
  const d = new RequestDecoder((o) => frames.push(o.kind === 'frame' ? o.frame : o.kind));
  d.push(Buffer.from('{"msgId":42,"opcode":"NONE"}#09\n'));
  d.push(Buffer.from(line('{"msgId":43,"opcode":"BLOCK_READ","payload":[1]}')));
  assert.deepEqual(frames, [{ msgId: 42, opcode: 'NONE' }, 'error']);
  assert.equal(d.counters.badFields, 1);
});

test('an encoded response decodes to the same frame', () => {
  const { d, out } = decoder();
  const frame = { msgId: 13, error: 'OK', payload: { id: 100, type: 'T<>', data: { s: 'a\nb<c>#' } } };
  d.push(encodeResponse(frame));
  assert.deepEqual(out, [{ kind: 'frame', frame }]);
});
