import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRequestPayload, parseResponsePayload } from '../../protocol/index.js';
import { PayloadError } from '../../protocol/errors.js';

test('a BLOCK_READ response payload is typed as a block', () => {
  const block = parseResponsePayload('BLOCK_READ', { id: 100, type: 'TempSensor', data: { value: 20.5 } });
  assert.equal(block.id, 100);
  assert.equal(block.data.value, 20.5);
});

test('a block list with one malformed block is a PayloadError naming the block', () => {
  assert.throws(
    () =>
      parseResponsePayload('BLOCK_LIST', [
        { id: 100, type: 'A', data: {} },
        { id: 0, type: 'B', data: {} },
      ]),
    (e: unknown) => e instanceof PayloadError && e.code === 'TETHER_BAD_PAYLOAD',
  );
});

test('a VERSION response needs its three string fields', () => {
  const v = { firmware_version: '4558bdae', proto_version: 'b1698b6e', device_id: '1234' };
  assert.deepEqual(parseResponsePayload('VERSION', v), v);
  assert.throws(() => parseResponsePayload('VERSION', { firmware_version: 1 }), PayloadError);
});

test('opcodes that return nothing ignore any payload sent anyway', () => {
  assert.equal(parseResponsePayload('NONE', { extra: 1 }), undefined);
  assert.equal(parseResponsePayload('BLOCK_DELETE', undefined), undefined);
});

test('request payloads are checked per opcode with a reason', () => {
  assert.deepEqual(checkRequestPayload('BLOCK_READ', { id: 7 }), { ok: true, value: { id: 7 } });
  assert.equal(checkRequestPayload('BLOCK_READ', { id: 'x' }).ok, false);
  assert.equal(checkRequestPayload('BLOCK_CREATE', { type: 'T', data: {} }).ok, true);
  assert.equal(checkRequestPayload('BLOCK_CREATE', { type: '', data: {} }).ok, false);
  assert.equal(checkRequestPayload('BLOCK_WRITE', { id: 1, type: 'T', data: [] }).ok, false);
  assert.equal(checkRequestPayload('NONE', {}).ok, true);
  assert.equal(checkRequestPayload('NONE', { a: 1 }).ok, false);
});
