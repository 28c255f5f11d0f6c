import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Discovery } from '../../../../actors/connection/discovery/index.js';
import type { TetherConfigInput } from '../../../../config/index.js';
import { RecordingLog, config } from '../fakes.js';
import { FakeSysfs } from './fake-sysfs.js';
import { MdnsAdvertiser } from '../../../../actors/connection/discovery/mdns/index.js';
import { LOOPBACK, testMdnsPort } from './mdns/multicast.js';

const DEVICE_ID = '0123456789abcdef01234567';

async function discover(input: TetherConfigInput, fake?: FakeSysfs) {
  const log = new RecordingLog();
  const roots =
    fake === undefined
      ? { sysRoot: '/nonexistent/sys', devRoot: '/nonexistent/dev' }
      : { sysRoot: fake.sys, devRoot: fake.dev };
  const discovery = new Discovery(config(input), log, roots);
  return { result: await discovery.discover(), log, discovery };
}

test('all tries USB first, then TCP, and never the simulator', async () => {
  const fake = await FakeSysfs.create();
  try {
    await fake.addUsb({
      tty: 'ttyACM0',
      port: '1-1',
      vendorId: '2B04',
      productId: 'C008',
      serial: DEVICE_ID,
    });
    const { result, discovery } = await discover(
      {
        device: { id: DEVICE_ID },
        discovery: {
          mode: 'all',
          tcp: { host: 'spark.local', port: 8332 },
          mdns: { port: testMdnsPort(), interface: LOOPBACK },
        },
        simulator: { port: 4000 },
      },
      fake,
    );
    await discovery.close();
    assert.deepEqual(result.candidates, [
      {
        kind: 'serial',
        path: join(fake.dev, 'ttyACM0'),
        baudRate: 115_200,
        address: join(fake.dev, 'ttyACM0'),
      },
      { kind: 'tcp', host: 'spark.local', port: 8332, address: 'tcp://spark.local:8332' },
    ]);
    assert.equal(result.usbSearched, true);
  } finally {
    await fake.close();
  }
});

test('all with no USB, no TCP host and nothing on mDNS finds nothing (the simulator is not a fallback)', async () => {
  const mdns = { port: testMdnsPort(), interface: LOOPBACK, answerWaitMs: 100 };
  const { result, log, discovery } = await discover({
    discovery: { mode: 'all', mdns },
    simulator: { port: 4000 },
  });
  await discovery.close();
  assert.deepEqual(result.candidates, []);
  assert.equal(result.usbSearched, true);
  assert.equal(discovery.mdnsCounters?.queries, 1, 'mDNS was asked');
  assert.deepEqual(log.at('warn'), []);
});

test('mdns gives the controllers advertised on the network as TCP candidates, honouring device.id', async () => {
  const port = testMdnsPort();
  const advertiser = await MdnsAdvertiser.start({ port, interface: LOOPBACK, log: new RecordingLog() });
  const other = 'fedcba9876543210fedcba98';
  advertiser.advertise({ deviceId: DEVICE_ID, host: 'one', port: 9001, listenHost: LOOPBACK });
  advertiser.advertise({ deviceId: other, host: 'two', port: 9002, listenHost: LOOPBACK });
  try {
    const mdns = { port, interface: LOOPBACK, answerWaitMs: 3000 };
    const { result, discovery } = await discover({
      device: { id: DEVICE_ID.toUpperCase() },
      discovery: { mode: 'mdns', mdns },
    });
    await discovery.close();
    assert.deepEqual(result, {
      candidates: [{ kind: 'tcp', host: LOOPBACK, port: 9001, address: `tcp://${LOOPBACK}:9001` }],
      usbSearched: false,
    });
  } finally {
    await advertiser.close();
  }
});

test('a missing /sys is reported once, not on every round', async () => {
  const log = new RecordingLog();
  const discovery = new Discovery(config({ discovery: { mode: 'usb' } }), log, {
    sysRoot: '/nonexistent/sys',
    devRoot: '/nonexistent/dev',
  });
  await discovery.discover();
  await discovery.discover();
  await discovery.discover();
  assert.equal(
    log.lines.filter((l) => l.msg.startsWith('USB discovery cannot read')).length,
    2,
    'one per source',
  );
});

test('tcp and sim modes give one TCP candidate; sim without a port gives none', async () => {
  const tcp = await discover({ discovery: { mode: 'tcp', tcp: { host: '10.0.0.7', port: 9000 } } });
  assert.deepEqual(tcp.result, {
    candidates: [{ kind: 'tcp', host: '10.0.0.7', port: 9000, address: 'tcp://10.0.0.7:9000' }],
    usbSearched: false,
  });
  const sim = await discover({ discovery: { mode: 'sim' }, simulator: { port: 4321 } });
  assert.deepEqual(sim.result.candidates, [
    { kind: 'tcp', host: '127.0.0.1', port: 4321, address: 'tcp://127.0.0.1:4321' },
  ]);
  const noPort = await discover({ discovery: { mode: 'sim' } });
  assert.deepEqual(noPort.result.candidates, []);
});
