/**
 * The worker side of telemetry, loaded by the runtime's bootstrap before the
 * actor module when telemetry is on (SystemOptions.workerTelemetry).
 *
 * Actors make spans and metrics with the plain `@opentelemetry/api`. Here a
 * lean tracer provider (lean-tracer.ts) and the SDK's meter provider are
 * installed in the worker, but nothing is exported from it: ended spans (in
 * flat batches, span-wire.ts) and collected metrics are handed over to the
 * main thread (a `telemetry` control message), whose one exporter per
 * signal sends them. Handlers run with the message's traceparent as their
 * parent context, so their spans join the caller's trace across threads
 * (the gap of open-telemetry/opentelemetry-js#3297 and #3529).
 */
import { context, metrics, trace } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { WorkerTelemetry, WorkerTelemetryHooks } from '../runtime/worker/bootstrap.js';
import { AsyncLocalContextManager, SyncContextManager } from './context-manager.js';
import { markTelemetryOn } from './instruments.js';
import { LeanMeterProvider } from './lean-histogram.js';
import { LeanSpan, LeanTracerProvider } from './lean-tracer.js';
import type { SpanSink } from './lean-tracer.js';
import { makeSampleDecision } from './sampler.js';
import type { SamplerSettings } from './settings.js';
import { startBatch, writeSpan } from './span-wire.js';
import type { MetricsHandOver, OtlpSpansHandOver } from './span-wire.js';
import { encodeKeyValue, ProtoWriter, writeSpanField } from './otlp-proto.js';
import { ATTR } from './names.js';
import { contextFromTraceparent, logFieldsOf, traceparentOf } from './traceparent.js';

export interface WorkerTelemetryOptions {
  sampler: SamplerSettings;
  /** How long ended spans may wait before they are handed over, ms. */
  spanDelayMs: number;
  /** How often metrics are collected and handed over, ms. */
  metricIntervalMs: number;
  /**
   * How spans travel: 'otlp' encoded here as OTLP/protobuf (the main thread
   * only joins bytes: for the protobuf exporter), 'flat' as flat arrays the
   * main thread reads into ReadableSpans (for the SDK's JSON exporter).
   */
  spanWire: 'otlp' | 'flat';
}

/** Spans handed over at once when this many are waiting, whatever the delay. */
export const MAX_BATCH_SPANS = 256;

export function installWorkerTelemetry(hooks: WorkerTelemetryHooks): WorkerTelemetry {
  const options = hooks.options as WorkerTelemetryOptions;
  const post = (payload: unknown): void => hooks.handOver(payload);

  const spans =
    options.spanWire === 'otlp'
      ? new HandOverOtlpSpans(post, options.spanDelayMs)
      : new HandOverSpans(post, options.spanDelayMs);
  trace.setGlobalTracerProvider(new LeanTracerProvider(makeSampleDecision(options.sampler), spans));
  // Histograms are lean (lean-histogram.ts); the reader adds them to what it collects from the SDK.
  const reader = new HandOverMetricReader(post, options.metricIntervalMs);
  const meters = new LeanMeterProvider(new MeterProvider({ readers: [reader] }));
  reader.addLean(meters);
  metrics.setGlobalMeterProvider(meters);
  markTelemetryOn();

  return {
    currentTraceparent: () => {
      const active = context.active();
      const span = trace.getSpan(active);
      return span instanceof LeanSpan ? span.traceparent : traceparentOf(active);
    },
    // A message without a traceparent runs in the root context, where the port's event put it.
    inTrace: (traceparent, handler, args) =>
      traceparent === ''
        ? handler(...args)
        : context.with(contextFromTraceparent(traceparent), handler, undefined, ...args),
    logFields: () => logFieldsOf(trace.getSpanContext(context.active())),
    // Installed once the actor's module says which it wants; before that nothing runs in a context.
    setTraceContext: (mode) => {
      context.setGlobalContextManager(
        mode === 'sync' ? new SyncContextManager() : new AsyncLocalContextManager(),
      );
    },
    setActor: (id) => spans.setActor(id),
    flush: async () => {
      spans.flush();
      await reader.forceFlush();
    },
  };
}

/**
 * Ended, sampled spans, written as they end into the batch a subclass keeps,
 * and handed over every `delayMs` or MAX_BATCH_SPANS spans: one message per
 * batch, not an object per span.
 */
