/**
 * Tasks as telemetry, on the SDK's in-memory exporter: one span per task
 * from submission to end, with its status changes and progress as events,
 * its result summarized, status ERROR when it failed or was rejected.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanStatusCode, metrics } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ATTR, EVENTS, SPANS } from '../../otel/names.js';
import { TaskObserver } from '../../otel/tasks.js';
import { CommandTracker, LocalExecutor } from '../../tasks/index.js';
import type { JobContext, TaskKindSpec } from '../../tasks/index.js';
import { statusOf } from '../kernel/task-helpers.js';

describe('task telemetry', () => {
  it('a task is a span from submission to its end, with progress events and its result summary', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const observer = new TaskObserver({
      tracer: provider.getTracer('test'),
      meter: metrics.getMeter('test'),
    });
    const executor = new LocalExecutor({
      work: async (_args: unknown, context: JobContext) => {
        context.progress(50, 'half way');
        return { blocks: 3, path: '/tmp/x.json', nested: { ignored: true } };
      },
      fail: async () => {
        throw Object.assign(new Error('nope'), { code: 'TETHER_CONTROLLER_ERROR' });
      },
    });
    const kinds: TaskKindSpec[] = ['work', 'fail'].map((kind) => ({
      kind,
      executor,
      exclusive: false,
      timeoutMs: 10_000,
      parseArgs: (a: unknown) => a,
    }));
    const tracker = new CommandTracker({ kinds });
    observer.observe(tracker);
    const ok = tracker.submit('work', null);
    await statusOf(tracker, ok.id, 'COMPLETED');
    const failed = tracker.submit('fail', null);
    await statusOf(tracker, failed.id, 'FAILED');
    observer.close();
    const [work, fail] = exporter.getFinishedSpans();
    assert.equal(work?.name, SPANS.task);
    assert.equal(work.attributes[ATTR.taskKind], 'work');
    assert.equal(work.attributes[ATTR.taskStatus], 'COMPLETED');
    assert.equal(work.attributes[`${ATTR.taskResult}.blocks`], 3);
    assert.equal(work.attributes[`${ATTR.taskResult}.nested`], undefined);
    assert.deepEqual(
      work.events.map((e) => e.name),
      [EVENTS.taskStatus, EVENTS.taskStatus, EVENTS.taskProgress, EVENTS.taskStatus],
    );
    assert.equal(work.status.code, SpanStatusCode.UNSET);
    assert.equal(fail?.status.code, SpanStatusCode.ERROR);
    assert.equal(fail.attributes[ATTR.taskProblem], 'TETHER_CONTROLLER_ERROR');
    await provider.shutdown();
  });
});
