import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc8, crcHex } from '../../protocol/index.js';

test('the CRC-8/MAXIM of "123456789" is the check value 0xA1', () => {
  assert.equal(crc8(Buffer.from('123456789')), 0xa1);
});

test('the spec example NONE frame carries checksum 09', () => {
  assert.equal(crcHex(crc8(Buffer.from('{"msgId":42,"opcode":"NONE"}'))), '09');
});

test('a checksum over a range ignores the bytes outside it', () => {
  const bytes = Buffer.from('xx123456789yy');
  assert.equal(crc8(bytes, 2, 11), 0xa1);
});

test('the checksum of nothing is the init value 0', () => {
  assert.equal(crc8(new Uint8Array(0)), 0);
  assert.equal(crcHex(0), '00');
});
