/**
 * The Connection class with USB discovery over a fake /sys (real USB
 * hot-plug cannot run here) and a hand-driven fake link: connecting to what
 * USB discovery found, the rediscovery give-up, write failures, bad bytes and
 * controller log lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Connection, type LinkOpener } from '../../../actors/connection/connection.js';
import type { Candidate } from '../../../actors/connection/discovery/index.js';
import { crc8, crcHex, encodeEvent, encodeLog } from '../../../protocol/index.js';
import { CONNECTION_LIMITS } from '../../../actors/connection/connection.js';
import type { TetherConfigInput } from '../../../config/index.js';
import { eventually } from '../../helpers.js';
import { FakeKernel, FakeLink, FakePeers, FakeTimers, RecordingLog, config } from './fakes.js';
import { FakeSysfs } from './discovery/fake-sysfs.js';

const DEVICE_ID = '0123456789ABCDEF01234567';

interface Rig {
  connection: Connection;
  kernel: FakeKernel;
  peers: FakePeers;
  timers: FakeTimers;
  log: RecordingLog;
  opened: { candidate: Candidate; link: FakeLink }[];
  fake: FakeSysfs;
}

async function withRig(input: TetherConfigInput, body: (r: Rig) => Promise<void>): Promise<void> {
  const fake = await FakeSysfs.create();
  const kernel = new FakeKernel();
  const peers = new FakePeers();
  const timers = new FakeTimers();
  const log = new RecordingLog();
  const opened: Rig['opened'] = [];
  const openLink: LinkOpener = (candidate) => {
    const link = new FakeLink(candidate.kind, candidate.address);
    opened.push({ candidate, link });
    return Promise.resolve(link);
  };
  const connection = new Connection({
    config: config(input),
    peers: peers.peers(kernel),
    log,
    timers,
    openLink,
    usb: { sysRoot: fake.sys, devRoot: fake.dev },
  });
  kernel.listener = connection;
  try {
    await body({ connection, kernel, peers, timers, log, opened, fake });
  } finally {
    await connection.terminate();
    await fake.close();
  }
  assert.equal(timers.pending, 0, 'no timer left after terminate');
}

async function confirmed(r: Rig, generation: number): Promise<FakeLink> {
  await eventually(
    () => r.connection.status().generation === generation && r.connection.status().address !== null,
  );
  return r.opened.at(-1)!.link;
}

test('usb discovery connects to the port whose serial number is the device id, as a serial link', () =>
  withRig({ device: { id: DEVICE_ID }, discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006', serial: 'FFFF' });
    await r.fake.addUsb({
      tty: 'ttyACM1',
      port: '1-2',
      vendorId: '2B04',
      productId: 'C006',
      serial: DEVICE_ID,
    });
    await r.connection.start();
    const link = await confirmed(r, 1);
    const path = join(r.fake.dev, 'ttyACM1');
    assert.deepEqual(r.opened[0]!.candidate, { kind: 'serial', path, baudRate: 115_200, address: path });
    assert.deepEqual(r.kernel.connectedRequests()[0], {
      to: 'Connected',
      connection: { kind: 'serial', address: path },
    });
    link.receive(encodeEvent({ type: 'setupMode' }));
    await r.peers.until((p) => p.events.length === 1, 'event');
    assert.deepEqual(r.peers.events[0], { generation: 1, event: { type: 'setupMode' } });
  }));

test('usb finding nothing for giveUpMs asks the kernel for the rediscovery exit once per period', () =>
  withRig({ discovery: { mode: 'usb', intervalMs: 1000, usb: { giveUpMs: 5000 } } }, async (r) => {
    await r.connection.start();
    const asksAfterRound: number[] = [];
    for (let round = 1; round <= 11; round++) {
      await r.timers.untilDelays(round);
      asksAfterRound.push(r.kernel.rediscoveryRequests.length);
      r.timers.advance(1000);
    }
    // Rounds run at t = 0, 1 s, ... 10 s: asked at 5 s, refused, asked again at 10 s.
    assert.deepEqual(asksAfterRound, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2]);
    assert.equal(r.kernel.requests.length, 0);
  }));

test('usb that finds a port does not ask to exit, even long after', () =>
  withRig({ discovery: { mode: 'usb', intervalMs: 1000, usb: { giveUpMs: 2000 } } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    await r.connection.start();
    const link = await confirmed(r, 1);
    r.timers.advance(10_000);
    link.hangUp();
    await r.timers.runTimer(r.timers.delays.length + 1);
    await eventually(() => r.kernel.phase.generation === 2, 5000, 'reconnected');
    assert.deepEqual(r.kernel.rediscoveryRequests, []);
  }));

test('tcp discovery never asks to exit, however long it finds nothing', () =>
  withRig({ discovery: { mode: 'tcp', intervalMs: 1000, usb: { giveUpMs: 1000 } } }, async (r) => {
    await r.connection.start();
    for (let round = 1; round <= 5; round++) {
      await r.timers.untilDelays(round);
      r.timers.advance(1000);
    }
    assert.deepEqual(r.kernel.rediscoveryRequests, []);
  }));

test('a failed write closes the link and the kernel hears why', () =>
  withRig({ discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    await r.connection.start();
    const link = await confirmed(r, 1);
    link.failWrites = new Error('EIO (test)');
    r.connection.write(1, 'x\n');
    await r.timers.runTimer(r.timers.delays.length + 1);
    await r.kernel.until((k) => k.phase.generation === 2, 'reconnected');
    const disconnect = r.kernel.requests.find((q) => q.to === 'Disconnected');
    assert.ok(disconnect?.to === 'Disconnected');
    assert.equal(disconnect.generation, 1);
    assert.match(disconnect.reason, /^write failed/);
  }));

test('bad bytes are counted in status and logged at most once per 10 s', () =>
  withRig({ discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    await r.connection.start();
    const link = await confirmed(r, 1);
    link.receive('{"msgId":1,"error":"OK"}#00\n{"msgId":2}#00\nnot a frame\n');
    assert.equal(r.connection.status().badFrames.crc, 3);
    assert.equal(r.log.lines.filter((l) => l.msg === 'bad data from the controller').length, 1);
    r.timers.advance(10_000);
    link.receive('garbage\n');
    assert.equal(r.connection.status().badFrames.crc, 4);
    const logged = r.log.lines.filter((l) => l.msg === 'bad data from the controller');
    assert.equal(logged.length, 2);
    assert.equal(logged[1]!.fields?.suppressedSinceLast, 2);
    assert.equal(r.peers.responses.length, 0);
  }));

test('controller log annotations go to the log at their level', () =>
  withRig({ discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    await r.connection.start();
    const link = await confirmed(r, 1);
    link.receive(Buffer.concat([encodeLog('WARN', 'low memory'), encodeLog('DEBUG', 'tick')]));
    const lines = r.log.lines.filter((l) => l.fields?.source === 'controller');
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ['warn', 'controller: low memory'],
        ['debug', 'controller: tick'],
      ],
    );
  }));

test('a flood of controller log annotations is rate-limited per level, with a suppressed count after', () =>
  withRig({ discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    await r.connection.start();
    const link = await confirmed(r, 1);
    const flood = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => encodeLog('INFO', `tick ${i}`)));
    link.receive(flood);
    link.receive(encodeLog('ERROR', 'still heard: another level has its own budget'));
    const controllerLines = (): typeof r.log.lines =>
      r.log.lines.filter((l) => l.fields?.source === 'controller');
    const burst = CONNECTION_LIMITS.controllerLogBurst;
    assert.equal(controllerLines().filter((l) => l.level === 'info').length, burst);
    assert.equal(controllerLines().filter((l) => l.level === 'error').length, 1);
    r.timers.advance(CONNECTION_LIMITS.controllerLogIntervalMs);
    link.receive(encodeLog('INFO', 'after the flood'));
    const last = controllerLines().at(-1)!;
    assert.equal(last.msg, 'controller: after the flood');
    assert.equal(last.fields?.suppressedSinceLast, 10_000 - burst);
  }));

test('a frame that answers a msgId but cannot be accepted is passed on as a bad response', () =>
  withRig({ discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    await r.connection.start();
    const link = await confirmed(r, 1);
    const deep = `{"msgId":12,"error":"OK","payload":{"id":100,"type":"T","data":{"a":${'['.repeat(2000)}${']'.repeat(2000)}}}}`;
    link.receive(`${deep}#${crcHex(crc8(Buffer.from(deep)))}\n`);
    assert.equal(r.connection.status().badFrames.badFields, 1);
    assert.equal(r.peers.responses.length, 0);
    assert.equal(r.peers.badResponses.length, 1);
    assert.equal(r.peers.badResponses[0]!.msgId, 12);
    assert.equal(r.peers.badResponses[0]!.generation, 1);
  }));

test('bytes and writes that come before the kernel confirms the link are held, then go through with its generation', () =>
  withRig({ discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    const release = r.kernel.holdTransitions();
    await r.connection.start();
    await eventually(() => r.opened.length === 1, 5000, 'opened');
    r.opened[0]!.link.receive(encodeEvent({ type: 'cboxError', code: 7 }));
    r.connection.write(1, 'held write\n');
    r.connection.write(0, 'stale write\n');
    assert.equal(r.peers.events.length, 0);
    release();
    await r.peers.until((p) => p.events.length === 1, 'held event delivered');
    assert.deepEqual(r.peers.events[0], { generation: 1, event: { type: 'cboxError', code: 7 } });
    assert.deepEqual(r.opened[0]!.link.written, ['held write\n']);
  }));

test('stopping while the kernel confirms a link leaves the kernel Disconnected', () =>
  withRig({ discovery: { mode: 'usb' } }, async (r) => {
    await r.fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2B04', productId: 'C006' });
    const release = r.kernel.holdTransitions();
    await r.connection.start();
    await eventually(() => r.opened.length === 1, 5000, 'opened');
    const stopping = r.connection.terminate();
    release();
    await stopping;
    assert.ok(r.opened[0]!.link.closed);
    assert.deepEqual(
      r.kernel.requests.map((q) => q.to),
      ['Connected', 'Disconnected'],
    );
    assert.equal(r.kernel.phase.name, 'Disconnected');
  }));
