import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_JSON_DEPTH,
  MAX_LINE_BYTES,
  encodeAnnotation,
  encodeEvent,
  encodeFrame,
  encodeLog,
  encodeRequest,
  encodeResponse,
} from '../../protocol/index.js';
import { EncodeError } from '../../protocol/errors.js';

test('a NONE request encodes as the spec example', () => {
  assert.equal(encodeRequest({ msgId: 42, opcode: 'NONE' }).toString(), '{"msgId":42,"opcode":"NONE"}#09\n');
});

test('a request with a payload carries it', () => {
  const text = encodeRequest({ msgId: 1, opcode: 'BLOCK_READ', payload: { id: 100 } }).toString();
  assert.match(text, /^\{"msgId":1,"opcode":"BLOCK_READ","payload":\{"id":100\}\}#[0-9A-F]{2}\n$/);
});

test('brackets and newlines inside strings never appear raw on the wire', () => {
  const bytes = encodeResponse({ msgId: 1, error: 'OK', payload: { s: '<a>\nb' } });
  const body = bytes.subarray(0, -1).toString();
  assert.ok(!/[<>\n]/.test(body));
  assert.match(body, /\\u003ca\\u003e\\nb/);
});

test('a msgId out of 1..65535 or not an integer is refused with an EncodeError', () => {
  for (const msgId of [0, 65536, 1.5, -1, Number.NaN]) {
    assert.throws(() => encodeRequest({ msgId, opcode: 'NONE' }), EncodeError);
    assert.throws(
      () => encodeResponse({ msgId, error: 'OK' }),
      (e: unknown) => (e as EncodeError).code === 'TETHER_ENCODE_FAILED',
    );
  }
});

test('a frame over the line bound is refused rather than sent to be discarded', () => {
  const payload = { s: 'x'.repeat(MAX_LINE_BYTES) };
  assert.throws(() => encodeResponse({ msgId: 1, error: 'OK', payload }), EncodeError);
});

test('a frame nested past the decoder bound is refused, one at the bound is sent', () => {
  const nest = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = [value];
    return value;
  };
  // The frame object and the payload object are two levels.
  assert.ok(encodeResponse({ msgId: 1, error: 'OK', payload: { a: nest(MAX_JSON_DEPTH - 2) } as never }));
  assert.throws(
    () => encodeResponse({ msgId: 1, error: 'OK', payload: { a: nest(MAX_JSON_DEPTH - 1) } as never }),
    EncodeError,
  );
  assert.throws(
    () =>
      encodeRequest({
        msgId: 1,
        opcode: 'BLOCK_WRITE',
        payload: { id: 1, type: 't', data: { a: nest(5000) } as never },
      }),
    EncodeError,
  );
});

test('values JSON cannot carry are refused with an EncodeError', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => encodeFrame(cyclic), EncodeError);
  assert.throws(() => encodeFrame({ n: 10n }), EncodeError);
});

test('annotations that the decoder could not give back are refused', () => {
  for (const text of ['a>b', 'a<b', 'a\nb', 'x'.repeat(1025)])
    assert.throws(() => encodeAnnotation(text), EncodeError);
  assert.equal(encodeAnnotation('x'.repeat(1024)).length, 1026);
});

test('events and log lines are written in their annotation form', () => {
  assert.equal(encodeEvent({ type: 'cboxError', code: 10 }).toString(), '<!CBOXERROR,0A>');
  assert.equal(encodeEvent({ type: 'setupMode' }).toString(), '<!SETUP_MODE>');
  assert.equal(encodeLog('WARN', 'low battery').toString(), '<WARN:low battery>');
});
