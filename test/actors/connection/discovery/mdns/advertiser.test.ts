/**
 * Advertising on real multicast DNS (loopback, a port per test): what a
 * querier gets, and what a flood of queries or garbage gets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import {
  CONTROLLER_SERVICE,
  MdnsAdvertiser,
  addressesFor,
} from '../../../../../actors/connection/discovery/mdns/index.js';
import { eventually } from '../../../../helpers.js';
import { RecordingLog } from '../../../../fakes/recording-log.js';
import { LOOPBACK, openPeer, testMdnsPort, type Peer } from './multicast.js';

const ID = '0123456789abcdef01234567';

async function withAdvertiser(
  body: (rig: { advertiser: MdnsAdvertiser; peer: Peer; log: RecordingLog }) => Promise<void>,
): Promise<void> {
  const port = testMdnsPort();
  const log = new RecordingLog();
  const peer = await openPeer(port);
  const advertiser = await MdnsAdvertiser.start({ port, interface: LOOPBACK, log });
  try {
    await body({ advertiser, peer, log });
  } finally {
    await advertiser.close();
    await peer.close();
  }
}

const ours = (packet: { answers: { type: string; name: string }[] }): boolean =>
  packet.answers.some((a) => a.type === 'PTR' && a.name === CONTROLLER_SERVICE);

function waitCount(peer: Peer, count: number, from = 0): Promise<unknown> {
  return peer.responses.waitFor(ours, {
    timeoutMs: 5000,
    count,
    from,
    what: `${count} answers`,
    summary: () => `${peer.responses.items.length} responses`,
  });
}

describe('mDNS advertiser', () => {
  it('announces a service twice, answers a query with PTR, SRV, TXT (ID) and A, and says goodbye', () =>
    withAdvertiser(async ({ advertiser, peer }) => {
      const service = advertiser.advertise({
        deviceId: ID,
        host: 'bridge',
        port: 9100,
        listenHost: LOOPBACK,
        txt: { HW: 'test' },
      });
      await waitCount(peer, 2);
      const mark = peer.responses.items.length;
      await peer.query(CONTROLLER_SERVICE, 'PTR');
      await waitCount(peer, 1, mark);
      const answer = peer.responses.items.slice(mark).find(ours)!;
      const records = [...answer.answers, ...answer.additionals];
      const srv = records.find((r) => r.type === 'SRV');
      const txt = records.find((r) => r.type === 'TXT');
      const a = records.find((r) => r.type === 'A');
      assert.deepEqual(srv?.data, { priority: 0, weight: 0, port: 9100, target: 'bridge.local' });
      const entries = (txt?.data as Buffer[]).map((b) => b.toString());
      assert.ok(entries.includes(`ID=${ID}`));
      assert.ok(entries.includes('HW=test'));
      assert.equal(a !== undefined && 'data' in a ? a.data : undefined, LOOPBACK);

      const before = peer.responses.items.length;
      await service.withdraw();
      const goodbye = await peer.responses.waitFor(
        (p) => ours(p) && p.answers.every((r) => 'ttl' in r && r.ttl === 0),
        {
          timeoutMs: 5000,
          from: before,
          what: 'a goodbye',
          summary: () => `${peer.responses.items.length} responses`,
        },
      );
      assert.ok(goodbye);
    }));

  it('a flood of queries gets at most one answer a second per service', () =>
    withAdvertiser(async ({ advertiser, peer }) => {
      advertiser.advertise({ deviceId: ID, host: 'bridge', port: 9100, listenHost: LOOPBACK });
      await waitCount(peer, 2); // the announcements
      const mark = peer.responses.items.length;
      const started = Date.now();
      for (let i = 0; i < 100; i++) await peer.query(CONTROLLER_SERVICE, 'PTR');
      await eventually(() => advertiser.counters.queries >= 100, 10_000, 'every query received');
      // The answers held back come out once the second is up: wait for that one, then count.
      await waitCount(peer, 1, mark);
      const elapsedS = (Date.now() - started) / 1000;
      const answered = peer.responses.items.slice(mark).filter(ours).length;
      assert.ok(answered <= Math.ceil(elapsedS) + 2, `${answered} answers in ${elapsedS} s to 100 queries`);
      assert.ok(advertiser.counters.rateLimited >= 90, `${advertiser.counters.rateLimited} held back`);
    }));

  it('garbage and questions it does not own are counted or ignored, and logged once', () =>
    withAdvertiser(async ({ advertiser, peer, log }) => {
      advertiser.advertise({ deviceId: ID, host: 'bridge', port: 9100, listenHost: LOOPBACK });
      for (let i = 0; i < 30; i++) {
        await peer.sendRaw(Buffer.from([1, 2, 3, i]));
        await peer.query('printer._http._tcp.local', 'SRV');
      }
      await eventually(
        () => advertiser.counters.malformed >= 30 && advertiser.counters.queries >= 30,
        10_000,
        'every packet received',
      );
      assert.equal(advertiser.counters.answers, 0, 'nothing answered that was not asked for');
      assert.equal(log.lines.filter((l) => l.msg.includes('not DNS')).length, 1);
    }));

  it('the A record follows where the service listens and who asks', () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
    const stranger = { address: '198.51.100.7', local: false };
    const local = { address: '127.0.0.1', local: true };
    // A specific address: always that one.
    assert.deepEqual(addressesFor('192.0.2.50', stranger, ''), ['192.0.2.50']);
    // Loopback: only to this machine, and announced only when mDNS runs on loopback.
    assert.deepEqual(addressesFor('127.0.0.1', stranger, ''), []);
    assert.deepEqual(addressesFor('127.0.0.1', local, ''), ['127.0.0.1']);
    assert.deepEqual(addressesFor('127.0.0.1', undefined, ''), []);
    assert.deepEqual(addressesFor('localhost', undefined, '127.0.0.1'), ['127.0.0.1']);
    // IPv6 listen addresses have no A record.
    assert.deepEqual(addressesFor('::1', local, ''), []);
    // The wildcard: loopback to a loopback querier; otherwise our addresses.
    assert.deepEqual(addressesFor('0.0.0.0', local, ''), ['127.0.0.1']);
    if (own !== undefined) {
      assert.deepEqual(addressesFor('0.0.0.0', { address: own.address, local: true }, ''), [own.address]);
      assert.ok(addressesFor('0.0.0.0', stranger, '').includes(own.address));
    }
  });
});
