/**
 * What a worker hands over to the main thread (metrics as the SDK's
 * ScopeMetrics, below), and ended worker spans as they cross: a batch is ONE flat
 * array of primitives (structured cloning a flat array costs far less than
 * cloning an object per span, as the runtime's call packets found), read in
 * the main thread straight into the `ReadableSpan`s its exporter takes, with
 * one shared resource and instrumentation scope objects shared across
 * batches (the OTLP serializers group spans by those objects' identity).
 *
 * Layout (`writeSpan` and `readSpanBatch` are the only code that knows it):
 *
 *   batch:  WIRE_VERSION, scopeCount, (name, version, schemaUrl) * scopeCount, span*
 *   span:   scope, name, kind, traceId, spanId, traceFlags, parentSpanId ('' for a root),
 *           parentIsRemote, startMs (epoch), durationMs, statusCode, statusMessage,
 *           droppedAttributes, droppedEvents, droppedLinks,
 *           attributeCount, (key, value) * attributeCount,
 *           eventCount, (name, offsetMs from start, droppedAttributes, attributeCount, (key, value)*)*,
 *           linkCount, (traceId, spanId, traceFlags, isRemote, droppedAttributes, attributeCount, (key, value)*)*
 *
 * Attribute values are primitives or arrays of primitives. Versions and
 * schema URLs are '' when absent; a status message is undefined when absent.
 */
