import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialPortMock } from 'serialport';
import { openSerialLink, type LinkCloseInfo } from '../../../../actors/connection/transport/index.js';
import { openPtyPair } from '../../../../sim/pty-pair.js';
import { TetherError } from '../../../../runtime/errors.js';
import { collectUntil, withDeadline } from './helpers.js';

test('bytes flow both ways over a real pseudo-terminal pair', async () => {
  const pair = await openPtyPair();
  const a = await openSerialLink({ path: pair.pathA });
  const b = await openSerialLink({ path: pair.pathB });
  try {
    const atB = collectUntil(
      (l) => b.onData(l),
      (all) => all.toString() === 'hello\n',
    );
    await a.write('hello\n');
    await atB;
    const big = Buffer.alloc(20_000, 0x41);
    const atA = collectUntil(
      (l) => a.onData(l),
      (all) => all.length === big.length,
    );
    await b.write(big);
    assert.deepEqual(await atA, big);
    assert.equal(a.kind, 'serial');
    assert.equal(a.address, pair.pathA);
  } finally {
    await a.close();
    await b.close();
    await pair.close();
  }
});

test('a serial write after close rejects with LINK_CLOSED', async () => {
  const pair = await openPtyPair();
  const a = await openSerialLink({ path: pair.pathA });
  const closed = new Promise<LinkCloseInfo>((resolve) => a.onClose(resolve));
  await a.close();
  assert.equal((await withDeadline(closed, 2000, 'close')).reason, 'local');
  await assert.rejects(a.write('x'), (e: unknown) => TetherError.is(e, 'TETHER_LINK_CLOSED'));
  await pair.close();
});

test('opening a device that does not exist rejects with LINK_OPEN_FAILED', async () => {
  await assert.rejects(openSerialLink({ path: '/dev/tether-no-such-device' }), (e: unknown) =>
    TetherError.is(e, 'TETHER_LINK_OPEN_FAILED'),
  );
});

test('the pty pair links disappear when it is closed', async () => {
  const pair = await openPtyPair();
  await pair.close();
  await pair.close();
  await assert.rejects(openSerialLink({ path: pair.pathA }), (e: unknown) =>
    TetherError.is(e, 'TETHER_LINK_OPEN_FAILED'),
  );
});

test('a missing socat is a SOCAT_MISSING error', async () => {
  await assert.rejects(openPtyPair({ socat: '/nonexistent/socat' }), (e: unknown) =>
    TetherError.is(e, 'TETHER_SOCAT_MISSING'),
  );
});

test('a serial link opens at 115200 8N1 by default (checked on the mock binding)', async () => {
  SerialPortMock.binding.createPort('/dev/mock0', { echo: true });
  let seen: unknown;
  const link = await openSerialLink({
    path: '/dev/mock0',
    createPort: (s) => {
      seen = s;
      return new SerialPortMock({ ...s, autoOpen: false });
    },
  });
  try {
    assert.deepEqual(seen, {
      path: '/dev/mock0',
      baudRate: 115200,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      rtscts: false,
    });
    const echoed = collectUntil(
      (l) => link.onData(l),
      (all) => all.toString() === 'abc',
    );
    await link.write('abc');
    await echoed;
  } finally {
    await link.close();
    SerialPortMock.binding.reset();
  }
});
