/**
 * USB discovery over a fake /sys and /dev (fake-sysfs.ts). Real hot-plug
 * cannot run here; these check the path walking and matching that run on
 * real machines, and that missing sources are never a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { matchUsbPorts, scanUsbSerialPorts } from '../../../../actors/connection/discovery/usb.js';
import { FakeSysfs } from './fake-sysfs.js';

const DEVICE_ID = '0123456789ABCDEF01234567';
const IDS = ['2B04:C006', '2B04:C008'];

async function withFake(body: (fake: FakeSysfs) => Promise<void>): Promise<void> {
  const fake = await FakeSysfs.create();
  try {
    await body(fake);
  } finally {
    await fake.close();
  }
}

async function typicalMachine(fake: FakeSysfs): Promise<void> {
  await fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2b04', productId: 'c006', serial: DEVICE_ID });
  await fake.addUsb({
    tty: 'ttyACM1',
    port: '1-2',
    vendorId: '2b04',
    productId: 'c008',
    serial: 'FFFF56789ABCDEF01234FFFF',
  });
  await fake.addUsb({
    tty: 'ttyUSB0',
    port: '1-3',
    vendorId: '0403',
    productId: '6001',
    serial: 'A1B2C3',
    usbSerialChip: true,
  });
  await fake.addNonUsb();
}

test('the sysfs walk finds USB serial ports with their ids and skips virtual and platform ttys', () =>
  withFake(async (fake) => {
    await typicalMachine(fake);
    const scan = await scanUsbSerialPorts({ sysRoot: fake.sys, devRoot: fake.dev });
    assert.deepEqual(scan.problems, []);
    assert.deepEqual(scan.ports, [
      {
        path: join(fake.dev, 'ttyACM0'),
        vendorId: '2B04',
        productId: 'C006',
        serialNumber: DEVICE_ID,
        via: 'sysfs',
      },
      {
        path: join(fake.dev, 'ttyACM1'),
        vendorId: '2B04',
        productId: 'C008',
        serialNumber: 'FFFF56789ABCDEF01234FFFF',
        via: 'sysfs',
      },
      {
        path: join(fake.dev, 'ttyUSB0'),
        vendorId: '0403',
        productId: '6001',
        serialNumber: 'A1B2C3',
        via: 'sysfs',
      },
    ]);
  }));

test('a configured device id picks the port with that serial number, in any case', () =>
  withFake(async (fake) => {
    await typicalMachine(fake);
    const { ports } = await scanUsbSerialPorts({ sysRoot: fake.sys, devRoot: fake.dev });
    const matched = matchUsbPorts(ports, IDS, DEVICE_ID.toLowerCase());
    assert.deepEqual(
      matched.map((p) => p.path),
      [join(fake.dev, 'ttyACM0')],
    );
  }));

test('without a device id every port with a listed VID:PID matches, others are ignored', () =>
  withFake(async (fake) => {
    await typicalMachine(fake);
    const { ports } = await scanUsbSerialPorts({ sysRoot: fake.sys, devRoot: fake.dev });
    assert.deepEqual(
      matchUsbPorts(ports, IDS, '').map((p) => p.path),
      [join(fake.dev, 'ttyACM0'), join(fake.dev, 'ttyACM1')],
    );
    assert.deepEqual(
      matchUsbPorts(ports, ['0403:6001'], '').map((p) => p.path),
      [join(fake.dev, 'ttyUSB0')],
    );
  }));

test('a port whose /dev node is absent is not a candidate', () =>
  withFake(async (fake) => {
    await fake.addUsb({ tty: 'ttyACM0', port: '1-1', vendorId: '2b04', productId: 'c006', noNode: true });
    const { ports } = await scanUsbSerialPorts({ sysRoot: fake.sys, devRoot: fake.dev });
    assert.deepEqual(ports, []);
  }));

test('missing /sys and /dev/serial/by-id find nothing and say why, without throwing', async () => {
  const scan = await scanUsbSerialPorts({ sysRoot: '/nonexistent/sys', devRoot: '/nonexistent/dev' });
  assert.deepEqual(scan.ports, []);
  assert.equal(scan.problems.length, 2);
  assert.match(scan.problems[0]!, /ENOENT/);
});

test('without /sys the udev by-id links are used: matched by serial number, or by Particle vendor', () =>
  withFake(async (fake) => {
    await fake.removeSys();
    const particle = await fake.addById(`usb-Particle_P1_${DEVICE_ID}-if00`, 'ttyACM0');
    await fake.addById('usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0', 'ttyUSB0');
    const scan = await scanUsbSerialPorts({ sysRoot: fake.sys, devRoot: fake.dev });
    assert.equal(scan.ports.length, 2);
    assert.deepEqual(
      matchUsbPorts(scan.ports, IDS, DEVICE_ID).map((p) => p.path),
      [particle],
    );
    assert.deepEqual(
      matchUsbPorts(scan.ports, IDS, '').map((p) => p.path),
      [particle],
    );
    assert.deepEqual(matchUsbPorts(scan.ports, IDS, 'AAAAAAAAAAAAAAAAAAAAAAAA'), []);
  }));
