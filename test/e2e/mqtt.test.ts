/**
 * The service with its MQTT link, end to end: the real tree (the MQTT actor
 * in its own worker), a real simulator and a real mosquitto. What a user of
 * the bus sees, and that a broker that goes away, refuses, or flaps never
 * touches the device link, the commands or the HTTP API.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommanderApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import type { MqttApi, MqttStatus, StateDocument } from '../../contracts/bus.js';
import type { DeepPartial, TetherConfig } from '../../config/index.js';
import type { Service } from '../../kernel/service.js';
import { eventually } from '../helpers.js';
import { withApi } from '../http/fixture.js';
import { TestClient, withBroker, type Broker } from '../mqtt/broker.js';
import { withService } from './harness.js';

function mqttConfig(broker: Broker, extra: DeepPartial<TetherConfig> = {}): DeepPartial<TetherConfig> {
  return {
    ...extra,
    // Loading mqtt.js takes a worker seconds on a busy machine: room for it, so that is not what fails.
    supervision: {
      children: { mqtt: { startTimeoutMs: 30_000, heartbeat: { intervalMs: 1000, timeoutMs: 10_000 } } },
    },
    mqtt: {
      url: broker.url,
      service: 'e2e',
      minIntervalMs: 50,
      reconnect: { initialMs: 100, factor: 2, maxMs: 1000 },
      ...extra.mqtt,
    },
  };
}

const isSynchronized = (doc: StateDocument): boolean => doc.data.phase.name === 'Synchronized';

/** Commands sent one after another until stopped; every failure kept. */
function keepCommanding(service: Service): { stop(): Promise<{ ok: number; failures: unknown[] }> } {
  const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
  const failures: unknown[] = [];
  let ok = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await commander.call('request', 'BLOCK_LIST', undefined);
        ok += 1;
      } catch (error) {
        failures.push(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failures };
    },
  };
}

function mqttStatus(service: Service): MqttStatus | undefined {
  return service.kernel.reports().get('mqtt') as MqttStatus | undefined;
}

/** Incarnations of the device actors, to show that none of them restarted. */
function deviceIncarnations(service: Service): string {
  const device = service.root.whichChildren().find((c) => c.id === 'device');
  return JSON.stringify(device?.children?.map((c) => [c.id, c.incarnation]));
}

describe('the service on MQTT', () => {
  it('without mqtt.url there is no bus branch in the tree and no MQTT thread', () =>
    withService(async ({ service, phases }) => {
      await phases.waitFor('Synchronized');
      assert.deepEqual(
        service.root.whichChildren().map((c) => c.id),
        ['device', 'watchdog'],
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

  it('the broker stopped and started again while commands run: link, commands and HTTP unaffected, state republished', () =>
    withBroker(async (broker) => {
      await withApi(
        async ({ phases, service, call }) => {
          await phases.waitFor('Synchronized');
          await eventually(() => mqttStatus(service)?.connected === true, 10_000, 'MQTT connected');
          const mark = phases.mark();
          const before = deviceIncarnations(service);
          const commands = keepCommanding(service);
          await broker.stop();
          await eventually(() => mqttStatus(service)?.connected === false, 10_000, 'MQTT down');
          const health = await call('GET', '/healthz');
          assert.equal(health.status, 200);
          const status = await call('GET', '/api/status');
          assert.equal(status.status, 200);
          await broker.start();
          // No persistence: the broker lost the retained state, so what a reader finds now was published again.
          const reader = await TestClient.connect(broker.url);
          try {
            await reader.subscribe('tether/e2e/state');
            await reader.waitForJson<StateDocument>('tether/e2e/state', isSynchronized, 15_000);
          } finally {
            await reader.close();
          }
          const { ok, failures } = await commands.stop();
          assert.deepEqual(failures, []);
          assert.ok(ok > 0);
          assert.equal(phases.changes.length, mark, 'the device link never changed phase');
          assert.equal(deviceIncarnations(service), before, 'no device actor restarted');
        },
        { config: mqttConfig(broker) },
      );
    }));

  it('a broker that drops the service every second, or refuses it, never touches the device link or the commands', () =>
    withBroker(async (flapping) => {
      await withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          await eventually(() => mqttStatus(service)?.connected === true, 10_000, 'MQTT connected');
          const mark = phases.mark();
          const before = deviceIncarnations(service);
          const commands = keepCommanding(service);
          const connects = (): number => mqttStatus(service)?.connects ?? 0;
          for (let round = 1; round <= 3; round += 1) {
            await eventually(() => connects() === round, 10_000, `connected (${round})`);
            await flapping.stop();
            await eventually(() => mqttStatus(service)?.connected === false, 10_000, `dropped (${round})`);
            await flapping.start();
          }
          const { failures } = await commands.stop();
          assert.deepEqual(failures, []);
          assert.equal(phases.changes.length, mark);
          assert.equal(deviceIncarnations(service), before);
        },
        { config: mqttConfig(flapping) },
      );
      await withBroker(
        async (refusing) => {
          await withService(
            async ({ phases, service }) => {
              await phases.waitFor('Synchronized');
              const commands = keepCommanding(service);
              const mqtt = service.root.findSupervisorOf('mqtt');
              const link = service.system.ref<MqttApi>('mqtt');
              // Refused three times (the link backs off between), with commands going all along.
              const deadline = Date.now() + 15_000;
              let status = await link.call('status');
              while (status.attempts < 3) {
                assert.ok(Date.now() < deadline, 'three refused attempts within 15 s');
                await new Promise((resolve) => setTimeout(resolve, 50));
                status = await link.call('status');
              }
              assert.equal(status.connects, 0);
              const { ok, failures } = await commands.stop();
              assert.deepEqual(failures, []);
              assert.ok(ok > 0);
              assert.equal(service.kernel.state.phase.name, 'Synchronized');
              assert.equal(
                mqtt?.whichChildren()[0]?.restarts,
                0,
                'refusals are the link’s business, not a crash',
              );
            },
            { config: mqttConfig(refusing) },
          );
        },
        { allowAnonymous: false },
      );
    }));

  it('an MQTT actor that crashes is restarted by its own supervisor; the device actors are not touched', () =>
    withBroker(async (broker) => {
      await withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          await eventually(() => mqttStatus(service)?.connected === true, 10_000, 'MQTT connected');
          const before = deviceIncarnations(service);
          const mark = phases.mark();
          const restarted = new Promise<void>((resolve) =>
            service.root.events.subscribe((e) => {
              if (e.type === 'child-restarted' && e.childId === 'mqtt') resolve();
            }),
          );
          assert.ok(service.system.injectFault('mqtt', 'crash'));
          await restarted;
          // The new incarnation gets the state from the kernel and publishes it.
          const reader = await TestClient.connect(broker.url);
          try {
            await reader.subscribe('tether/e2e/state');
            await reader.waitForJson<StateDocument>('tether/e2e/state', isSynchronized);
          } finally {
            await reader.close();
          }
          assert.equal(deviceIncarnations(service), before);
          assert.equal(phases.changes.length, mark);
        },
        { config: mqttConfig(broker) },
      );
    }));
});
