/**
 * The broker link on its own (no worker thread), against a real mosquitto:
 * what it publishes, how it answers requests, what it keeps while the
 * broker is away, how it backs off from a broker that refuses it. The
 * kernel's side is a recording stand-in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupOutcome, GroupTransition, MqttStatus, StateDocument } from '../../../contracts/bus.js';
import { busTopics } from '../../../contracts/bus.js';
import { LifecycleFailedError } from '../../../contracts/lifecycle.js';
import { groupSignature } from '../../../actors/mqtt/auth.js';
import { MqttLink, type MqttLinkSettings } from '../../../actors/mqtt/link.js';
import { readCaFileOrFail } from '../../../actors/mqtt/settings.js';
import type { ActorLogger } from '../../../runtime/actor.js';
import { eventually } from '../../helpers.js';
import { Recorder } from '../../recorder.js';
import { TestClient, withBroker, type Broker } from '../../mqtt/broker.js';
import { withStrangerCa } from '../../mqtt/certificates.js';

interface Peers {
  performed: Array<{ action: string; body: unknown }>;
  group: Recorder<{ message: GroupTransition; joining: boolean }>;
  joins: number;
  published: number[];
  reports: MqttStatus[];
  logs: Recorder<{ level: string; msg: string; fields: Record<string, unknown> }>;
}

function settings(broker: Broker, extra: Partial<MqttLinkSettings> = {}): MqttLinkSettings {
  return {
    url: broker.url,
    username: '',
    password: '',
    readCa: undefined,
    clientId: 'tether-unit',
    prefix: 'tether',
    topics: busTopics('tether', 'unit', extra.topics?.group === undefined ? '' : 'g'),
    keepaliveMs: 5000,
    connectTimeoutMs: 2000,
    reconnect: { initialMs: 100, factor: 2, maxMs: 2000 },
    minIntervalMs: 0,
    publishIntervalMs: 60_000,
    brewcast: false,
    maxPayloadBytes: 1024,
    token: '',
    ...extra,
  };
}

async function withLink(
  broker: Broker,
  extra: Partial<MqttLinkSettings>,
  body: (link: MqttLink, peers: Peers) => Promise<void>,
  perform: (action: string, body: unknown) => Promise<unknown> = async (action, b) => ({ action, body: b }),
): Promise<void> {
  const logs = new Recorder<{ level: string; msg: string; fields: Record<string, unknown> }>();
  const log =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) =>
      logs.push({ level, msg, fields });
  const logger: ActorLogger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  const peers: Peers = {
    performed: [],
    group: new Recorder(),
    joins: 0,
    published: [],
    reports: [],
    logs,
  };
  const link = new MqttLink(settings(broker, extra), {
    perform: async (action, b) => {
      peers.performed.push({ action, body: b });
      return perform(action, b);
    },
    groupTransition: async (message, joining): Promise<GroupOutcome> => {
      peers.group.push({ message, joining });
      return { kind: 'applied', state: message.to };
    },
    joined: () => (peers.joins += 1),
    groupPublished: (seq) => peers.published.push(seq),
    report: (status) => peers.reports.push(status),
    log: logger,
    random: () => 0.5,
  });
  await link.start();
  try {
    await body(link, peers);
  } finally {
    await link.stop();
  }
}

function state(phase: string, n = 0): StateDocument {
  return {
    key: 'unit',
    type: 'Tether.state',
    ttl: '60.0s',
    data: {
      service: 'unit',
      lifecycle: { state: 'started', since: new Date(0).toISOString(), moving: null, last: null },
      phase: { name: phase, generation: n, since: new Date(0).toISOString(), disconnectReason: null },
      communication: 'CONNECTED',
      component: { state: 'unknown', resetReason: null },
      autoconnecting: true,
      connection: null,
      device: null,
      errors: [],
      tasks: [],
    },
  };
}

const connected = (link: MqttLink): boolean => link.status().connected;

describe('the MQTT link against a real broker', () => {
  it('a fresh subscriber finds the latest state retained, and the presence online', () =>
    withBroker(async (broker) => {
      await withLink(broker, {}, async (link) => {
        link.publishState(state('Connected', 1));
        link.publishState(state('Synchronized', 1));
        await eventually(() => link.status().published.state >= 1, 10_000, 'a state published');
        const reader = await TestClient.connect(broker.url);
        try {
          await reader.subscribe('tether/unit/#');
          const found = await reader.waitForJson<StateDocument>(
            'tether/unit/state',
            (doc) => doc.data.phase.name === 'Synchronized',
          );
          assert.equal(found.key, 'unit');
          const presence = await reader.waitFor('tether/unit/status');
          assert.equal(presence.text, 'online');
          assert.equal(presence.retain, true);
        } finally {
          await reader.close();
        }
      });
    }));

  it('with brewcast on, the same state is retained on brewcast/state/<service> too', () =>
    withBroker(async (broker) => {
      await withLink(broker, { brewcast: true }, async (link) => {
        link.publishState(state('Synchronized', 2));
        await eventually(() => link.status().published.state >= 1, 10_000, 'a state published');
        const reader = await TestClient.connect(broker.url);
        try {
          await reader.subscribe('brewcast/state/unit');
          const doc = await reader.waitForJson<StateDocument>('brewcast/state/unit', () => true);
          assert.equal(doc.key, 'unit');
          assert.equal(doc.data.phase.generation, 2);
        } finally {
          await reader.close();
        }
      });
    }));

  it('changes come out coalesced: at most one state per minIntervalMs, the latest last', () =>
    withBroker(async (broker) => {
      const reader = await TestClient.connect(broker.url);
      try {
        await reader.subscribe('tether/unit/state');
        await withLink(broker, { minIntervalMs: 300 }, async (link) => {
          await eventually(() => connected(link), 10_000, 'connected');
          const began = Date.now();
          for (let n = 1; n <= 50; n += 1) link.publishState(state('Connected', n));
          await reader.waitForJson<StateDocument>(
            'tether/unit/state',
            (doc) => doc.data.phase.generation === 50,
          );
          const elapsed = Date.now() - began;
          const seen = reader.on('tether/unit/state');
          // 50 changes in a few ms: the first goes at once, the rest wait for the interval and only the latest goes.
          assert.ok(seen.length <= 2 + elapsed / 300, `${seen.length} publications in ${elapsed} ms`);
          assert.equal((JSON.parse(seen.at(-1)!.text) as StateDocument).data.phase.generation, 50);
        });
      } finally {
        await reader.close();
      }
    }));

  it('a request is answered on its response topic with its correlation data; its body reaches the kernel parsed', () =>
    withBroker(async (broker) => {
      await withLink(broker, {}, async (link, peers) => {
        await eventually(() => connected(link), 10_000, 'connected');
        const client = await TestClient.connect(broker.url);
        try {
          const { body, correlation } = await client.request('tether/unit/cmd/autoconnecting', {
            enabled: false,
          });
          assert.deepEqual(body, { action: 'autoconnecting', body: { enabled: false } });
          assert.ok(correlation !== undefined && correlation.length === 16);
          assert.deepEqual(peers.performed, [{ action: 'autoconnecting', body: { enabled: false } }]);
        } finally {
          await client.close();
        }
      });
    }));

  it('the kernel’s typed error is the answer: its code, message and detail', () =>
    withBroker(async (broker) => {
      await withLink(
        broker,
        {},
        async (link) => {
          await eventually(() => connected(link), 10_000, 'connected');
          const client = await TestClient.connect(broker.url);
          try {
            const { body } = await client.request('tether/unit/cmd/lifecycle', { state: 'paused' });
            const error = body['error'] as { code: string; detail: Record<string, unknown> };
            assert.equal(error.code, 'TETHER_LIFECYCLE_FAILED');
            assert.equal(error.detail['to'], 'paused');
          } finally {
            await client.close();
          }
        },
        async () => {
          throw new LifecycleFailedError('started', 'paused', new Error('boom'));
        },
      );
    }));

  it('with a token, a request without it or with another one is refused (TETHER_MQTT_UNAUTHORIZED) and never reaches the kernel', () =>
    withBroker(async (broker) => {
      await withLink(broker, { token: 's3cret' }, async (link, peers) => {
        await eventually(() => connected(link), 10_000, 'connected');
        const client = await TestClient.connect(broker.url);
        try {
          const missing = await client.request('tether/unit/cmd/reconnect', {});
          assert.equal((missing.body['error'] as { code: string }).code, 'TETHER_MQTT_UNAUTHORIZED');
          const wrong = await client.request('tether/unit/cmd/reconnect', {}, { token: 'guess' });
          assert.equal((wrong.body['error'] as { code: string }).code, 'TETHER_MQTT_UNAUTHORIZED');
          assert.deepEqual(peers.performed, []);
          const right = await client.request('tether/unit/cmd/reconnect', {}, { token: 's3cret' });
          assert.deepEqual(right.body, { action: 'reconnect', body: {} });
        } finally {
          await client.close();
        }
      });
    }));

  it('a payload over the limit or not JSON is refused with TETHER_INVALID_REQUEST; the log says so a bounded number of times', () =>
    withBroker(async (broker) => {
      await withLink(broker, { maxPayloadBytes: 256 }, async (link, peers) => {
        await eventually(() => connected(link), 10_000, 'connected');
        const client = await TestClient.connect(broker.url);
        try {
          const big = await client.request('tether/unit/cmd/command', null, { raw: 'x'.repeat(300) });
          assert.equal((big.body['error'] as { code: string }).code, 'TETHER_INVALID_REQUEST');
          for (let i = 0; i < 12; i += 1) {
            const bad = await client.request('tether/unit/cmd/command', null, { raw: '{"opcode": ' });
            assert.equal((bad.body['error'] as { code: string }).code, 'TETHER_INVALID_REQUEST');
          }
          assert.deepEqual(peers.performed, []);
          assert.equal(link.status().refused, 13);
          const lines = peers.logs.items.filter((l) => l.fields['kind'] === 'request-refused');
          assert.equal(lines.length, 5, 'refusals past the first five in a minute are counted, not logged');
        } finally {
          await client.close();
        }
      });
    }));

  it('a request naming one of the service topics as its response topic gets no answer there, and runs nothing', () =>
    withBroker(async (broker) => {
      await withLink(broker, {}, async (link, peers) => {
        await eventually(() => connected(link), 10_000, 'connected');
        const client = await TestClient.connect(broker.url);
        try {
          await client.subscribe('tether/other/cmd/#');
          await client.publish('tether/unit/cmd/reconnect', '{}', {
            properties: { responseTopic: 'tether/other/cmd/reconnect', correlationData: Buffer.from('x') },
          });
          // Requests are handled in order: once a later one is answered, the first was handled.
          await client.request('tether/unit/cmd/autoconnecting', { enabled: true });
          assert.deepEqual(
            peers.performed.map((p) => p.action),
            ['autoconnecting'],
          );
          assert.deepEqual(client.on('tether/other/cmd/#'), []);
        } finally {
          await client.close();
        }
      });
    }));

  it('while the broker is down the link keeps only the latest state and drops events; back up, it publishes that state', () =>
    withBroker(async (broker) => {
      await withLink(broker, {}, async (link) => {
        await eventually(() => connected(link), 10_000, 'connected');
        await broker.stop();
        await eventually(() => !connected(link), 10_000, 'disconnected');
        const before = link.status().published.state;
        for (let n = 1; n <= 100; n += 1) {
          link.publishState(state('Connected', n));
          link.publishEvent('phase', { n });
        }
        assert.equal(link.status().droppedEvents, 100);
        await broker.start();
        const reader = await TestClient.connect(broker.url);
        try {
          await reader.subscribe('tether/unit/state');
          const doc = await reader.waitForJson<StateDocument>('tether/unit/state', () => true, 15_000);
          assert.equal(doc.data.phase.generation, 100);
          // One publication for the hundred changes: nothing was queued.
          await eventually(() => link.status().published.state > before, 10_000, 'acknowledged');
          assert.equal(link.status().published.state, before + 1);
          assert.equal(reader.on('tether/unit/state').length, 1);
        } finally {
          await reader.close();
        }
      });
    }));

  it('a broker that refuses the credentials is retried with growing waits, and never connects', () =>
    withBroker(
      async (broker) => {
        await withLink(
          broker,
          { reconnect: { initialMs: 50, factor: 2, maxMs: 400 } },
          async (link, peers) => {
            await peers.logs.waitFor(
              (l) => l.msg.startsWith('broker link down') && l.fields['attempt'] === 4,
              {
                timeoutMs: 15_000,
                what: 'the fourth retry',
                summary: () => peers.logs.items.map((l) => l.msg).join('\n'),
              },
            );
            const waits = peers.logs.items
              .filter((l) => l.msg.startsWith('broker link down'))
              .map((l) => l.fields['retryInMs']);
            // random() is 0.5 here, so no jitter: 50, 100, 200, 400 (the cap).
            assert.deepEqual(waits.slice(0, 4), [50, 100, 200, 400]);
            assert.equal(link.status().connects, 0);
            // MQTT 5 reason code 135: not authorized (mosquitto's answer to an anonymous client it refuses).
            assert.equal(link.status().lastErrorCode, '135');
          },
        );
      },
      { allowAnonymous: false },
    ));

  it('group: the retained transition comes with the first subscription as joining; a bad signature is refused', () =>
    withBroker(async (broker) => {
      const token = 't0ken';
      const transition: GroupTransition = {
        origin: 'other/1',
        seq: 3,
        service: 'other',
        from: 'started',
        to: 'paused',
        at: new Date().toISOString(),
      };
      const payload = Buffer.from(JSON.stringify(transition));
      const client = await TestClient.connect(broker.url);
      try {
        await client.publish('tether/g/lifecycle', payload, {
          retain: true,
          properties: { userProperties: { sig: groupSignature(token, payload) } },
        });
        const groupSettings = { token, topics: busTopics('tether', 'unit', 'g') };
        await withLink(broker, groupSettings, async (link, peers) => {
          const first = await peers.group.waitFor(() => true, {
            timeoutMs: 10_000,
            what: 'the retained transition',
            summary: () => '',
          });
          assert.deepEqual(first, { message: transition, joining: true });
          await eventually(() => peers.joins === 1, 10_000, 'joined');
          const live = { ...transition, seq: 4, to: 'started' as const };
          const livePayload = Buffer.from(JSON.stringify(live));
          await client.publish('tether/g/lifecycle', livePayload, {
            properties: { userProperties: { sig: 'f'.repeat(64) } },
          });
          await client.publish('tether/g/lifecycle', livePayload, {
            properties: { userProperties: { sig: groupSignature(token, livePayload) } },
          });
          const second = await peers.group.waitFor(() => true, {
            timeoutMs: 10_000,
            what: 'the live transition',
            summary: () => '',
            count: 2,
          });
          assert.deepEqual(second, { message: live, joining: false });
          assert.equal(link.status().refused, 1);
        });
      } finally {
        await client.close();
      }
    }));

  it('group: a transition of ours is published retained, signed, and reported acknowledged', () =>
    withBroker(async (broker) => {
      await withLink(
        broker,
        { token: 'k', topics: busTopics('tether', 'unit', 'g') },
        async (link, peers) => {
          const reader = await TestClient.connect(broker.url);
          try {
            await reader.subscribe('tether/g/lifecycle');
            const message: GroupTransition = {
              origin: 'unit/1',
              seq: 1,
              service: 'unit',
              from: 'started',
              to: 'paused',
              at: new Date().toISOString(),
            };
            link.publishGroup(message);
            const got = await reader.waitFor('tether/g/lifecycle');
            assert.deepEqual(JSON.parse(got.text), message);
            assert.equal(
              got.packet.properties?.userProperties?.['sig'],
              groupSignature('k', Buffer.from(got.text)),
            );
            await eventually(() => peers.published.includes(1), 10_000, 'acknowledged');
          } finally {
            await reader.close();
          }
        },
      );
    }));
});

describe('the MQTT link over TLS (mqtts://) against a real broker', () => {
  /** The CA file as the service reads it (actors/mqtt/settings.ts), not a copy of that. */
  const trusting = (caFile: string): Partial<MqttLinkSettings> => ({
    readCa: () => readCaFileOrFail(caFile),
  });

  it('with the CA file that signed the broker certificate, it connects: online retained, and the state arrives', () =>
    withBroker(
      async (broker) => {
        const ca = broker.ca?.certFile ?? assert.fail('a TLS broker has a CA');
        assert.match(broker.url, /^mqtts:/);
        await withLink(broker, trusting(ca), async (link) => {
          link.publishState(state('Synchronized', 3));
          await eventually(() => link.status().published.state >= 1, 10_000, 'a state published');
          assert.equal(link.status().connected, true);
          assert.equal(link.status().lastErrorCode, null);
          const reader = await TestClient.connect(broker.url, undefined, { ca: await readCaFileOrFail(ca) });
          try {
            await reader.subscribe('tether/unit/#');
            const presence = await reader.waitFor('tether/unit/status');
            assert.equal(presence.text, 'online');
            assert.equal(presence.retain, true);
            const found = await reader.waitForJson<StateDocument>(
              'tether/unit/state',
              (doc) => doc.data.phase.name === 'Synchronized',
            );
            assert.equal(found.data.phase.generation, 3);
          } finally {
            await reader.close();
          }
        });
      },
      { tls: true },
    ));

  it('with a CA file that did not sign the broker certificate, it never connects: a coded error, waits that grow, nothing published', () =>
    withStrangerCa(async (strangerCa) => {
      await withBroker(
        async (broker) => {
          await withLink(
            broker,
            { ...trusting(strangerCa), reconnect: { initialMs: 50, factor: 2, maxMs: 400 } },
            async (link, peers) => {
              link.publishState(state('Synchronized', 4));
              await peers.logs.waitFor(
                (l) => l.msg.startsWith('broker link down') && l.fields['attempt'] === 4,
                {
                  timeoutMs: 15_000,
                  what: 'the fourth retry',
                  summary: () => peers.logs.items.map((l) => l.msg).join('\n'),
                },
              );
              const status = link.status();
              assert.equal(status.connects, 0);
              assert.equal(status.connected, false);
              assert.equal(status.published.state, 0);
              // Node's code for a chain that ends at no CA it trusts: the broker's certificate is not ours.
              assert.equal(status.lastErrorCode, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
              const errors = peers.logs.items.filter((l) => l.msg === 'broker link error');
              assert.ok(errors.length > 0);
              assert.equal(errors[0]?.fields['code'], 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
              const retries = peers.logs.items.filter((l) => l.msg.startsWith('broker link down'));
              assert.deepEqual(
                retries.slice(0, 4).map((l) => l.fields['retryInMs']),
                [50, 100, 200, 400],
              );
              assert.equal(retries[0]?.fields['lastErrorCode'], 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
              // And the kernel hears of it (for /api/status), though the link never came up.
              await eventually(
                () => peers.reports.some((r) => r.lastErrorCode === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
                10_000,
                'the failed attempts reported',
              );
              // The broker kept nothing of ours: a client that does trust its CA finds no presence and no state.
              const ca = await readCaFileOrFail(broker.ca?.certFile ?? assert.fail('a TLS broker has a CA'));
              const reader = await TestClient.connect(broker.url, undefined, { ca });
              try {
                await reader.subscribe('tether/unit/#');
                await reader.subscribe('fence');
                await reader.publish('fence', 'x');
                await reader.waitFor('fence');
                assert.deepEqual(reader.on('tether/unit/#'), []);
              } finally {
                await reader.close();
              }
            },
          );
        },
        { tls: true },
      );
    }));
});
