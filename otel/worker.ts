/**
 * The worker side of telemetry, loaded by the runtime's bootstrap before the
 * actor module when telemetry is on (SystemOptions.workerTelemetry).
 *
 * Actors make spans and metrics with the plain `@opentelemetry/api`; here
 * the SDK's own TracerProvider (with the configured sampler and a
 * BatchSpanProcessor) and MeterProvider are installed in the worker. Only
 * the last step differs from a process of its own: the span processor's
 * exporter and the metric reader post what they have to the main thread (a
 * `telemetry` control message, see hand-over.ts), whose one exporter per
 * signal sends it, each span tagged there with the actor it came from (the
 * main thread knows the sender). Handlers run with the message's traceparent as their
 * parent context, so their spans join the caller's trace across threads
 * (the gap of open-telemetry/opentelemetry-js#3297 and #3529).
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { WorkerTelemetry, WorkerTelemetryHooks } from '../runtime/worker/bootstrap.js';
import { toSpansHandOver } from './hand-over.js';
import type { MetricsHandOver, SpansHandOver } from './hand-over.js';
import { markTelemetryOn } from './instruments.js';
import { makeSampler } from './sampler.js';
import type { SamplerSettings } from './settings.js';
import { activeLogFields, activeTraceparent, contextFromTraceparent } from './traceparent.js';

export interface WorkerTelemetryOptions {
  sampler: SamplerSettings;
  /** How long ended spans may wait before they are handed over, ms. */
  spanDelayMs: number;
  /** Spans waiting in the worker at most (more are dropped, as the SDK's processor does). */
  spanQueueSize: number;
  /** Spans handed over in one message at most. */
  spanBatchSize: number;
  /** How often metrics are collected and handed over, ms. */
  metricIntervalMs: number;
}

export function installWorkerTelemetry(hooks: WorkerTelemetryHooks): WorkerTelemetry {
  const options = hooks.options as WorkerTelemetryOptions;
  const tracerProvider = new TracerProvider({
    sampler: makeSampler(options.sampler),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new HandOverSpanExporter((payload) => hooks.handOver(payload)),
        scheduledDelayMillis: options.spanDelayMs,
        maxQueueSize: options.spanQueueSize,
        maxExportBatchSize: options.spanBatchSize,
      }),
    ],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  const reader = new HandOverMetricReader((payload) => hooks.handOver(payload), options.metricIntervalMs);
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  markTelemetryOn();

  return {
    currentTraceparent: activeTraceparent,
    // A message without a traceparent runs in the context the port's event put it in (the root).
    inTrace: (traceparent, handler, args) =>
      traceparent === ''
        ? handler(...args)
        : context.with(contextFromTraceparent(traceparent), handler, undefined, ...args),
    logFields: activeLogFields,
    // Set once the actor's module says which it wants; before that nothing runs in a context.
    setTraceContext: (mode) => {
      const manager = mode === 'sync' ? new StackContextManager() : new AsyncLocalStorageContextManager();
      context.setGlobalContextManager(manager.enable());
    },
    flush: async () => {
      await tracerProvider.forceFlush();
      await reader.forceFlush();
    },
  };
}

/** The worker's span exporter: each batch the SDK's processor exports is posted to the main thread. */
class HandOverSpanExporter implements SpanExporter {
  readonly #post: (payload: SpansHandOver) => void;

  constructor(post: (payload: SpansHandOver) => void) {
    this.#post = post;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      this.#post(toSpansHandOver(spans));
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
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
