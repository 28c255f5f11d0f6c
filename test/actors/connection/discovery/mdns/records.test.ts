/**
 * Reading and writing the DNS-SD records of a controller, without a socket:
 * what we advertise reads back as the same controller, and every kind of
 * wrong answer is counted and skipped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Answer } from 'dns-packet';
import {
  CONTROLLER_SERVICE,
  RECORD_LIMITS,
  readResponse,
  serviceRecords,
} from '../../../../../actors/connection/discovery/mdns/index.js';
import { hostLabel, instanceLabel } from '../../../../../actors/connection/discovery/mdns/records.js';

const ID = '0123456789ABCDEF01234567';
const REMOTE = { address: '192.168.1.20', local: false };
const LOCAL = { address: '127.0.0.1', local: true };

function advertised(overrides: { port?: number; id?: string; addresses?: string[]; instance?: string } = {}) {
  const records = serviceRecords(
    {
      instance: overrides.instance ?? ID,
      host: 'spark',
      port: overrides.port ?? 8332,
      txt: { ID: overrides.id ?? ID, VERSION: 'abc' },
    },
    overrides.addresses ?? ['192.168.1.20'],
  );
  return { type: 'response', answers: records.answers, additionals: records.additionals };
}

describe('mDNS records', () => {
  it('what we advertise reads back as the same controller, its id in lower case', () => {
    const read = readResponse(advertised(), REMOTE);
    assert.deepEqual(read.skipped, {});
    assert.deepEqual(read.sightings, [
      {
        deviceId: ID.toLowerCase(),
        name: `${ID.toLowerCase()}.${CONTROLLER_SERVICE}`,
        host: 'spark.local',
        port: 8332,
        address: '192.168.1.20',
        ttlSec: 120,
      },
    ]);
  });

  it('records with TTL 0 are a goodbye, not a sighting', () => {
    const records = serviceRecords({ instance: ID, host: 'spark', port: 8332, txt: { ID } }, ['10.0.0.2'], 0);
    const read = readResponse({ answers: records.answers, additionals: records.additionals }, REMOTE);
    assert.deepEqual(read.sightings, []);
    assert.deepEqual(read.goodbyes, [`${ID.toLowerCase()}.${CONTROLLER_SERVICE}`]);
  });

  const wrong: [string, object, string][] = [
    ['a device id of the wrong shape', advertised({ id: 'not-an-id' }), 'badId'],
    ['a 12-digit (Spark 4) device id', advertised({ id: '0123456789AB' }), 'badId'],
    ['port 0', advertised({ port: 0 }), 'badPort'],
    [
      'an A record of 0.0.0.0 (what brewblox uses for a simulator)',
      advertised({ addresses: ['0.0.0.0'] }),
      'badAddress',
    ],
    ['a multicast A record', advertised({ addresses: ['224.0.0.251'] }), 'badAddress'],
    ['a loopback A record from another machine', advertised({ addresses: ['127.0.0.1'] }), 'badAddress'],
  ];
  for (const [what, packet, kind] of wrong) {
    it(`${what} is counted as ${kind} and skipped`, () => {
      const read = readResponse(packet, REMOTE);
      assert.deepEqual(read.sightings, []);
      assert.deepEqual(read.skipped, { [kind]: 1 });
    });
  }

  it('a TXT record without ID is counted as noId', () => {
    const packet = advertised();
    packet.additionals = packet.additionals.map((r) =>
      r.type === 'TXT' ? ({ ...r, data: ['VERSION=1'] } as Answer) : r,
    );
    assert.deepEqual(readResponse(packet, REMOTE).skipped, { noId: 1 });
  });

  it('a PTR to our type without its SRV is counted as incomplete', () => {
    const packet = advertised();
    packet.additionals = packet.additionals.filter((r) => r.type !== 'SRV');
    assert.deepEqual(readResponse(packet, REMOTE).skipped, { incomplete: 1 });
  });

  it('a loopback A record from this machine is accepted', () => {
    const read = readResponse(advertised({ addresses: ['127.0.0.1'] }), LOCAL);
    assert.equal(read.sightings[0]?.address, '127.0.0.1');
  });

  it("without an A record, the sender's address is used", () => {
    const packet = advertised();
    packet.additionals = packet.additionals.filter((r) => r.type !== 'A');
    assert.equal(readResponse(packet, REMOTE).sightings[0]?.address, '192.168.1.20');
  });

  it('other services on the network are ignored without being counted', () => {
    const packet = {
      answers: [{ name: '_http._tcp.local', type: 'PTR', ttl: 120, data: 'printer._http._tcp.local' }],
      additionals: [
        { name: 'printer._http._tcp.local', type: 'SRV', ttl: 120, data: { port: 80, target: 'p.local' } },
      ],
    };
    assert.deepEqual(readResponse(packet, REMOTE), { sightings: [], goodbyes: [], skipped: {} });
  });

  it('a packet naming many controllers adds at most servicesPerPacket, and counts the rest', () => {
    const packets = Array.from({ length: 30 }, (_, i) => advertised({ instance: `spark-${i}` }));
    const packet = {
      answers: packets.flatMap((p) => p.answers),
      additionals: packets.flatMap((p) => p.additionals),
    };
    const read = readResponse(packet, REMOTE);
    assert.ok(read.sightings.length <= RECORD_LIMITS.servicesPerPacket);
    assert.ok((read.skipped.tooMany ?? 0) > 0);
  });

  it('a TTL of "forever" is capped', () => {
    const packet = advertised();
    const forever = (r: Answer): Answer => ({ ...r, ttl: 0x7fffffff }) as Answer;
    packet.answers = packet.answers.map(forever);
    packet.additionals = packet.additionals.map(forever);
    assert.equal(readResponse(packet, REMOTE).sightings[0]?.ttlSec, RECORD_LIMITS.maxTtlSec);
  });

  it('labels are made safe: no dots, at most 63 bytes, host names in letters, digits and hyphens', () => {
    assert.equal(instanceLabel('a.b.c'), 'a-b-c');
    assert.equal(Buffer.byteLength(instanceLabel('é'.repeat(100))) <= 63, true);
    assert.equal(hostLabel('My_Host.example'), 'my-host-example');
    assert.equal(hostLabel('...'), 'tether');
  });

  it('any decoded packet shape is read without throwing, and adds a bounded number of sightings', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
    );
    const record = fc.record(
      {
        name: fc.oneof(
          fc.constantFrom(CONTROLLER_SERVICE, `${ID}.${CONTROLLER_SERVICE}`, 'spark.local'),
          fc.string(),
        ),
        type: fc.constantFrom('PTR', 'SRV', 'TXT', 'A', 'AAAA', 'X', 7),
        ttl: fc.oneof(fc.integer(), fc.double(), fc.constant(undefined)),
        data: fc.oneof(
          value,
          fc.array(value, { maxLength: 4 }),
          fc.record({ port: fc.oneof(fc.integer(), fc.string()), target: value }),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({
            answers: fc.array(record, { maxLength: 80 }),
            additionals: fc.array(record, { maxLength: 80 }),
          }),
        ),
        (packet) => {
          const read = readResponse(packet, REMOTE);
          assert.ok(read.sightings.length <= RECORD_LIMITS.servicesPerPacket);
          for (const s of read.sightings) {
            assert.match(s.deviceId, /^[0-9a-f]{24}$/);
            assert.ok(s.port >= 1 && s.port <= 65535);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