import type {
  Attributes,
  AttributeValue,
  HrTime,
  Link,
  SpanContext,
  SpanKind,
  SpanStatus,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

export const WIRE_VERSION = 1;

/** An event as a span keeps it until it ends: name, offset from the span's start (ms), dropped, then (key, value) pairs. */
export type EventEntry = unknown[];
/** A link as a span keeps it: traceId, spanId, traceFlags, isRemote, dropped, then (key, value) pairs. */
export type LinkEntry = unknown[];

/** What the worker's span gives the writer when it ends. */
export interface EndedSpan {
  readonly scope: number;
  readonly name: string;
  readonly kind: SpanKind;
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly parentSpanId: string;
  readonly parentIsRemote: boolean;
  readonly startMs: number;
  readonly durationMs: number;
  readonly statusCode: number;
  readonly statusMessage: string | undefined;
  /** (key, value) pairs, each key once. */
  readonly attributes: unknown[];
  readonly droppedAttributes: number;
  readonly events: EventEntry[] | undefined;
  readonly droppedEvents: number;
  readonly links: LinkEntry[] | undefined;
  readonly droppedLinks: number;
}

/** Starts a batch: the version and the scope table its spans refer to by index. */
export function startBatch(out: unknown[], scopes: readonly InstrumentationScope[]): void {
  out.push(WIRE_VERSION, scopes.length);
  for (const scope of scopes) out.push(scope.name, scope.version ?? '', scope.schemaUrl ?? '');
}

export function writeSpan(out: unknown[], span: EndedSpan): void {
  const attributes = span.attributes;
  out.push(
    span.scope,
    span.name,
    span.kind,
    span.traceId,
    span.spanId,
    span.traceFlags,
    span.parentSpanId,
    span.parentIsRemote,
    span.startMs,
    span.durationMs,
    span.statusCode,
    span.statusMessage,
    span.droppedAttributes,
    span.droppedEvents,
    span.droppedLinks,
    attributes.length / 2,
  );
  for (let i = 0; i < attributes.length; i += 1) out.push(attributes[i]);
  writeEntries(out, span.events, 3);
  writeEntries(out, span.links, 5);
}

/** Entries of `fixed` leading fields then (key, value) pairs: the fixed fields, the pair count, the pairs. */
function writeEntries(out: unknown[], entries: unknown[][] | undefined, fixed: number): void {
  if (entries === undefined) {
    out.push(0);
    return;
  }
  out.push(entries.length);
  for (const entry of entries) {
    for (let i = 0; i < fixed; i += 1) out.push(entry[i]);
    out.push((entry.length - fixed) / 2);
    for (let i = fixed; i < entry.length; i += 1) out.push(entry[i]);
  }
}

/** What a metrics hand-over carries: ScopeMetrics of the worker's meter provider (cumulative for this incarnation). */
export interface MetricsHandOver {
  metrics: unknown[];
}

export function isMetricsHandOver(value: unknown): value is MetricsHandOver {
  return (
    typeof value === 'object' && value !== null && Array.isArray((value as { metrics?: unknown }).metrics)
  );
}

/** A batch of worker spans already encoded as OTLP/protobuf `ScopeSpans.spans` fields (otlp-proto.ts), all of one scope. */
export interface OtlpSpansHandOver {
  otlp: Uint8Array;
  spans: number;
  scope: InstrumentationScope;
}

export function isOtlpSpansHandOver(value: unknown): value is OtlpSpansHandOver {
  return (
    typeof value === 'object' && value !== null && (value as { otlp?: unknown }).otlp instanceof Uint8Array
  );
}

export function isSpanBatch(value: unknown): value is unknown[] {
  return Array.isArray(value) && value[0] === WIRE_VERSION;
}

export interface ReadContext {
  resource: Resource;
  /** One object per distinct scope, for the whole process (see the header). */
  scope(name: string, version: string, schemaUrl: string): InstrumentationScope;
  /** Added to every span's attributes (`tether.actor.id`), or undefined. */
  extra?: readonly [key: string, value: AttributeValue];
}

/** Reads a batch that `isSpanBatch` accepted, giving each span to `each`. */
export function readSpanBatch(batch: unknown[], ctx: ReadContext, each: (span: ReadableSpan) => void): void {
  let at = 1;
  const scopeCount = batch[at++] as number;
  const scopes: InstrumentationScope[] = [];
  for (let i = 0; i < scopeCount; i += 1) {
    scopes.push(ctx.scope(batch[at] as string, batch[at + 1] as string, batch[at + 2] as string));
    at += 3;
  }
  const extra = ctx.extra;
  while (at < batch.length) {
    const scope = scopes[batch[at] as number] as InstrumentationScope;
    const name = batch[at + 1] as string;
    const kind = batch[at + 2] as SpanKind;
    const spanContext: SpanContext = {
      traceId: batch[at + 3] as string,
      spanId: batch[at + 4] as string,
      traceFlags: batch[at + 5] as number,
    };
    const parentSpanId = batch[at + 6] as string;
    const parent: SpanContext | undefined =
      parentSpanId === ''
        ? undefined
        : {
            traceId: spanContext.traceId,
            spanId: parentSpanId,
            traceFlags: spanContext.traceFlags,
            isRemote: batch[at + 7] as boolean,
          };
    const startMs = batch[at + 8] as number;
    const durationMs = batch[at + 9] as number;
    const statusCode = batch[at + 10] as number;
    const statusMessage = batch[at + 11] as string | undefined;
    const droppedAttributes = batch[at + 12] as number;
    const droppedEvents = batch[at + 13] as number;
    const droppedLinks = batch[at + 14] as number;
    at += 15;
    const attributes: Attributes = {};
    at = readPairs(batch, at, attributes);
    if (extra !== undefined) attributes[extra[0]] = extra[1];

    const startTime = millisToHrTime(startMs);
    const events: TimedEvent[] = [];
    const eventCount = batch[at++] as number;
    for (let i = 0; i < eventCount; i += 1) {
      const event: TimedEvent = {
        name: batch[at] as string,
        time: addMillis(startTime, batch[at + 1] as number),
        attributes: {},
        droppedAttributesCount: batch[at + 2] as number,
      };
      at = readPairs(batch, at + 3, event.attributes as Attributes);
      events.push(event);
    }
    const links: Link[] = [];
    const linkCount = batch[at++] as number;
    for (let i = 0; i < linkCount; i += 1) {
      const context: SpanContext = {
        traceId: batch[at] as string,
        spanId: batch[at + 1] as string,
        traceFlags: batch[at + 2] as number,
        isRemote: batch[at + 3] as boolean,
      };
      const dropped = batch[at + 4] as number;
      const linkAttributes: Attributes = {};
      const pairs = batch[at + 5] as number;
      at = readPairs(batch, at + 5, linkAttributes);
      links.push({
        context,
        ...(pairs > 0 ? { attributes: linkAttributes } : {}),
        ...(dropped > 0 ? { droppedAttributesCount: dropped } : {}),
      });
    }
    const status: SpanStatus =
      statusMessage === undefined ? { code: statusCode } : { code: statusCode, message: statusMessage };
    each(
      new HandedSpan(
        name,
        kind,
        spanContext,
        parent,
        startTime,
        durationMs,
        status,
        attributes,
        links,
        events,
        ctx.resource,
        scope,
        droppedAttributes,
        droppedEvents,
        droppedLinks,
      ),
    );
  }
}

/** Reads a pair count at `at` then the pairs into `into`; returns where the next field is. */
function readPairs(batch: unknown[], at: number, into: Attributes): number {
  const count = batch[at] as number;
  let i = at + 1;
  const end = i + count * 2;
  for (; i < end; i += 2) into[batch[i] as string] = batch[i + 1] as AttributeValue;
  return end;
}

/** A worker span, ended, as the exporters read it. */
class HandedSpan implements ReadableSpan {
  readonly ended = true;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly #spanContext: SpanContext;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    spanContext: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly startTime: HrTime,
    durationMs: number,
    readonly status: SpanStatus,
    readonly attributes: Attributes,
    readonly links: Link[],
    readonly events: TimedEvent[],
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
    readonly droppedAttributesCount: number,
    readonly droppedEventsCount: number,
    readonly droppedLinksCount: number,
  ) {
    this.#spanContext = spanContext;
    this.duration = millisToHrTime(durationMs);
    this.endTime = addMillis(startTime, durationMs);
  }

  spanContext(): SpanContext {
    return this.#spanContext;
  }
}

/** As @opentelemetry/core's millisToHrTime. */
export function millisToHrTime(ms: number): HrTime {
  const seconds = Math.trunc(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

export function addMillis(time: HrTime, ms: number): HrTime {
  const add = millisToHrTime(ms);
  let seconds = time[0] + add[0];
  let nanos = time[1] + add[1];
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  } else if (nanos < 0) {
    seconds -= 1;
    nanos += 1e9;
  }
  return [seconds, nanos];
}
