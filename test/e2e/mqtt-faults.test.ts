/**
 * A broker that goes away, refuses, or flaps, and an MQTT actor that
 * crashes, never touch the device link, the commands or the HTTP API.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MqttApi, MqttStatus, StateDocument } from '../../contracts/bus.js';
import { eventually } from '../helpers.js';
import { withApi } from '../http/fixture.js';
import { TestClient, withBroker } from '../mqtt/broker.js';
import { withStrangerCa } from '../mqtt/certificates.js';
import { withService } from './harness.js';
import { deviceIncarnations, isSynchronized, keepCommanding, mqttConfig, mqttStatus } from './mqtt-rig.js';

describe('the service on MQTT, when the broker or the link fails', () => {
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
          const crashedAt = new Date().toISOString();
          assert.ok(service.system.injectFault('mqtt', 'crash'));
          await restarted;
          // The new incarnation gets the state from the kernel and publishes it (its own counters start at 0).
          await eventually(
            () => {
              const report = mqttStatus(service);
              return report !== undefined && report.since! > crashedAt && report.published.state >= 1;
            },
            10_000,
            'the new incarnation published the state',
          );
          assert.equal(deviceIncarnations(service), before);
          assert.equal(phases.changes.length, mark);
        },
        { config: mqttConfig(broker) },
      );
    }));

  it('mqtts:// with a CA file that did not sign the broker: the link backs off with a coded error in /api/status; device, commands and HTTP unaffected', () =>
    withStrangerCa(async (strangerCa) => {
      await withBroker(
        async (broker) => {
          await withApi(
            async ({ phases, service, call }) => {
              await phases.waitFor('Synchronized');
              const mark = phases.mark();
              const before = deviceIncarnations(service);
              const mqttExits: number[] = [];
              service.root.events.subscribe((e) => {
                if (e.type === 'child-exited' && e.childId === 'mqtt') mqttExits.push(e.at);
              });
              const commands = keepCommanding(service);
              try {
                await eventually(
                  () => (mqttStatus(service)?.attempts ?? 0) >= 3,
                  20_000,
                  'three attempts to connect, reported',
                );
                const status = await call('GET', '/api/status');
                assert.equal(status.status, 200);
                const reported = (status.json['reports'] as Record<string, MqttStatus | undefined>)['mqtt'];
                assert.equal(reported?.connected, false);
                assert.equal(reported.connects, 0);
                assert.equal(reported.lastErrorCode, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
                assert.equal((await call('GET', '/healthz')).status, 200);
              } finally {
                const { ok, failures } = await commands.stop();
                assert.deepEqual(failures, []);
                assert.ok(ok > 0);
              }
              // The link retries on its own: the actor is not crashing and being restarted.
              assert.deepEqual(mqttExits, []);
              assert.equal(phases.changes.length, mark, 'the device link never changed phase');
              assert.equal(deviceIncarnations(service), before, 'no device actor restarted');
            },
            { config: mqttConfig(broker, { mqtt: { caFile: strangerCa } }) },
          );
        },
        { tls: true },
      );
    }));

  it('a CA file that cannot be read fails the MQTT actor, which its supervisor restarts with backoff; the device is not touched', () =>
    withService(
      async ({ phases, service, logs }) => {
        await phases.waitFor('Synchronized');
        const mark = phases.mark();
        const before = deviceIncarnations(service);
        const exits: number[] = [];
        await new Promise<void>((resolve) =>
          service.root.events.subscribe((e) => {
            if (e.type === 'child-exited' && e.childId === 'mqtt') exits.push(e.at);
            if (exits.length === 2) resolve();
          }),
        );
        assert.ok(logs.some((l) => l['msg'] === 'the MQTT link cannot start'));
        assert.equal(phases.changes.length, mark);
        assert.equal(deviceIncarnations(service), before);
        assert.equal(service.lifecycle.state, 'started');
      },
      {
        config: {
          mqtt: { url: 'mqtts://127.0.0.1:1', caFile: '/nonexistent/ca.pem' },
          supervision: { bus: { backoff: { minMs: 100, maxMs: 200 } } },
        },
      },
    ));
});
