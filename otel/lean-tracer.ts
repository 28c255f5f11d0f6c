/**
 * The tracer of the worker threads: an `@opentelemetry/api` TracerProvider
 * whose spans record only what the exporter needs (flat attribute pairs, two
 * clock readings) and, when they end, append themselves to the batch their
 * worker hands over (span-wire.ts). It replaces the SDK's tracer provider
 * there, whose span objects, limits, processor chain and per-span hand-over
 * objects cost more than the work being traced at a few thousand commands
 * per second.
 *
 * What it keeps of the SDK's behaviour: the sampler's decision (sampler.ts,
 * the same function of parent and trace id), a non-recording span with a
 * fresh span id and the parent's trace when not sampled (so the "not
 * sampled" flag travels on), `root`, `links`, `startTime` options,
 * attributes checked and counted as the SDK does (last write wins, at most
 * 128, arrays copied), events and links (at most 128 each, the oldest
 * dropped), status rules (OK is final, UNSET ignored, a message only with
 * ERROR), recordException's event, nothing changing after end.
 */
import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context as api,
  createContextKey,
  trace,
} from '@opentelemetry/api';
import type {
  AttributeValue,
  Attributes,
  Context,
  Exception,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  TraceState,
  Tracer,
  TracerOptions,
  TracerProvider,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { newSpanId, newTraceId } from './ids.js';
import type { SampleDecision } from './sampler.js';
import type { EndedSpan, EventEntry, LinkEntry } from './span-wire.js';
import { isCheckedSpanContext, isValidSpanContext } from './traceparent.js';

/** The SDK's default span limits. */
const ATTRIBUTE_LIMIT = 128;
const EVENT_LIMIT = 128;
const LINK_LIMIT = 128;

/** @opentelemetry/core's key (a Symbol.for, so the same symbol here): tracing suppressed in this context. */
const SUPPRESS_TRACING = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** Where ended, sampled spans go (the worker's hand-over batch). */
export interface SpanSink {
  /** The index of a scope in the sink's scope table (registered on first use). */
  scopeIndex(scope: InstrumentationScope): number;
  ended(span: LeanSpan): void;
}

export class LeanTracerProvider implements TracerProvider {
  readonly #sample: SampleDecision;
  readonly #sink: SpanSink;
  readonly #tracers = new Map<string, LeanTracer>();

  constructor(sample: SampleDecision, sink: SpanSink) {
    this.#sample = sample;
    this.#sink = sink;
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`;
    let tracer = this.#tracers.get(key);
    if (tracer === undefined) {
      const scope: InstrumentationScope = {
        name,
        ...(version === undefined ? {} : { version }),
        ...(options?.schemaUrl === undefined ? {} : { schemaUrl: options.schemaUrl }),
      };
      tracer = new LeanTracer(this.#sink.scopeIndex(scope), this.#sample, this.#sink);
      this.#tracers.set(key, tracer);
    }
    return tracer;
  }
}

class LeanTracer implements Tracer {
  readonly #scope: number;
  readonly #sample: SampleDecision;
  readonly #sink: SpanSink;

  constructor(scope: number, sample: SampleDecision, sink: SpanSink) {
    this.#scope = scope;
    this.#sample = sample;
    this.#sink = sink;
  }

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = api.active()): Span {
    if (ctx.getValue(SUPPRESS_TRACING) === true) return trace.wrapSpanContext(INVALID);
    const parentSpan = options.root === true ? undefined : trace.getSpan(ctx);
    const parentContext = parentSpan?.spanContext();
    // A lean span's own context, or one parsed from a message's traceparent, is valid by construction; others are checked.
    const parent =
      parentContext !== undefined &&
      (parentSpan instanceof LeanSpan ||
        isCheckedSpanContext(parentContext) ||
        isValidSpanContext(parentContext))
        ? parentContext
        : undefined;
    const traceId = parent === undefined ? newTraceId() : parent.traceId;
    const spanId = newSpanId();
    if (!this.#sample(parent, traceId)) {
      // Not sampled: only a context to pass on, with the flag that says so.
      return trace.wrapSpanContext({
        traceId,
        spanId,
        traceFlags: TraceFlags.NONE,
        ...(parent?.traceState === undefined ? {} : { traceState: parent.traceState }),
      });
    }
    return new LeanSpan(this.#sink, this.#scope, name, options, traceId, spanId, parent);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    a?: SpanOptions | F,
    b?: Context | F,
    c?: F,
  ): ReturnType<F> | undefined {
    let options: SpanOptions | undefined;
    let ctx: Context | undefined;
    let fn: F | undefined;
    if (typeof a === 'function') fn = a;
    else if (typeof b === 'function') {
      options = a;
      fn = b;
    } else {
      options = a;
      ctx = b;
      fn = c;
    }
    if (fn === undefined) return undefined;
    const parent = ctx ?? api.active();
    const span = this.startSpan(name, options, parent);
    return api.with(trace.setSpan(parent, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

const INVALID: SpanContext = {
  traceId: '00000000000000000000000000000000',
  spanId: '0000000000000000',
  traceFlags: TraceFlags.NONE,
};

/** A sampled span in a worker; see the module comment for what it keeps of the SDK's. */
export class LeanSpan implements Span, EndedSpan {
  readonly scope: number;
  name: string;
  readonly kind: SpanKind;
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags = TraceFlags.SAMPLED;
  readonly parentSpanId: string;
  readonly parentIsRemote: boolean;
  /** Epoch ms (Date.now(), as the SDK takes a span's start), or the start time given. */
  readonly startMs: number;
  durationMs = 0;
  statusCode: SpanStatusCode = SpanStatusCode.UNSET;
  statusMessage: string | undefined;
  readonly attributes: unknown[] = [];
  droppedAttributes = 0;
  events: EventEntry[] | undefined;
  droppedEvents = 0;
  links: LinkEntry[] | undefined;
  droppedLinks = 0;
  #context: SpanContext | undefined;
  readonly #traceState: TraceState | undefined;
  readonly #sink: SpanSink;
  /** performance.now() at the start: later times are the start plus the monotonic time since. */
  readonly #perfStart: number;
  /** A start time was given: later times are taken from the wall clock, as the SDK does. */
  readonly #startGiven: boolean;
  #ended = false;
  #traceparent: string | undefined;

  constructor(
    sink: SpanSink,
    scope: number,
    name: string,
    options: SpanOptions,
    traceId: string,
    spanId: string,
    parent: SpanContext | undefined,
  ) {
    this.#sink = sink;
    this.scope = scope;
    this.name = name;
    this.kind = options.kind ?? SpanKind.INTERNAL;
    this.traceId = traceId;
    this.spanId = spanId;
    this.parentSpanId = parent === undefined ? '' : parent.spanId;
    this.parentIsRemote = parent?.isRemote === true;
    this.#traceState = parent?.traceState;
    const now = Date.now();
    this.#perfStart = performance.now();
    this.#startGiven = options.startTime !== undefined;
    this.startMs = options.startTime === undefined ? now : this.#toEpochMs(options.startTime, now);
    if (options.links !== undefined) this.addLinks(options.links);
    if (options.attributes !== undefined) this.setAttributes(options.attributes);
  }

  /** Made when first asked for: most spans (a command's) are never asked, and it is one object less each. */
  spanContext(): SpanContext {
    this.#context ??=
      this.#traceState === undefined
        ? { traceId: this.traceId, spanId: this.spanId, traceFlags: TraceFlags.SAMPLED }
        : {
            traceId: this.traceId,
            spanId: this.spanId,
            traceFlags: TraceFlags.SAMPLED,
            traceState: this.#traceState,
          };
    return this.#context;
  }

  /** The W3C traceparent of this span, made once: every call a handler makes inside it carries it. */
  get traceparent(): string {
    this.#traceparent ??= `00-${this.traceId}-${this.spanId}-01`;
    return this.#traceparent;
  }

  isRecording(): boolean {
    return !this.#ended;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.#ended || value == null || key === '') return this;
    const checked = checkValue(value);
    if (checked === undefined) return this;
    const attributes = this.attributes;
    for (let i = 0; i < attributes.length; i += 2) {
      if (attributes[i] === key) {
        attributes[i + 1] = checked;
        return this;
      }
    }
    if (attributes.length >= ATTRIBUTE_LIMIT * 2) this.droppedAttributes += 1;
    else attributes.push(key, checked);
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) {
      if (Object.prototype.hasOwnProperty.call(attributes, key)) {
        this.setAttribute(key, attributes[key] as AttributeValue);
      }
    }
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.#ended) return this;
    let attributes: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else {
      attributes = attributesOrTime;
    }
    const at = time === undefined ? this.#nowMs() : this.#toEpochMs(time, Date.now());
    const entry: EventEntry = [name, at - this.startMs, 0];
    pushPairs(entry, attributes);
    this.events ??= [];
    if (this.events.length >= EVENT_LIMIT) {
      this.events.shift();
      this.droppedEvents += 1;
    }
    this.events.push(entry);
    return this;
  }

  addLink(link: Link): this {
    if (this.#ended) return this;
    const entry: LinkEntry = [
      link.context.traceId,
      link.context.spanId,
      link.context.traceFlags,
      link.context.isRemote === true,
      link.droppedAttributesCount ?? 0,
    ];
    pushPairs(entry, link.attributes);
    this.links ??= [];
    if (this.links.length >= LINK_LIMIT) {
      this.links.shift();
      this.droppedLinks += 1;
    }
    this.links.push(entry);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.#ended || status.code === SpanStatusCode.UNSET || this.statusCode === SpanStatusCode.OK) {
      return this;
    }
    this.statusCode = status.code;
    this.statusMessage =
      status.code === SpanStatusCode.ERROR && typeof status.message === 'string' ? status.message : undefined;
    return this;
  }

  updateName(name: string): this {
    if (!this.#ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.#ended) return;
    const end = endTime === undefined ? this.#nowMs() : this.#toEpochMs(endTime, Date.now());
    this.durationMs = Math.max(0, end - this.startMs);
    this.#ended = true;
    this.#sink.ended(this);
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else if (exception !== null && typeof exception === 'object') {
      if (exception.code) attributes['exception.type'] = String(exception.code);
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] !== undefined || attributes['exception.message'] !== undefined) {
      this.addEvent('exception', attributes, time);
    }
  }

  /** Now, on the span's clock: its start plus the monotonic time since (the wall clock if a start was given). */
  #nowMs(): number {
    return this.#startGiven ? Date.now() : this.startMs + (performance.now() - this.#perfStart);
  }

  /** A TimeInput as epoch ms: a number no later than performance.now() is a performance timestamp, as the SDK reads it. */
  #toEpochMs(time: TimeInput, now: number): number {
    if (typeof time === 'number') {
      const perfNow = performance.now();
      return time <= perfNow ? now - (perfNow - time) : time;
    }
    if (time instanceof Date) return time.getTime();
    return time[0] * 1000 + time[1] / 1e6;
  }
}

function isTimeInput(value: unknown): value is TimeInput {
  return (
    typeof value === 'number' ||
    value instanceof Date ||
    (Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'number' &&
      typeof value[1] === 'number')
  );
}

/** A valid attribute value as kept (arrays copied), or undefined for one the SDK would drop. */
function checkValue(value: AttributeValue): AttributeValue | undefined {
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return value;
  if (!Array.isArray(value)) return undefined;
  let seen: string | undefined;
  for (const element of value as unknown[]) {
    if (element == null) continue;
    const elementType = typeof element;
    if (elementType === seen) continue;
    if (
      seen !== undefined ||
      (elementType !== 'string' && elementType !== 'number' && elementType !== 'boolean')
    ) {
      return undefined;
    }
    seen = elementType;
  }
  return value.slice() as AttributeValue;
}

/** Appends the valid (key, value) pairs of `attributes`. */
function pushPairs(entry: unknown[], attributes: Attributes | undefined): void {
  if (attributes === undefined || attributes === null) return;
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key) || key === '') continue;
    const value = attributes[key];
    if (value == null) continue;
    const checked = checkValue(value);
    if (checked !== undefined) entry.push(key, checked);
  }
}
