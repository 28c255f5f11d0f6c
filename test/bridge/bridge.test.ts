/**
 * The USB bridge end to end, with a socat pty pair standing in for each USB
 * controller (real USB hot-plug cannot run here): the simulator speaks on
 * one end, a fake sysfs tree names the other as /dev/ttyACM<n> of a Spark's
 * VID:PID, and the bridge opens it with serialport. The real service talks
 * to the bridge over TCP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsbBridge, openBackoff, type BridgeEntry } from '../../bridge/index.js';
import { resolveConfig, type DeepPartial, type TetherConfig } from '../../config/index.js';
import { startService, type Service } from '../../kernel/service.js';
import { liveWorkerCount } from '../../runtime/index.js';
import { openPtyPair, startSimulator, type PtyPair, type Simulator } from '../../sim/index.js';
import { FakeSysfs } from '../actors/connection/discovery/fake-sysfs.js';
import { LOOPBACK, testMdnsPort } from '../actors/connection/discovery/mdns/multicast.js';
import { FAST, PhaseWatch, deepMerge } from '../e2e/harness.js';
import { RecordingLog } from '../fakes/recording-log.js';
import { eventually, silentLogger } from '../helpers.js';
import { Client, deadline } from '../sim/client.js';

const ID = '0123456789abcdef01234567';
const ID2 = 'fedcba9876543210fedcba98';

interface Controller {
  sim: Simulator;
  pty: PtyPair;
  tty: string;
  usbPort: string;
}

interface Rig {
  bridge: UsbBridge;
  fake: FakeSysfs;
  log: RecordingLog;
  mdns: { port: number; interface: string };
  /** A simulated controller on USB: a pty whose far end the simulator speaks on. */
  plug(options?: { id?: string; tty?: string; usbPort?: string; serial?: string }): Promise<Controller>;
  /** The cable pulled: the pty goes (the bridge's port closes with an error), and sysfs forgets it. */
  unplug(controller: Controller): Promise<void>;
  /** Resolves with the listing once `match` holds for it. */
  until(match: (entries: BridgeEntry[]) => boolean, what: string, timeoutMs?: number): Promise<BridgeEntry[]>;
}

async function withBridge(body: (rig: Rig) => Promise<void>): Promise<void> {
  const fake = await FakeSysfs.create();
  const log = new RecordingLog();
  const mdns = { port: testMdnsPort(), interface: LOOPBACK };
  const controllers = new Set<Controller>();
  const bridge = await UsbBridge.start({
    ids: ['2B04:C006', '2B04:C008'],
    baudRate: 115_200,
    host: LOOPBACK,
    basePort: 0,
    scanIntervalMs: 100,
    sysRoot: fake.sys,
    devRoot: fake.dev,
    mdns,
    log,
  });
  const until: Rig['until'] = (match, what, timeoutMs = 10_000) =>
    deadline(
      new Promise<BridgeEntry[]>((resolve) => {
        const check = (): boolean => {
          const entries = bridge.list();
          if (!match(entries)) return false;
          stop();
          resolve(entries);
          return true;
        };
        const stop = bridge.onChange(() => void check());
        check();
      }),
      timeoutMs,
      `${what} (listing: ${JSON.stringify(bridge.list().map((e) => [e.deviceId, e.state]))})`,
    );
  try {
    await body({
      bridge,
      fake,
      log,
      mdns,
      until,
      plug: async ({ id = ID, tty = 'ttyACM0', usbPort = '1-1', serial = id } = {}) => {
        const sim = await startSimulator({ port: false, deviceId: id });
        const pty = await openPtyPair();
        await sim.attachSerial(pty.pathA);
        await fake.addUsb({
          tty,
          port: usbPort,
          vendorId: '2B04',
          productId: 'C008',
          serial,
          nodeTarget: pty.pathB,
        });
        const controller = { sim, pty, tty, usbPort };
        controllers.add(controller);
        return controller;
      },
      unplug: async (controller) => {
        await controller.pty.close();
        await fake.removeUsb({ tty: controller.tty, port: controller.usbPort });
        await controller.sim.close();
        controllers.delete(controller);
      },
    });
  } finally {
    await bridge.stop();
    for (const c of controllers) {
      await c.pty.close();
      await c.sim.close();
    }
    await fake.close();
  }
}

const serving = (id: string) => (entries: BridgeEntry[]) =>
  entries.some((e) => e.deviceId === id && e.state === 'serving');

async function withServiceOn(
  discovery: DeepPartial<TetherConfig['discovery']>,
  device: string,
  body: (service: Service, phases: PhaseWatch) => Promise<void>,
): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-bridge-'));
  const overrides = deepMerge(deepMerge(FAST, { discovery, stateDir, device: { id: device } }), {
    log: { level: 'silent' },
  });
  const config = resolveConfig({ env: {}, overrides }).config;
  const service = await startService(config, { logger: silentLogger, inContainer: true });
  try {
    await body(service, new PhaseWatch(service));
  } finally {
    await service.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
  assert.equal(liveWorkerCount(), 0, 'a worker thread was left running');
}

