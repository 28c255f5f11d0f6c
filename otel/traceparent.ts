/**
 * The runtime carries trace context across threads as a W3C `traceparent`
 * string on every call and cast. These turn a context into that string and
 * back, with the SDK's W3CTraceContextPropagator (not the global
 * propagator, which OTEL_PROPAGATORS may set to something else: between
 * our own threads it is always traceparent).
 */
import { ROOT_CONTEXT, context, defaultTextMapGetter, defaultTextMapSetter, trace } from '@opentelemetry/api';
import type { Context, SpanContext } from '@opentelemetry/api';
import { isSpanContextValid } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const propagator = new W3CTraceContextPropagator();

/*
 * The last context written and the last traceparent read, kept: a Context is
 * immutable, so the same one always writes the same text, and the same text
 * always reads as an equal context. On a command's path most messages carry
 * the context their handler already runs in (every API command the open
 * attempt's, every frame the command's caller's), so the propagator's work
 * (validating ids with regular expressions, building the text or parsing it
 * back) is done once per trace rather than once per message: about 1.5 µs of
 * CPU per command (bench/otel-parts.bench.ts).
 */
let lastWritten: { ctx: Context; traceparent: string } | undefined;
let lastRead: { traceparent: string; ctx: Context } | undefined;

/** The traceparent of a context's span; '' when it has none (or tracing is suppressed there). */
export function traceparentOf(ctx: Context): string {
  if (lastWritten?.ctx === ctx) return lastWritten.traceparent;
  const carrier: { traceparent?: string } = {};
  propagator.inject(ctx, carrier, defaultTextMapSetter);
  const traceparent = carrier.traceparent ?? '';
  lastWritten = { ctx, traceparent };
  return traceparent;
}

/** The traceparent of the active context; '' outside any span. */
export function activeTraceparent(): string {
  return traceparentOf(context.active());
}

/** A context whose (remote) parent is `traceparent`; the root context for '' or a malformed one. */
export function contextFromTraceparent(traceparent: string): Context {
  if (traceparent === '') return ROOT_CONTEXT;
  if (lastRead?.traceparent === traceparent) return lastRead.ctx;
  const ctx = propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
  lastRead = { traceparent, ctx };
  return ctx;
}

/** `trace_id` and `span_id` for a log line; {} when there is no valid span context. */
export function logFieldsOf(spanContext: SpanContext | undefined): Record<string, string> {
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/** The log fields of the active context's span. */
export function activeLogFields(): Record<string, string> {
  return logFieldsOf(trace.getSpanContext(context.active()));
}
