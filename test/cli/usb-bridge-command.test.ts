/**
 * `tether usb-bridge` as a user runs it: a process of its own, pointed at a
 * fake sysfs tree whose controller is a socat pty with the simulator on the
 * far end; its listing over HTTP; a clean exit on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openPtyPair, startSimulator } from '../../sim/index.js';
import { FakeSysfs } from '../actors/connection/discovery/fake-sysfs.js';
import { LOOPBACK, testMdnsPort } from '../actors/connection/discovery/mdns/multicast.js';
import { Recorder } from '../recorder.js';
import { Client, deadline } from '../sim/client.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
const ID = '0123456789abcdef01234567';

test('tether usb-bridge serves a plugged controller on TCP, lists it over HTTP and exits 0 on SIGTERM', async () => {
  const fake = await FakeSysfs.create();
  const sim = await startSimulator({ port: false, deviceId: ID });
  const pty = await openPtyPair();
  const lines = new Recorder<Record<string, unknown>>();
  const child = spawn(
    process.execPath,
    [
      CLI,
      'usb-bridge',
      '--port',
      '0',
      '--http-port',
      '0',
      '--interval',
      '100',
      '--sys-root',
      fake.sys,
      '--dev-root',
      fake.dev,
      '--mdns-port',
      String(testMdnsPort()),
      '--mdns-interface',
      LOOPBACK,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  const reader = createInterface({ input: child.stdout });
  reader.on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  let client: Client | undefined;
  try {
    const ready = await lines.waitFor((l) => l['event'] === 'bridge-ready', {
      timeoutMs: 10_000,
      what: 'the bridge to start',
      summary: () => JSON.stringify(lines.items),
    });
    const url = String(ready['listing']);
    await sim.attachSerial(pty.pathA);
    await fake.addUsb({
      tty: 'ttyACM0',
      port: '1-1',
      vendorId: '2B04',
      productId: 'C006',
      serial: ID,
      nodeTarget: pty.pathB,
    });

    let port = 0;
    // Another process: its listing is polled (with a deadline), there is no event to wait on.
    async function poll(): Promise<void> {
      while (port === 0) {
        const listed = (await (await fetch(`${url}/controllers`)).json()) as {
          state: string;
          port: number;
        }[];
        if (listed[0]?.state === 'serving') port = listed[0].port;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await deadline(poll(), 10_000, 'the controller served');
    client = await Client.tcp(port);
    assert.deepEqual(await client.request({ opcode: 'NONE' }), { msgId: 1, error: 'OK' });
  } finally {
    await client?.close();
    child.kill('SIGTERM');
    const [code] = await deadline(exited, 10_000, 'tether usb-bridge to exit');
    reader.close();
    await pty.close();
    await sim.close();
    await fake.close();
    assert.equal(code, 0);
  }
});
