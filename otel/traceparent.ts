/**
 * W3C traceparent <-> OpenTelemetry span context, with the small caches
 * that keep it off the profile: the runtime carries a traceparent string on
 * every call and cast, and most messages in a row carry the same one.
 */
import { ROOT_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import type { Context, SpanContext } from '@opentelemetry/api';

/**
 * `00-<32 hex>-<16 hex>-<2 hex>`, lower-case, ids not all zero, as a remote
 * span context; undefined for anything else. By hand rather than a regular
 * expression: every message a traced worker handles goes through here.
 */
export function parseTraceparent(traceparent: string): SpanContext | undefined {
  if (
    traceparent.length !== 55 ||
    traceparent.charCodeAt(0) !== 48 ||
    traceparent.charCodeAt(1) !== 48 ||
    traceparent.charCodeAt(2) !== 45 ||
    traceparent.charCodeAt(35) !== 45 ||
    traceparent.charCodeAt(52) !== 45 ||
    !isHexId(traceparent, 3, 35) ||
    !isHexId(traceparent, 36, 52)
  ) {
    return undefined;
  }
  const high = hexValue(traceparent.charCodeAt(53));
  const low = hexValue(traceparent.charCodeAt(54));
  if (high < 0 || low < 0) return undefined;
  return {
    traceId: traceparent.slice(3, 35),
    spanId: traceparent.slice(36, 52),
    traceFlags: low & TraceFlags.SAMPLED,
    isRemote: true,
  };
}

/** As the API's isSpanContextValid (hex ids of the right length, not all zeros), without its regular expressions. */
export function isValidSpanContext(spanContext: SpanContext): boolean {
  const { traceId, spanId } = spanContext;
  return (
    traceId.length === 32 &&
    spanId.length === 16 &&
    isHexId(traceId, 0, 32, true) &&
    isHexId(spanId, 0, 16, true)
  );
}

/** Hex from `start` to `end` (lower-case unless `anyCase`), not all zeros: a valid trace or span id. */
function isHexId(text: string, start: number, end: number, anyCase = false): boolean {
  let nonZero = false;
  for (let i = start; i < end; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 48) continue;
    if (hexValue(anyCase && c >= 65 && c <= 70 ? c + 32 : c) < 0) return false;
    nonZero = true;
  }
  return nonZero;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
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
  if (spanContext === undefined) return '';
  if (spanContext === lastFormattedFrom) return lastFormatted;
  if (!isValidSpanContext(spanContext)) return '';
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
  if (spanContext === undefined || !isValidSpanContext(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
