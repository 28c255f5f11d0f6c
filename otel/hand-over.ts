/**
 * What a worker hands over to the main thread's exporters, in a `telemetry`
 * control message of the runtime: the SDK's finished spans, and the metrics
 * its reader collected. A ReadableSpan is a class instance holding
 * functions (`spanContext()`, the tracer, the processor), which a
 * structured clone cannot carry; `toSpansHandOver` keeps the data the
 * exporters read, and `fromSpansHandOver` makes it ReadableSpans again on
 * the main thread, under that thread's resource. Metrics (ScopeMetrics) are
 * plain data already and travel as they are.
 */
import type { Attributes, HrTime, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import { SpanStatusCode } from '@opentelemetry/api';
import { TraceState, hrTimeDuration } from '@opentelemetry/core';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

/** A SpanContext with its trace state as text (TraceState is a class). */
interface PlainSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: string;
}

/**
 * A finished span's data, lean: a structured clone costs by the object, and
 * every span of a command goes through one, so what can be left out is
 * (about half the clone's CPU, bench/otel-parts.bench.ts): the duration (the
 * end minus the start), an unset status, empty links and events, zero
 * counts, and the scope, which is named once per batch (`scopes`).
 */
export interface PlainSpan {
  name: string;
  kind: SpanKind;
  context: PlainSpanContext;
  parent?: PlainSpanContext;
  startTime: HrTime;
  endTime: HrTime;
  status?: SpanStatus;
  attributes: Attributes;
  links?: Array<{ context: PlainSpanContext; attributes?: Attributes; droppedAttributesCount?: number }>;
  events?: TimedEvent[];
  /** Dropped attributes, events and links, when any was. */
  dropped?: [attributes: number, events: number, links: number];
  /** Index in the batch's `scopes`. */
  scope: number;
}

export interface SpansHandOver {
  scopes: InstrumentationScope[];
  spans: PlainSpan[];
}

export interface MetricsHandOver {
  metrics: ScopeMetrics[];
}

export function isSpansHandOver(payload: unknown): payload is SpansHandOver {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    Array.isArray((payload as SpansHandOver).spans) &&
    Array.isArray((payload as SpansHandOver).scopes)
  );
}

export function isMetricsHandOver(payload: unknown): payload is MetricsHandOver {
  return (
    typeof payload === 'object' && payload !== null && Array.isArray((payload as MetricsHandOver).metrics)
  );
}

function plainContext(context: SpanContext): PlainSpanContext {
  const { traceId, spanId, traceFlags, isRemote, traceState } = context;
  const plain: PlainSpanContext = { traceId, spanId, traceFlags };
  if (isRemote !== undefined) plain.isRemote = isRemote;
  if (traceState !== undefined) plain.traceState = traceState.serialize();
  return plain;
}

function spanContext(plain: PlainSpanContext): SpanContext {
  if (plain.traceState === undefined) return plain as SpanContext;
  return { ...plain, traceState: new TraceState(plain.traceState) };
}

/** The data of a batch of finished spans, fit for postMessage. */
export function toSpansHandOver(spans: readonly ReadableSpan[]): SpansHandOver {
  const scopes: InstrumentationScope[] = [];
  const plain = spans.map((span): PlainSpan => {
    let scope = scopes.indexOf(span.instrumentationScope);
    if (scope < 0) scope = scopes.push(span.instrumentationScope) - 1;
    const out: PlainSpan = {
      name: span.name,
      kind: span.kind,
      context: plainContext(span.spanContext()),
      startTime: span.startTime,
      endTime: span.endTime,
      attributes: span.attributes,
      scope,
    };
    if (span.parentSpanContext !== undefined) out.parent = plainContext(span.parentSpanContext);
    if (span.status.code !== SpanStatusCode.UNSET || span.status.message !== undefined)
      out.status = span.status;
    if (span.links.length > 0) {
      out.links = span.links.map((link) => ({ ...link, context: plainContext(link.context) }));
    }
    if (span.events.length > 0) out.events = span.events;
    const { droppedAttributesCount: a, droppedEventsCount: e, droppedLinksCount: l } = span;
    if (a + e + l > 0) out.dropped = [a, e, l];
    return out;
  });
  return { scopes, spans: plain };
}

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/**
 * A handed-over batch as the exporters take it, under `resource`, with
 * `extra` attributes added. The payload is the receiver's own (a structured
 * clone), so its objects are used as they are, not copied.
 */
export function fromSpansHandOver(
  payload: SpansHandOver,
  resource: Resource,
  extra: Attributes,
): ReadableSpan[] {
  return payload.spans.map((plain): ReadableSpan => {
    const context = spanContext(plain.context);
    const attributes = Object.assign(plain.attributes, extra);
    const [droppedAttributesCount, droppedEventsCount, droppedLinksCount] = plain.dropped ?? [0, 0, 0];
    return {
      name: plain.name,
      kind: plain.kind,
      spanContext: () => context,
      parentSpanContext: plain.parent === undefined ? undefined : spanContext(plain.parent),
      startTime: plain.startTime,
      endTime: plain.endTime,
      duration: hrTimeDuration(plain.startTime, plain.endTime),
      status: plain.status ?? UNSET,
      attributes,
      links: plain.links?.map((link) => ({ ...link, context: spanContext(link.context) })) ?? [],
      events: plain.events ?? [],
      ended: true,
      resource,
      instrumentationScope: payload.scopes[plain.scope] ?? { name: 'unknown' },
      droppedAttributesCount,
      droppedEventsCount,
      droppedLinksCount,
    };
  });
}
