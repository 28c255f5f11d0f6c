/**
 * Task telemetry of the real service, exported over OTLP/HTTP to a receiver
 * inside the test: a reboot is one `tether.task` span from submission to
 * end with its status changes and progress as events and its result
 * summarized, and tasks by kind and status arrive as a metric.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATTR, EVENTS, METRICS, SPANS } from '../../otel/names.js';
import { withService } from '../e2e/harness.js';
import { statusOf } from '../kernel/task-helpers.js';
import { OtlpReceiver, otelEnv } from './receiver.js';

describe('task telemetry of the device service', () => {
  it('a reboot is a task span with its status changes, progress and result, and the tasks metric counts it', async () => {
    const receiver = await OtlpReceiver.start();
    try {
      await withService(
        async ({ phases, service }) => {
          await phases.waitFor('Synchronized');
          const task = service.tasks.tracker.submit('reboot', {});
          await statusOf(service.tasks.tracker, task.id, 'COMPLETED', 30_000);
          const span = await receiver.waitFor('the reboot task span', () =>
            receiver.spans.find((s) => s.name === SPANS.task && s.attributes[ATTR.taskId] === task.id),
          );
          assert.equal(span.attributes[ATTR.taskKind], 'reboot');
          assert.equal(span.attributes[ATTR.taskStatus], 'COMPLETED');
          assert.equal(span.attributes[`${ATTR.taskResult}.resetReason`], 'USER');
          const statuses = span.events
            .filter((e) => e.name === EVENTS.taskStatus)
            .map((e) => e.attributes[ATTR.taskStatus]);
          assert.deepEqual(statuses, ['QUEUED', 'IN_PROGRESS', 'COMPLETED']);
          assert.ok(span.events.some((e) => e.name === EVENTS.taskProgress));
          await receiver.waitFor('the tasks metric', () =>
            receiver.points.find(
              (p) =>
                p.metric === METRICS.tasks &&
                p.attributes[ATTR.taskKind] === 'reboot' &&
                p.attributes[ATTR.taskStatus] === 'COMPLETED' &&
                p.value >= 1,
            ),
          );
        },
        { telemetryEnv: otelEnv(receiver.endpoint) },
      );
    } finally {
      await receiver.close();
    }
  });
});
