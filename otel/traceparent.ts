/**
 * W3C traceparent <-> OpenTelemetry span context, with the small caches
 * that keep it off the profile: the runtime carries a traceparent string on
 * every call and cast, and most messages in a row carry the same one.
 */
import { ROOT_CONTEXT, TraceFlags, context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Context, SpanContext } from '@opentelemetry/api';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(traceparent: string): SpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return undefined;
  const spanContext: SpanContext = {
    traceId: match[1] ?? '',
    spanId: match[2] ?? '',
    traceFlags: parseInt(match[3] ?? '0', 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

export function formatTraceparent(spanContext: SpanContext): string {
  const flags = spanContext.traceFlags & TraceFlags.SAMPLED ? '01' : '00';
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

let lastParsed = '';
let lastParsedContext: Context = ROOT_CONTEXT;

/** A context whose (remote) parent is `traceparent`; the root context for '' or a malformed one. */
export function contextFromTraceparent(traceparent: string): Context {
  if (traceparent === lastParsed) return lastParsedContext;
  const spanContext = parseTraceparent(traceparent);
  lastParsed = traceparent;
  lastParsedContext =
    spanContext === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, spanContext);
  return lastParsedContext;
}

let lastFormattedFrom: SpanContext | undefined;
let lastFormatted = '';

/** The traceparent of a context's span; '' when it has none. */
export function traceparentOf(ctx: Context): string {
  const spanContext = trace.getSpanContext(ctx);
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return '';
  if (spanContext === lastFormattedFrom) return lastFormatted;
  lastFormattedFrom = spanContext;
  lastFormatted = formatTraceparent(spanContext);
  return lastFormatted;
}

/** The traceparent of the active context; '' outside any span. */
export function activeTraceparent(): string {
  return traceparentOf(context.active());
}

/** `trace_id` and `span_id` for a log line, from a span context or a traceparent; {} when there is none. */
export function logFieldsOf(spanContext: SpanContext | undefined): Record<string, string> {
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
