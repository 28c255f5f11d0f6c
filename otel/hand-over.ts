/**
 * What a worker hands over to the main thread's exporters, in a `telemetry`
 * control message of the runtime: the SDK's finished spans, and the metrics
 * its reader collected. A ReadableSpan is a class instance holding
 * functions (`spanContext()`, the tracer, the processor), which a
 * structured clone cannot carry; `toPlainSpan` keeps the data the
 * exporters read, and `fromPlainSpan` makes it a ReadableSpan again on the
 * main thread, under that thread's resource. Metrics (ScopeMetrics) are
 * plain data already and travel as they are.
 */
import type { Attributes, HrTime, SpanKind, SpanStatus } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import type { SpanContext } from '@opentelemetry/api';

/** A SpanContext with its trace state as text (TraceState is a class). */
interface PlainSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: string;
}

export interface PlainSpan {
  name: string;
  kind: SpanKind;
  context: PlainSpanContext;
  parent: PlainSpanContext | undefined;
  startTime: HrTime;
  endTime: HrTime;
  duration: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  links: Array<{ context: PlainSpanContext; attributes?: Attributes; droppedAttributesCount?: number }>;
  events: TimedEvent[];
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
  scope: InstrumentationScope;
}

export interface SpansHandOver {
  spans: PlainSpan[];
}

export interface MetricsHandOver {
  metrics: ScopeMetrics[];
}

export function isSpansHandOver(payload: unknown): payload is SpansHandOver {
  return typeof payload === 'object' && payload !== null && Array.isArray((payload as SpansHandOver).spans);
}

export function isMetricsHandOver(payload: unknown): payload is MetricsHandOver {
  return (
    typeof payload === 'object' && payload !== null && Array.isArray((payload as MetricsHandOver).metrics)
  );
}

function plainContext(context: SpanContext): PlainSpanContext {
  const { traceId, spanId, traceFlags, isRemote, traceState } = context;
  return {
    traceId,
    spanId,
    traceFlags,
    ...(isRemote === undefined ? {} : { isRemote }),
    ...(traceState === undefined ? {} : { traceState: traceState.serialize() }),
  };
}

function spanContext(plain: PlainSpanContext): SpanContext {
  const { traceState, ...rest } = plain;
  return traceState === undefined ? rest : { ...rest, traceState: new TraceState(traceState) };
}

/** The data of a finished span, fit for postMessage. */
export function toPlainSpan(span: ReadableSpan): PlainSpan {
  return {
    name: span.name,
    kind: span.kind,
    context: plainContext(span.spanContext()),
    parent: span.parentSpanContext === undefined ? undefined : plainContext(span.parentSpanContext),
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    links: span.links.map((link) => ({ ...link, context: plainContext(link.context) })),
    events: span.events,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    scope: span.instrumentationScope,
  };
}

/** A handed-over span as the exporters take it, under `resource`, with `extra` attributes added. */
export function fromPlainSpan(plain: PlainSpan, resource: Resource, extra: Attributes): ReadableSpan {
  const context = spanContext(plain.context);
  return {
    name: plain.name,
    kind: plain.kind,
    spanContext: () => context,
    ...(plain.parent === undefined ? {} : { parentSpanContext: spanContext(plain.parent) }),
    startTime: plain.startTime,
    endTime: plain.endTime,
    duration: plain.duration,
    status: plain.status,
    attributes: { ...plain.attributes, ...extra },
    links: plain.links.map((link) => ({ ...link, context: spanContext(link.context) })),
    events: plain.events,
    ended: true,
    resource,
    instrumentationScope: plain.scope,
    droppedAttributesCount: plain.droppedAttributesCount,
    droppedEventsCount: plain.droppedEventsCount,
    droppedLinksCount: plain.droppedLinksCount,
  };
}
