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
import { AsyncLocalContextManager } from './context-manager.js';
import { markTelemetryOn } from './instruments.js';
import { LeanTracerProvider } from './lean-tracer.js';
import type { LeanSpan, SpanSink } from './lean-tracer.js';
import { makeSampleDecision } from './sampler.js';
import type { SamplerSettings } from './settings.js';
import { startBatch, writeSpan } from './span-wire.js';
import type { MetricsHandOver } from './span-wire.js';
import { contextFromTraceparent, logFieldsOf, parseTraceparent, traceparentOf } from './traceparent.js';

export interface WorkerTelemetryOptions {
  sampler: SamplerSettings;
  /** How long ended spans may wait before they are handed over, ms. */
  spanDelayMs: number;
  /** How often metrics are collected and handed over, ms. */
  metricIntervalMs: number;
}

/** Spans handed over at once when this many are waiting, whatever the delay. */
export const MAX_BATCH_SPANS = 256;

export function installWorkerTelemetry(hooks: WorkerTelemetryHooks): WorkerTelemetry {
  const options = hooks.options as WorkerTelemetryOptions;
  const post = (payload: unknown): void => hooks.handOver(payload);

  context.setGlobalContextManager(new AsyncLocalContextManager());
  const spans = new HandOverSpans(post, options.spanDelayMs);
  trace.setGlobalTracerProvider(new LeanTracerProvider(makeSampleDecision(options.sampler), spans));
  const reader = new HandOverMetricReader(post, options.metricIntervalMs);
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  markTelemetryOn();

  return {
    currentTraceparent: () => traceparentOf(context.active()) || hooks.messageTraceparent(),
    runWithTraceparent: <R>(traceparent: string, fn: () => R): R =>
      context.with(contextFromTraceparent(traceparent), fn),
    logFields: () => {
      const active = trace.getSpanContext(context.active());
      return logFieldsOf(active ?? parseTraceparent(hooks.messageTraceparent()));
    },
    setActor: () => undefined,
    flush: async () => {
      spans.flush();
      await reader.forceFlush();
    },
  };
}

/**
 * Ended spans, written into one flat array (span-wire.ts) as they end and
 * handed over as it is every `delayMs` or MAX_BATCH_SPANS spans: one
 * message and one clone of primitives per batch, not an object per span. The
 * main thread adds tether.actor.id as it reads them (there, not per span here).
 */
export class HandOverSpans implements SpanSink {
  readonly #post: (payload: unknown[]) => void;
  readonly #delayMs: number;
  readonly #scopes: InstrumentationScope[] = [];
  #batch: unknown[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(post: (payload: unknown[]) => void, delayMs: number) {
    this.#post = post;
    this.#delayMs = delayMs;
    startBatch(this.#batch, this.#scopes);
  }

  scopeIndex(scope: InstrumentationScope): number {
    // The scope table heads each batch: a new scope closes the batch that has the old table.
    this.flush();
    this.#scopes.push(scope);
    this.#batch = [];
    startBatch(this.#batch, this.#scopes);
    return this.#scopes.length - 1;
  }

  ended(span: LeanSpan): void {
    writeSpan(this.#batch, span);
    this.#count += 1;
    if (this.#count >= MAX_BATCH_SPANS) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#delayMs).unref();
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0) return;
    this.#post(this.#batch);
    this.#batch = [];
    this.#count = 0;
    startBatch(this.#batch, this.#scopes);
  }
}

/** Collects the worker's metrics every interval and hands them over. */
class HandOverMetricReader extends MetricReader {
  readonly #post: (payload: MetricsHandOver) => void;
  readonly #timer: NodeJS.Timeout;

  constructor(post: (payload: MetricsHandOver) => void, intervalMs: number) {
    super();
    this.#post = post;
    this.#timer = setInterval(() => void this.#collectAndPost(), intervalMs).unref();
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
      const scopes = resourceMetrics.scopeMetrics.filter((scope) => scope.metrics.length > 0);
      if (scopes.length > 0) this.#post({ metrics: scopes });
    } catch {
      // Collection failed (shutting down): the next interval tries again.
    }
  }
}
