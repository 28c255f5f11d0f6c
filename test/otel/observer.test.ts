/**
 * The observer's supervision spans, fed supervision events directly and
 * read from the SDK's in-memory exporter: a restart is a span from the exit
 * to the restart; an exit that is not followed by a restart (a temporary
 * child, a transient one ending normally) leaves no span open.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanStatusCode, metrics } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Observer } from '../../otel/observer.js';
import { ATTR, SPANS } from '../../otel/names.js';
import type { SupervisionEvent } from '../../supervisors/index.js';

function observer(): { observer: Observer; exporter: InMemorySpanExporter; provider: TracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const observer = new Observer({
    tracer: provider.getTracer('test'),
    meter: metrics.getMeter('test'),
    pendingCommands: () => Promise.resolve(undefined),
  });
  return { observer, exporter, provider };
}

const at = Date.now();

describe('supervision spans', () => {
  it('a crash followed by its restart is one ended restart span with status ERROR and the restarted group', async () => {
    const { observer: o, exporter, provider } = observer();
    const reason = { kind: 'hung', timeoutMs: 3000 } as const;
    const exited: SupervisionEvent = {
      type: 'child-exited',
      supervisor: 'device',
      at,
      childId: 'commander',
      reason,
      restarting: true,
    };
    o.onSupervision(exited);
    assert.equal(exporter.getFinishedSpans().length, 0, 'open until the restart');
    o.onSupervision({
      type: 'child-restarted',
      supervisor: 'device',
      at: at + 5,
      childId: 'commander',
      strategy: 'rest_for_one',
      group: ['commander', 'watchdog'],
      cause: reason,
    });
    const [restart] = exporter.getFinishedSpans();
    assert.equal(restart?.name, SPANS.restart);
    assert.equal(restart.status.code, SpanStatusCode.ERROR);
    assert.deepEqual(restart.attributes[ATTR.restartedChildren], ['commander', 'watchdog']);
    o.close();
    await provider.shutdown();
  });

  it('an exit that is not restarted (temporary, or transient and normal) opens no restart span, even until shutdown', async () => {
    const { observer: o, exporter, provider } = observer();
    for (const childId of ['probe', 'flaky']) {
      o.onSupervision({
        type: 'child-exited',
        supervisor: 'root',
        at,
        childId,
        reason: { kind: 'normal' },
        restarting: false,
      });
    }
    o.close();
    assert.deepEqual(
      exporter.getFinishedSpans().map((s) => s.name),
      [],
      'no restart span, not even one ended at close',
    );
    await provider.shutdown();
  });
});
