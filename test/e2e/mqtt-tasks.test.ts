/**
 * Tasks over MQTT, end to end (the real tree, the simulator, a real
 * mosquitto): `cmd/task-submit` and `cmd/task-abort` are the same operator
 * actions HTTP takes, task status changes go out as `task` events, and the
 * state document lists the tasks running and queued.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StateDocument } from '../../contracts/bus.js';
import type { TaskView } from '../../tasks/index.js';
import { eventually } from '../helpers.js';
import { statusOf } from '../kernel/task-helpers.js';
import { TestClient, withBroker } from '../mqtt/broker.js';
import { withService } from './harness.js';
import { mqttConfig, mqttStatus } from './mqtt-rig.js';

describe('tasks on MQTT', () => {
  it('a reboot submitted over MQTT runs, its statuses go out as events, and the state lists it while it runs', () =>
    withBroker(async (broker) => {
      await withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          await eventually(() => mqttStatus(service)?.connected === true, 10_000, 'MQTT connected');
          const client = await TestClient.connect(broker.url);
          try {
            await client.subscribe('tether/e2e/#');
            const submitted = await client.request('tether/e2e/cmd/task-submit', { kind: 'reboot' });
            const task = submitted.body['task'] as TaskView;
            assert.equal(task.status, 'QUEUED');
            await client.waitForJson<StateDocument>('tether/e2e/state', (doc) =>
              doc.data.tasks.some((t) => t['id'] === task.id),
            );
            await statusOf(service.tasks.tracker, task.id, 'COMPLETED', 30_000);
            await client.waitForJson<Record<string, unknown>>(
              'tether/e2e/events/task',
              (event) =>
                JSON.stringify(event).includes(task.id) && JSON.stringify(event).includes('COMPLETED'),
            );
            const unknown = await client.request('tether/e2e/cmd/task-abort', { id: 'no-such-task' });
            assert.equal((unknown.body['error'] as { code?: unknown }).code, 'TETHER_TASK_NOT_FOUND');
            const none = await client.request('tether/e2e/cmd/task-abort', { all: true });
            assert.deepEqual(none.body['tasks'], []);
          } finally {
            await client.close();
          }
        },
        { config: mqttConfig(broker) },
      );
    }));
});
