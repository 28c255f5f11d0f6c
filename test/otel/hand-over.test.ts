import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { fromSpansHandOver, toSpansHandOver } from '../../otel/hand-over.js';
import { ATTR } from '../../otel/names.js';

const PARENT = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
  isRemote: true,
  traceState: new TraceState('vendor=value'),
};

/** Finished spans of two scopes: a bare one, and one with everything a span can carry. */
function finishedSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'hand-over-test' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
    spanLimits: { attributeCountLimit: 3 },
  });
  provider.getTracer('plain').startSpan('bare').end();
  const parent = trace.setSpanContext(context.active(), PARENT);
  const full = provider.getTracer('full', '1.2.3').startSpan(
    'full',
    {
      kind: SpanKind.CLIENT,
      attributes: { a: 1, b: 'two', c: true, d: 'over the limit' },
      links: [{ context: { ...PARENT, spanId: 'a7ad6b7169203331' }, attributes: { why: 'linked' } }],
    },
    parent,
  );
  full.addEvent('happened', { n: 3 });
  full.setStatus({ code: SpanStatusCode.ERROR, message: 'it failed' });
  full.end();
  return exporter.getFinishedSpans();
}

describe('span hand-over between threads', () => {
  it('a handed-over batch is exported exactly as the spans themselves would be, plus the attributes the main thread adds', () => {
    const spans = finishedSpans();
    const resource = spans[0]?.resource;
    assert.ok(resource !== undefined);
    // What crosses the thread boundary is a structured clone.
    const received = structuredClone(toSpansHandOver(spans));
    const again = fromSpansHandOver(received, resource, {});
    assert.deepEqual(
      JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(again))),
      JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans))),
    );
    const tagged = fromSpansHandOver(structuredClone(toSpansHandOver(spans)), resource, {
      [ATTR.actorId]: 'commander',
    });
    assert.deepEqual(
      tagged.map((span) => span.attributes[ATTR.actorId]),
      ['commander', 'commander'],
    );
    assert.equal(tagged[1]?.droppedAttributesCount, 1);
    assert.equal(tagged[1]?.parentSpanContext?.traceState?.serialize(), 'vendor=value');
  });
});
