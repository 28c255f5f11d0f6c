/**
 * Finding controllers on real multicast DNS (loopback, a port per test):
 * an advertiser and a browser, plus a hostile peer where the test needs one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MdnsAdvertiser,
  MdnsBrowser,
  RECORD_LIMITS,
  queryGap,
  serviceRecords,
} from '../../../../../actors/connection/discovery/mdns/index.js';
import { eventually, withDeadline } from '../../../../helpers.js';
import { RecordingLog } from '../../../../fakes/recording-log.js';
import { LOOPBACK, openPeer, testMdnsPort } from './multicast.js';

const ID_A = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const ID_B = 'BBBBBBBBBBBBBBBBBBBBBBBB';

interface Rig {
  port: number;
  browser: MdnsBrowser;
  log: RecordingLog;
  advertiser: () => Promise<MdnsAdvertiser>;
}

async function withRig(
  body: (rig: Rig) => Promise<void>,
  browserOptions: { now?: () => number; answerWaitMs?: number } = {},
) {
  const port = testMdnsPort();
  const log = new RecordingLog();
  const browser = new MdnsBrowser({ port, interface: LOOPBACK, answerWaitMs: 2000, log, ...browserOptions });
  const advertisers: MdnsAdvertiser[] = [];
  try {
    await body({
      port,
      browser,
      log,
      advertiser: async () => {
        const advertiser = await MdnsAdvertiser.start({ port, interface: LOOPBACK, log: new RecordingLog() });
        advertisers.push(advertiser);
        return advertiser;
      },
    });
  } finally {
    await Promise.all(advertisers.map((a) => a.close()));
    await browser.close();
  }
}

function ad(deviceId: string, port: number) {
  return { deviceId, host: `sim-${port}`, port, listenHost: LOOPBACK };
}

describe('mDNS browser', () => {
  it('finds an advertised controller and honours the device id (any case)', () =>
    withRig(async ({ browser, advertiser }) => {
      await browser.find('', { wait: false }); // starts listening
      const advertising = await advertiser();
      advertising.advertise(ad(ID_A, 9001));
      advertising.advertise(ad(ID_B, 9002));
      await eventually(() => browser.counters.cached === 2, 5000, 'both controllers cached');
      const onlyB = await browser.find(ID_B.toLowerCase(), { wait: true });
      assert.deepEqual(
        onlyB.map((s) => [s.deviceId, s.address, s.port]),
        [[ID_B.toLowerCase(), LOOPBACK, 9002]],
      );
      const any = await browser.find('', { wait: true });
      assert.deepEqual(any.map((s) => s.port).sort(), [9001, 9002]);
      assert.deepEqual(await browser.find('cccccccccccccccccccccccc', { wait: false }), []);
    }));

  it('a query is answered: the first round waits for the answer instead of finding nothing', () =>
    withRig(async ({ port, browser, advertiser }) => {
      const observer = await openPeer(port);
      try {
        const advertising = await advertiser();
        advertising.advertise(ad(ID_A, 9001));
        // Both announcements over (the browser was not listening yet): only its query can bring the answer.
        await observer.responses.waitFor(() => true, {
          timeoutMs: 5000,
          count: 2,
          what: 'two announcements',
          summary: () => `${observer.responses.items.length} responses`,
        });
      } finally {
        await observer.close();
      }
      const found = await browser.find(ID_A, { wait: true });
      assert.equal(found[0]?.port, 9001);
      assert.equal(browser.counters.queries, 1);
    }));

  it('a controller that comes up later is seen from its announcement, without another query', () =>
    withRig(async ({ browser, advertiser }) => {
      assert.deepEqual(await browser.find('', { wait: false }), []);
      assert.equal(browser.counters.queries, 1);
      const advertising = await advertiser();
      advertising.advertise(ad(ID_A, 9001));
      await eventually(() => browser.counters.cached === 1, 5000, 'the announcement heard');
      // The next query is not due yet (1 s after the first): found from the cache.
      const found = await browser.find(ID_A, { wait: false });
      assert.equal(found[0]?.port, 9001);
    }));

  it('a controller that says goodbye is dropped at once', () =>
    withRig(async ({ browser, advertiser }) => {
      await browser.find('', { wait: false }); // starts listening
      const advertising = await advertiser();
      const service = advertising.advertise(ad(ID_A, 9001));
      await eventually(() => browser.counters.cached === 1, 5000, 'controller cached');
      await service.withdraw();
      await eventually(() => browser.counters.cached === 0, 5000, 'goodbye heard');
      assert.deepEqual(await browser.find(ID_A, { wait: false }), []);
    }));

  it('garbage, wrong ids, bad ports and floods are counted and skipped; the log says so once per kind', () =>
    withRig(async ({ port, browser, log, advertiser }) => {
      await browser.find('', { wait: false }); // opens the socket
      const hostile = await openPeer(port);
      try {
        const bad = (overrides: { id?: string; port?: number; instance: string }) =>
          serviceRecords(
            {
              instance: overrides.instance,
              host: 'evil',
              port: overrides.port ?? 8332,
              txt: { ID: overrides.id ?? ID_A },
            },
            [LOOPBACK],
          );
        for (let i = 0; i < 50; i++) {
          await hostile.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef, i]));
          const wrongId = bad({ instance: `wrong-${i}`, id: `not-a-device-id-${i}` });
          await hostile.respond(wrongId.answers, wrongId.additionals);
          const zeroPort = bad({ instance: `zero-${i}`, port: 0 });
          await hostile.respond(zeroPort.answers, zeroPort.additionals);
        }
        await eventually(
          () =>
            browser.counters.malformed >= 50 &&
            browser.counters.skipped.badId >= 50 &&
            browser.counters.skipped.badPort >= 50,
          10_000,
          'every hostile packet counted',
        );
        assert.equal(browser.counters.cached, 0);
        for (const what of ['mDNS: a packet that is not DNS was skipped', 'mDNS: skipped an answer']) {
          const lines = log.lines.filter((l) => l.msg === what);
          assert.ok(lines.length >= 1 && lines.length <= 2, `${what}: ${lines.length} lines for 50 packets`);
        }

        // A flood of well-formed controllers cannot grow the cache past its size.
        for (let i = 0; i < 10; i++) {
          const many = Array.from({ length: RECORD_LIMITS.servicesPerPacket }, (_, j) =>
            bad({
              instance: `flood-${i}-${j}`,
              id: `${String(i).padStart(2, '0')}${String(j).padStart(22, '0')}`,
            }),
          );
          await hostile.respond(
            many.flatMap((m) => m.answers),
            many.flatMap((m) => m.additionals),
          );
        }
        await eventually(() => browser.counters.evicted > 0, 10_000, 'evictions');
        assert.ok(browser.counters.cached <= 32);

        // And a real controller is still found.
        const advertising = await advertiser();
        advertising.advertise(ad(ID_B, 9002));
        const deadline = Date.now() + 5000;
        while ((await browser.find(ID_B, { wait: true })).length === 0) {
          assert.ok(Date.now() < deadline, 'the real controller was not found within 5 s');
        }
        assert.equal((await browser.find(ID_B, { wait: false }))[0]?.port, 9002);
      } finally {
        await hostile.close();
      }
    }));

  it('asks again with backoff while nobody answers: 1 s, 2 s, 4 s ... apart, at most a minute', async () => {
    let clock = 0;
    await withRig(
      async ({ browser }) => {
        for (clock = 0; clock <= 120_000; clock += 250) await browser.find('', { wait: false });
        // Queries at 0, 1, 3, 7, 15, 31, 63 s; the next would be at 123 s.
        assert.equal(browser.counters.queries, 7);
      },
      { now: () => clock },
    );
  });

  it('the query schedule: each gap doubles up to the cap', () => {
    const table: [number, number][] = [
      [0, 1000],
      [1, 2000],
      [2, 4000],
      [5, 32_000],
      [6, 60_000],
      [60, 60_000],
      [5000, 60_000],
    ];
    for (const [step, gap] of table) assert.equal(queryGap(step, 1000, 60_000), gap, `step ${step}`);
  });

  it('closing while a round waits for answers ends the round at once', () =>
    withRig(
      async ({ browser }) => {
        const finding = browser.find('', { wait: true });
        await eventually(() => browser.counters.queries === 1, 10_000, 'the query sent');
        await browser.close();
        // The round would wait 10 minutes for answers: ending well before that is the close's doing,
        // however slow the machine (a 2 s wait left no room for a loaded one).
        assert.deepEqual(await withDeadline(finding, 30_000, 'the round ended by close'), []);
        assert.deepEqual(await browser.find('', { wait: true }), [], 'a closed browser finds nothing');
      },
      { answerWaitMs: 600_000 },
    ));
});