abstract class BatchedSpans implements SpanSink {
  readonly #post: (payload: unknown) => void;
  readonly #delayMs: number;
  protected readonly scopes: InstrumentationScope[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(post: (payload: unknown) => void, delayMs: number) {
    this.#post = post;
    this.#delayMs = delayMs;
  }

  /** The actor this worker became (its spans are tagged with it). */
  setActor(_id: string): void {}

  scopeIndex(scope: InstrumentationScope): number {
    // Batches are per scope table: a new scope closes the batch that has the old one.
    this.flush();
    this.scopes.push(scope);
    this.reset();
    return this.scopes.length - 1;
  }

  ended(span: LeanSpan): void {
    if (!this.write(span)) {
      this.flush();
      this.write(span);
    }
    this.#count += 1;
    if (this.#count >= MAX_BATCH_SPANS) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#delayMs).unref();
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0) return;
    const payload = this.take(this.#count);
    this.#count = 0;
    this.reset();
    this.#post(payload);
  }

  /** Appends a span to the batch; false when it belongs in a new batch (then it is called again after a flush). */
  protected abstract write(span: LeanSpan): boolean;
  /** The batch's payload, for `count` spans. */
  protected abstract take(count: number): unknown;
  /** Starts an empty batch. */
  protected abstract reset(): void;
}

/**
 * Spans as one flat array of primitives per batch (span-wire.ts), which the
 * main thread reads into ReadableSpans and tags with tether.actor.id.
 */
export class HandOverSpans extends BatchedSpans {
  #batch: unknown[] = [];

  constructor(post: (payload: unknown[]) => void, delayMs: number) {
    super(post as (payload: unknown) => void, delayMs);
    this.reset();
  }

  protected write(span: LeanSpan): boolean {
    writeSpan(this.#batch, span);
    return true;
  }

  protected take(): unknown[] {
    return this.#batch;
  }

  protected reset(): void {
    this.#batch = [];
    startBatch(this.#batch, this.scopes);
  }
}

/**
 * Spans encoded here as OTLP/protobuf (otlp-proto.ts), tether.actor.id
 * included, one scope per batch: the main thread only joins the bytes into
 * an export request.
 */
export class HandOverOtlpSpans extends BatchedSpans {
  readonly #writer = new ProtoWriter();
  #scope = -1;
  #actor: Uint8Array | undefined;

  constructor(post: (payload: OtlpSpansHandOver) => void, delayMs: number) {
    super(post as (payload: unknown) => void, delayMs);
  }

  override setActor(id: string): void {
    this.#actor = encodeKeyValue(9, ATTR.actorId, id);
  }

  protected write(span: LeanSpan): boolean {
    if (this.#scope !== span.scope) {
      if (this.#scope !== -1) return false;
      this.#scope = span.scope;
    }
    writeSpanField(this.#writer, span, this.#actor);
    return true;
  }

  protected take(count: number): OtlpSpansHandOver {
    return { otlp: this.#writer.take(), spans: count, scope: this.scopes[this.#scope] ?? { name: '' } };
  }

  protected reset(): void {
    this.#writer.pos = 0;
    this.#scope = -1;
  }
}

/** Collects the worker's metrics every interval and hands them over. */
class HandOverMetricReader extends MetricReader {
  readonly #post: (payload: MetricsHandOver) => void;
  readonly #timer: NodeJS.Timeout;
  #lean: LeanMeterProvider | undefined;

  constructor(post: (payload: MetricsHandOver) => void, intervalMs: number) {
    super();
    this.#post = post;
    this.#timer = setInterval(() => void this.#collectAndPost(), intervalMs).unref();
  }

  /** The lean histograms, collected with the SDK's instruments. */
  addLean(meters: LeanMeterProvider): void {
    this.#lean = meters;
  }

  protected async onForceFlush(): Promise<void> {
    await this.#collectAndPost();
  }

  protected onShutdown(): Promise<void> {
    clearInterval(this.#timer);
    return Promise.resolve();
  }

  async #collectAndPost(): Promise<void> {
    try {
      const { resourceMetrics } = await this.collect();
      const collected = this.#lean?.mergeInto(resourceMetrics.scopeMetrics) ?? resourceMetrics.scopeMetrics;
      const scopes = collected.filter((scope) => scope.metrics.length > 0);
      if (scopes.length > 0) this.#post({ metrics: scopes });
    } catch {
      // Collection failed (shutting down): the next interval tries again.
    }
  }
}
