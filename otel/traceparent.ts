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
    !isHexId(traceparent, 3, 35, LOWER_HEX) ||
    !isHexId(traceparent, 36, 52, LOWER_HEX)
  ) {
    return undefined;
  }
  const high = hexValue(traceparent.charCodeAt(53), LOWER_HEX);
  const low = hexValue(traceparent.charCodeAt(54), LOWER_HEX);
  if (high === NOT_HEX || low === NOT_HEX) return undefined;
  return new ParsedSpanContext(traceparent.slice(3, 35), traceparent.slice(36, 52), low & TraceFlags.SAMPLED);
}

/** A span context parsed from a traceparent: valid by construction (a tracer need not check it again). */
class ParsedSpanContext implements SpanContext {
  readonly isRemote = true;
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
  ) {}
}

/** True for a span context this module parsed (so known valid); false means "not known", not "invalid". */
export function isCheckedSpanContext(spanContext: SpanContext): boolean {
  return spanContext instanceof ParsedSpanContext;
}

/** As the API's isSpanContextValid (hex ids of the right length, not all zeros), without its regular expressions. */
export function isValidSpanContext(spanContext: SpanContext): boolean {
  const { traceId, spanId } = spanContext;
  return (
    traceId.length === 32 &&
    spanId.length === 16 &&
    isHexId(traceId, 0, 32, ANY_HEX) &&
    isHexId(spanId, 0, 16, ANY_HEX)
  );
}

const NOT_HEX = 255;
/** Hex digit values by character code (NOT_HEX for anything else): lower-case only, as traceparent wants. */
const LOWER_HEX = new Uint8Array(128).fill(NOT_HEX);
for (let i = 0; i < 10; i += 1) LOWER_HEX[48 + i] = i;
for (let i = 0; i < 6; i += 1) LOWER_HEX[97 + i] = 10 + i;
/** Either case, as the API accepts in a span context. */
const ANY_HEX = LOWER_HEX.slice();
for (let i = 0; i < 6; i += 1) ANY_HEX[65 + i] = 10 + i;

function hexValue(code: number, table: Uint8Array): number {
  return code < 128 ? (table[code] as number) : NOT_HEX;
}

/** Hex from `start` to `end` (digits as `table` allows), not all zeros: a valid trace or span id. */
function isHexId(text: string, start: number, end: number, table: Uint8Array): boolean {
  let bits = 0;
  for (let i = start; i < end; i += 1) {
    const value = hexValue(text.charCodeAt(i), table);
    if (value === NOT_HEX) return false;
    bits |= value;
  }
  return bits !== 0;
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
