/**
 * The service with its MQTT link, end to end: the real tree (the MQTT actor
 * in its own worker), a real simulator and a real mosquitto. What a user of
 * the bus sees: the state, presence and events, and operator actions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StateDocument } from '../../contracts/bus.js';
import { eventually } from '../helpers.js';
import { TestClient, withBroker } from '../mqtt/broker.js';
import { withService } from './harness.js';
import { isSynchronized, mqttConfig, mqttStatus } from './mqtt-rig.js';

describe('the service on MQTT', () => {
  it('without mqtt.url there is no bus branch in the tree and no MQTT thread', () =>
    withService(async ({ service, phases }) => {
      await phases.waitFor('Synchronized');
      assert.deepEqual(
        service.root.whichChildren().map((c) => c.id),
        ['device', 'watchdog', 'tasks'],
      );
      assert.equal(service.bus, undefined);
      assert.equal(service.lifecycle.state, 'started');
    }));

  it('publishes its state retained (Synchronized, with the device) and its presence; events as they happen', () =>
    withBroker(async (broker) => {
      const reader = await TestClient.connect(broker.url);
      try {
        await reader.subscribe('tether/e2e/#');
        await withService(
          async ({ phases, service }) => {
            await phases.waitFor('Synchronized');
            const doc = await reader.waitForJson<StateDocument>('tether/e2e/state', isSynchronized);
            assert.equal(doc.key, 'e2e');
            assert.equal(doc.type, 'Tether.state');
            assert.equal(doc.data.communication, 'SYNCHRONIZED');
            assert.equal(doc.data.component.state, 'running');
            assert.equal(doc.data.device?.['deviceId'], '123456789012345678901234');
            assert.equal(doc.data.lifecycle.state, 'started');
            assert.deepEqual(doc.data.tasks, []);
            await reader.waitFor('tether/e2e/status', (r) => r.text === 'online');
            // A fresh subscriber gets both from the broker, retained.
            const late = await TestClient.connect(broker.url);
            try {
              await late.subscribe('tether/e2e/state');
              await late.subscribe('tether/e2e/status');
              const retained = await late.waitFor('tether/e2e/state');
              assert.equal(retained.retain, true);
              assert.ok(isSynchronized(JSON.parse(retained.text) as StateDocument));
              const presence = await late.waitFor('tether/e2e/status');
              assert.deepEqual([presence.text, presence.retain], ['online', true]);
            } finally {
              await late.close();
            }
            // An event per phase transition, not retained.
            const mark = phases.mark();
            const { phase } = service.kernel.state;
            service.kernel.disconnect(phase.generation, 'test');
            await phases.waitFor('Synchronized', 10_000, mark);
            const event = await reader.waitForJson<{ to: string; reason: string }>(
              'tether/e2e/events/phase',
              (e) => e.to === 'Disconnected' && e.reason === 'test',
            );
            assert.equal(event.reason, 'test');
          },
          { config: mqttConfig(broker) },
        );
        // An orderly stop says goodbye on the status topic.
        await reader.waitFor('tether/e2e/status', (r) => r.text === 'offline');
      } finally {
        await reader.close();
      }
    }));

  it('operator actions over MQTT answer as HTTP does: results, and the same typed errors', () =>
    withBroker(async (broker) => {
      await withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          await eventually(() => mqttStatus(service)?.connected === true, 10_000, 'MQTT connected');
          const client = await TestClient.connect(broker.url);
          try {
            const listed = await client.request('tether/e2e/cmd/command', { opcode: 'BLOCK_LIST' });
            assert.equal(listed.body['opcode'], 'BLOCK_LIST');
            assert.ok(Array.isArray(listed.body['payload']));
            const codeOf = (body: Record<string, unknown>): unknown =>
              (body['error'] as { code?: unknown })?.code;
            assert.equal(
              codeOf((await client.request('tether/e2e/cmd/nope', {})).body),
              'TETHER_UNKNOWN_ACTION',
            );
            assert.equal(
              codeOf((await client.request('tether/e2e/cmd/autoconnecting', { enabled: 'yes' })).body),
              'TETHER_INVALID_REQUEST',
            );
            assert.equal(
              codeOf((await client.request('tether/e2e/cmd/restart-actor', { id: 'nobody' })).body),
              'TETHER_CHILD_NOT_FOUND',
            );
            assert.equal(
              codeOf(
                (await client.request('tether/e2e/cmd/command', { opcode: 'BLOCK_READ', payload: {} })).body,
              ),
              'TETHER_INVALID_REQUEST',
            );
            const mark = phases.mark();
            const reconnect = await client.request('tether/e2e/cmd/reconnect', {});
            assert.equal(reconnect.body['disconnected'], true);
            await phases.waitFor('Synchronized', 10_000, mark);
            // The life cycle: pause closes the link and keeps it closed; start brings it back.
            const pauseMark = phases.mark();
            const paused = await client.request('tether/e2e/cmd/lifecycle', { state: 'paused' });
            assert.equal(paused.body['state'], 'paused');
            await phases.waitFor('Disconnected', 10_000, pauseMark);
            assert.equal(service.kernel.state.autoconnecting, false);
            assert.deepEqual(service.lifecycle.view().last?.source, { via: 'mqtt' });
            const again = await client.request('tether/e2e/cmd/lifecycle', { state: 'paused' });
            assert.equal(again.body['ignored'], true);
            await client.request('tether/e2e/cmd/lifecycle', { state: 'started' });
            await phases.waitFor('Synchronized', 10_000, pauseMark);
            const illegal = await client.request('tether/e2e/cmd/lifecycle', { state: 'created' });
            assert.equal(codeOf(illegal.body), 'TETHER_INVALID_REQUEST');
          } finally {
            await client.close();
          }
        },
        { config: mqttConfig(broker) },
      );
    }));

  it('with http.token, MQTT requests need it too', () =>
    withBroker(async (broker) => {
      await withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          await eventually(() => mqttStatus(service)?.connected === true, 10_000, 'MQTT connected');
          const client = await TestClient.connect(broker.url);
          try {
            const refused = await client.request('tether/e2e/cmd/reconnect', {});
            assert.equal((refused.body['error'] as { code: string }).code, 'TETHER_MQTT_UNAUTHORIZED');
            assert.equal(service.kernel.state.phase.name, 'Synchronized');
            const done = await client.request(
              'tether/e2e/cmd/autoconnecting',
              { enabled: true },
              { token: 'tok' },
            );
            assert.deepEqual(done.body, { autoconnecting: true });
          } finally {
            await client.close();
          }
        },
        { config: mqttConfig(broker, { http: { token: 'tok' } }) },
      );
    }));
});