describe('USB bridge', () => {
  it('the service reaches Synchronized through the bridge, and an unplug and replug are noticed without the service exiting', () =>
    withBridge(async ({ plug, unplug, until }) => {
      let controller = await plug();
      const [entry] = await until(serving(ID), 'the controller served');
      const port = entry!.port;
      assert.ok(port > 0);
      // In a container, with USB rediscovery allowed: over TCP it never comes to that.
      await withServiceOn(
        { mode: 'tcp', tcp: { host: LOOPBACK, port }, rediscovery: 'always' },
        ID,
        async (service, phases) => {
          let exited = false;
          void service.exited.then(() => (exited = true));
          await phases.waitFor('Synchronized', 15_000);
          await until((e) => e[0]?.client !== null, 'the service is the client');

          let mark = phases.mark();
          await unplug(controller);
          await until((e) => e[0]?.state === 'unplugged', 'the unplug noticed');
          await phases.waitFor('Disconnected', 10_000, mark);

          mark = phases.mark();
          controller = await plug();
          const [again] = await until(serving(ID), 'the replug noticed');
          assert.equal(again!.port, port, 'a replugged controller comes back on its port');
          await phases.waitFor('Synchronized', 15_000, mark);
          assert.equal(exited, false, 'the service never exited');
        },
      );
    }));

  it('a service in discovery mode mdns finds the controller by its device id through the bridge', () =>
    withBridge(async ({ plug, until, mdns }) => {
      await plug({ id: ID2, tty: 'ttyACM1', usbPort: '1-2' });
      const [entry] = await until(serving(ID2), 'the controller served');
      assert.match(entry!.advertised ?? '', /usb-bridge/);
      await withServiceOn(
        { mode: 'mdns', mdns: { ...mdns, answerWaitMs: 2000 } },
        ID2.toUpperCase(),
        async (_s, phases) => {
          const synced = await phases.waitFor('Synchronized', 15_000);
          assert.ok(synced);
        },
      );
    }));

  it('a controller gone from sysfs while its port stays open (no close event) is closed by the bridge', () =>
    withBridge(async ({ plug, until, fake }) => {
      const controller = await plug();
      const [entry] = await until(serving(ID), 'served');
      const client = await Client.tcp(entry!.port);
      try {
        await fake.removeUsb({ tty: controller.tty, port: controller.usbPort });
        await until((e) => e[0]?.state === 'unplugged', 'noticed by the rescan');
        await deadline(client.closed, 5000, 'the client to be closed');
      } finally {
        await client.close();
      }
    }));

  it('one client at a time: a second client replaces the first, and gets the answers', () =>
    withBridge(async ({ plug, until }) => {
      await plug();
      const [entry] = await until(serving(ID), 'served');
      const first = await Client.tcp(entry!.port);
      await until((e) => e[0]?.client !== null, 'the first client');
      const second = await Client.tcp(entry!.port);
      try {
        await deadline(first.closed, 5000, 'the first client to be closed');
        assert.deepEqual(await second.request({ opcode: 'NONE' }), { msgId: 1, error: 'OK' });
        const [now] = await until((e) => e[0]?.counters.replaced === 1, 'counted');
        assert.equal(now!.counters.clients, 2);
      } finally {
        await first.close();
        await second.close();
      }
    }));

  it('controllers plugged in later are picked up; a port whose serial number is not a device id is counted and skipped', () =>
    withBridge(async ({ bridge, plug, until, fake }) => {
      await fake.addUsb({
        tty: 'ttyACM7',
        port: '1-7',
        vendorId: '2B04',
        productId: 'C006',
        serial: 'NOT-AN-ID\u001b[31m',
      });
      await fake.addUsb({ tty: 'ttyUSB0', port: '1-8', vendorId: '0403', productId: '6001', serial: ID2 });
      await plug({ id: ID, tty: 'ttyACM0', usbPort: '1-1' });
      await until(serving(ID), 'the first');
      await plug({ id: ID2, tty: 'ttyACM1', usbPort: '1-2' });
      const entries = await until(serving(ID2), 'the one plugged in later');
      assert.deepEqual(
        entries.map((e) => e.deviceId),
        [ID, ID2],
      );
      assert.notEqual(entries[0]!.port, entries[1]!.port);
      assert.ok(bridge.counters.badSerials > 0);
    }));

  it('a device that cannot be opened is retried with backoff, not on every scan', () =>
    withBridge(async ({ bridge, fake, until }) => {
      const dir = await mkdtemp(join(tmpdir(), 'tether-notatty-'));
      try {
        const notATty = join(dir, 'file');
        await writeFile(notATty, '');
        await fake.addUsb({
          tty: 'ttyACM0',
          port: '1-1',
          vendorId: '2B04',
          productId: 'C008',
          serial: ID,
          nodeTarget: notATty,
        });
        const [entry] = await until((e) => (e[0]?.failures ?? 0) >= 2, 'two failed opens', 10_000);
        assert.equal(entry!.state, 'retrying');
        assert.ok(entry!.lastError !== null);
        // 20 more scans (100 ms apart): without backoff, 20 more opens; with 0.5 s, 1 s, 2 s ... a few.
        const scans = bridge.counters.scans;
        await eventually(() => bridge.counters.scans >= scans + 20, 10_000, '20 more scans');
        const failures = bridge.list()[0]!.failures;
        assert.ok(failures <= entry!.failures + 4, `${failures - entry!.failures} more opens in 20 scans`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }));

  it('open retries back off 0.5 s, x2, up to 30 s', () => {
    const table: [number, number][] = [
      [1, 500],
      [2, 1000],
      [3, 2000],
      [7, 30_000],
      [100, 30_000],
    ];
    for (const [failures, wait] of table) assert.equal(openBackoff(failures), wait, `after ${failures}`);
  });
});
