/**
 * The worker side of telemetry, loaded by the runtime's bootstrap before the
 * actor module when telemetry is on (SystemOptions.workerTelemetry).
 *
 * Actors make spans and metrics with the plain `@opentelemetry/api`. Here a
 * tracer provider and a meter provider are installed in the worker, but
 * nothing is exported from it: ended spans and collected metrics are handed
 * over to the main thread (a `telemetry` control message), whose one
 * exporter sends them. Handlers run with the message's traceparent as their
 * parent context, so their spans join the caller's trace across threads
 * (the gap of open-telemetry/opentelemetry-js#3297 and #3529).
 */
import { context, metrics, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { WorkerTelemetry, WorkerTelemetryHooks } from '../runtime/worker/bootstrap.js';
import { AsyncLocalContextManager } from './context-manager.js';
import { markTelemetryOn } from './instruments.js';
import { makeSampler } from './sampler.js';
import type { SamplerSettings } from './settings.js';
import { toRecord } from './span-record.js';
import type { HandOver, SpanRecord } from './span-record.js';
import { contextFromTraceparent, logFieldsOf, parseTraceparent, traceparentOf } from './traceparent.js';

export interface WorkerTelemetryOptions {
  sampler: SamplerSettings;
  /** How long ended spans may wait before they are handed over, ms. */
  spanDelayMs: number;
  /** How often metrics are collected and handed over, ms. */
  metricIntervalMs: number;
}

/** Spans handed over at once when this many are waiting, whatever the delay. */
const MAX_BATCH = 512;
/** Spans kept at most while waiting (a burst beyond it is dropped, as a BatchSpanProcessor would). */
const MAX_QUEUE = 4096;

export function installWorkerTelemetry(hooks: WorkerTelemetryHooks): WorkerTelemetry {
  const options = hooks.options as WorkerTelemetryOptions;
  const post = (payload: HandOver): void => hooks.handOver(payload);

  context.setGlobalContextManager(new AsyncLocalContextManager());
  const spans = new HandOverSpanProcessor(post, options.spanDelayMs);
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ sampler: makeSampler(options.sampler), spanProcessors: [spans] }),
  );
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
      await spans.forceFlush();
      await reader.forceFlush();
    },
  };
}

/** Queues ended, sampled spans and hands them over in batches. */
class HandOverSpanProcessor implements SpanProcessor {
  readonly #post: (payload: HandOver) => void;
  readonly #delayMs: number;
  #queue: SpanRecord[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(post: (payload: HandOver) => void, delayMs: number) {
    this.#post = post;
    this.#delayMs = delayMs;
  }

  onStart(_span: Span, _parentContext: Context): void {
    // Nothing: the main thread adds tether.actor.id when it takes the span in (cheaper there, once).
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    if (this.#queue.length >= MAX_QUEUE) return;
    this.#queue.push(toRecord(span));
    if (this.#queue.length >= MAX_BATCH) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.#delayMs).unref();
  }

  forceFlush(): Promise<void> {
    this.#flush();
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.forceFlush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return;
    const spans = this.#queue;
    this.#queue = [];
    this.#post({ spans });
  }
}

/** Collects the worker's metrics every interval and hands them over. */
class HandOverMetricReader extends MetricReader {
  readonly #post: (payload: HandOver) => void;
  readonly #timer: NodeJS.Timeout;

  constructor(post: (payload: HandOver) => void, intervalMs: number) {
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
