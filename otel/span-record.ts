/**
 * Ended spans as they cross from a worker to the main thread: plain data
 * that structured cloning keeps intact, and back into the `ReadableSpan` the
 * main thread's span processor exports (with the main thread's resource, so
 * every span of the service names the same service).
 */
import type { Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

export interface SpanRecord {
  name: string;
  kind: SpanKind;
  context: SpanContext;
  parent: SpanContext | undefined;
  startTime: HrTime;
  endTime: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  links: Link[];
  events: TimedEvent[];
  scope: { name: string; version?: string; schemaUrl?: string };
  dropped: [attributes: number, events: number, links: number];
}

/** What one hand-over message from a worker carries. */
export interface HandOver {
  spans?: SpanRecord[];
  /** ScopeMetrics of the worker's meter provider (cumulative for this incarnation). */
  metrics?: unknown[];
}

export function isHandOver(value: unknown): value is HandOver {
  return typeof value === 'object' && value !== null && ('spans' in value || 'metrics' in value);
}

export function toRecord(span: ReadableSpan): SpanRecord {
  const { traceId, spanId, traceFlags, isRemote } = span.spanContext();
  const parent = span.parentSpanContext;
  return {
    name: span.name,
    kind: span.kind,
    context: { traceId, spanId, traceFlags, ...(isRemote === undefined ? {} : { isRemote }) },
    parent:
      parent === undefined
        ? undefined
        : { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.traceFlags, isRemote: true },
    startTime: span.startTime,
    endTime: span.endTime,
    status: { ...span.status },
    attributes: span.attributes,
    // A link's context may carry a TraceState object: keep only what clones.
    links: span.links.map((link) => ({
      context: {
        traceId: link.context.traceId,
        spanId: link.context.spanId,
        traceFlags: link.context.traceFlags,
      },
      ...(link.attributes === undefined ? {} : { attributes: link.attributes }),
    })),
    events: span.events,
    scope: {
      name: span.instrumentationScope.name,
      ...(span.instrumentationScope.version === undefined
        ? {}
        : { version: span.instrumentationScope.version }),
    },
    dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
  };
}

export function fromRecord(record: SpanRecord, resource: Resource): ReadableSpan {
  const [startS, startNs] = record.startTime;
  const [endS, endNs] = record.endTime;
  let durationS = endS - startS;
  let durationNs = endNs - startNs;
  if (durationNs < 0) {
    durationS -= 1;
    durationNs += 1e9;
  }
  const spanContext = record.context;
  return {
    name: record.name,
    kind: record.kind,
    spanContext: () => spanContext,
    ...(record.parent === undefined ? {} : { parentSpanContext: record.parent }),
    startTime: record.startTime,
    endTime: record.endTime,
    duration: [durationS, durationNs],
    ended: true,
    status: record.status,
    attributes: record.attributes,
    links: record.links,
    events: record.events,
    resource,
    instrumentationScope: record.scope,
    droppedAttributesCount: record.dropped[0],
    droppedEventsCount: record.dropped[1],
    droppedLinksCount: record.dropped[2],
  };
}
