/**
 * Telemetry on: the OpenTelemetry Node SDK (NodeSDK) in the main thread,
 * exporting over OTLP/HTTP (protobuf, or JSON when
 * OTEL_EXPORTER_OTLP_PROTOCOL says http/json) to what settings.ts resolved.
 * Workers run the SDK's tracer and meter providers of their own (worker.ts)
 * and hand their finished spans and collected metrics over to this thread:
 * spans go into the same BatchSpanProcessor as this thread's, metrics are
 * read by the same metric reader (as a MetricProducer). Only imported when
 * telemetry is on.
 */
import { DiagLogLevel, context, diag, metrics, propagation, trace } from '@opentelemetry/api';
import type { DiagLogger } from '@opentelemetry/api';
import { loggingErrorHandler, setGlobalErrorHandler } from '@opentelemetry/core';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { CollectionResult, MetricProducer, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, StackContextManager } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { CommanderApi } from '../contracts/actors.js';
import { ACTOR_IDS } from '../contracts/actors.js';
import type { ActorSystem, Logger } from '../runtime/index.js';
import { ExportErrorLog } from './export-errors.js';
import { fromSpansHandOver, isMetricsHandOver, isSpansHandOver } from './hand-over.js';
import { markTelemetryOn, meter } from './instruments.js';
import { ATTR, SCOPE } from './names.js';
import { Observer } from './observer.js';
import { TaskObserver } from './tasks.js';
import { makeSampler } from './sampler.js';
import type { TelemetrySettings } from './settings.js';
import type { Telemetry, TelemetryOptions } from './telemetry.js';
import { activeTraceparent } from './traceparent.js';
import type { WorkerTelemetryOptions } from './worker.js';

/**
 * The longest shutdown waits for the last export. Short enough that a stop
 * (the tree's, then this) ends within 3.5 s of SIGTERM whatever the
 * collector does: see `shutdown`.
 */
export const SHUTDOWN_FLUSH_BOUND_MS = 2000;
/** One export's bound, whatever OTEL_EXPORTER_OTLP_TIMEOUT says, so a stuck collector never piles exports up. */
const MAX_EXPORT_TIMEOUT_MS = 5000;
/** Workers hand their spans over at least this often, whatever OTEL_BSP_SCHEDULE_DELAY says. */
const MAX_WORKER_SPAN_DELAY_MS = 1000;

const WORKER_MODULE = new URL('./worker.js', import.meta.url).href;

export function startSdk(
  settings: TelemetrySettings,
  logger: Logger,
  options: TelemetryOptions = {},
): Telemetry {
  const errors = new ExportErrorLog(logger);
  if (settings.protocolWarning !== undefined) logger.warn({ event: 'telemetry' }, settings.protocolWarning);

  // The configured name under what the environment says (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win).
  const fromEnv = detectResources({ detectors: [envDetector] });
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }))
    .merge(fromEnv)
    .merge(detectResources({ detectors: [processDetector, hostDetector] }));
  const timeoutMillis = Math.min(settings.exportTimeoutMs, MAX_EXPORT_TIMEOUT_MS);
  const json = settings.protocol === 'http/json';

  let spans: BatchSpanProcessor | undefined;
  if (settings.tracesUrl !== undefined) {
    const options = { url: settings.tracesUrl, timeoutMillis };
    spans = new BatchSpanProcessor({
      exporter: json ? new JsonTraceExporter(options) : new ProtoTraceExporter(options),
      scheduledDelayMillis: settings.spanDelayMs,
      exportTimeoutMillis: timeoutMillis,
      maxQueueSize: settings.spanQueueSize,
      maxExportBatchSize: settings.spanBatchSize,
    });
  }
  const workerMetrics = new HandedOverMetrics(resource);
  let reader: PeriodicExportingMetricReader | undefined;
  if (settings.metricsUrl !== undefined) {
    const options = { url: settings.metricsUrl, timeoutMillis };
    reader = new PeriodicExportingMetricReader({
      exporter: json ? new JsonMetricExporter(options) : new ProtoMetricExporter(options),
      exportIntervalMillis: settings.metricIntervalMs,
      exportTimeoutMillis: Math.min(timeoutMillis, settings.metricIntervalMs),
      metricProducers: [workerMetrics],
    });
  }

  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: spans === undefined ? [] : [spans],
    metricReaders: reader === undefined ? [] : [reader],
    // Logs go to stdout as JSON lines (pino), not over OTLP.
    logRecordProcessors: [],
    sampler: makeSampler(settings.sampler),
    instrumentations: [],
    // The SDK's default (an AsyncLocalStorageContextManager) unless told `sync` (see TelemetryOptions).
    ...(options.mainThreadContext === 'sync' ? { contextManager: new StackContextManager() } : {}),
  });
  sdk.start();
  // After NodeSDK, which sets a console logger of its own when OTEL_LOG_LEVEL is set.
  setGlobalErrorHandler((error) => errors.report(error));
  diag.setLogger(quietDiag(errors), DiagLogLevel.WARN);
  markTelemetryOn();
  logger.info(
    {
      event: 'telemetry',
      enabled: true,
      traces: settings.tracesUrl ?? 'off',
      metrics: settings.metricsUrl ?? 'off',
      protocol: settings.protocol,
      serviceName: fromEnv.attributes[ATTR_SERVICE_NAME] ?? settings.serviceName,
      sampler: settings.sampler.name,
    },
    'telemetry on (OTLP/HTTP)',
  );

  let system: ActorSystem | undefined;
  const tasks = new TaskObserver({ tracer: trace.getTracer(SCOPE), meter: meter() });
  const observer = new Observer({
    // Taken now, not at module load: a tracer from before an earlier shutdown would point at a dead provider.
    tracer: trace.getTracer(SCOPE),
    meter: meter(),
    pendingCommands: async () => {
      if (system === undefined) return undefined;
      const status = await system
        .ref<CommanderApi>(ACTOR_IDS.commander)
        .callWith({ timeoutMs: 1000 }, 'status');
      return status.pending;
    },
  });

  const onWorkerTelemetry = (actorId: string, payload: unknown): void => {
    if (isSpansHandOver(payload)) {
      const extra = { [ATTR.actorId]: actorId };
      for (const span of fromSpansHandOver(payload, resource, extra)) spans?.onEnd(span);
    } else if (isMetricsHandOver(payload)) {
      workerMetrics.take(actorId, payload.metrics);
    }
  };

  const workerOptions: WorkerTelemetryOptions = {
    sampler: settings.sampler,
    spanDelayMs: Math.min(settings.spanDelayMs, MAX_WORKER_SPAN_DELAY_MS),
    spanQueueSize: settings.spanQueueSize,
    spanBatchSize: settings.spanBatchSize,
    metricIntervalMs: settings.metricIntervalMs,
  };

  let stopped: Promise<boolean> | undefined;
  return {
    enabled: true,
    settings,
    systemOptions: {
      currentTraceparent: () => activeTraceparent() || observer.fallbackTraceparent(),
      workerTelemetry: { module: WORKER_MODULE, options: workerOptions },
      onWorkerTelemetry,
      onHeartbeat: (actorId, rttMs) => observer.onHeartbeat(actorId, rttMs),
    },
    observe(service) {
      system = service.system;
      observer.observe(service.kernel, service.events);
      if (service.tasks !== undefined) tasks.observe(service.tasks);
    },
    shutdown() {
      stopped ??= (async () => {
        observer.close();
        tasks.close();
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => {
            logger.warn(
              { boundMs: SHUTDOWN_FLUSH_BOUND_MS },
              'telemetry flush did not finish in time; dropped',
            );
            resolve(false);
          }, SHUTDOWN_FLUSH_BOUND_MS);
        });
        const flushed = await Promise.race([
          sdk.shutdown().then(
            () => true,
            (error: unknown) => {
              errors.report(error);
              return true;
            },
          ),
          bound,
        ]);
        clearTimeout(timer);
        // Leave the process as it was, so telemetry can start again (tests do).
        trace.disable();
        metrics.disable();
        context.disable();
        propagation.disable();
        diag.disable();
        setGlobalErrorHandler(loggingErrorHandler());
        return flushed;
      })();
      return stopped;
    },
  };
}

/**
 * The workers' metrics, for the main thread's metric reader: the latest
 * collection of each actor (cumulative, so the latest says everything; a
 * new incarnation's replaces its predecessor's), exported with this
 * thread's own in one request per interval.
 */
class HandedOverMetrics implements MetricProducer {
  readonly #resource: Resource;
  readonly #latest = new Map<string, ScopeMetrics[]>();

  constructor(resource: Resource) {
    this.#resource = resource;
  }

  take(actorId: string, scopeMetrics: ScopeMetrics[]): void {
    this.#latest.set(actorId, scopeMetrics);
  }

  collect(): Promise<CollectionResult> {
    return Promise.resolve({
      resourceMetrics: { resource: this.#resource, scopeMetrics: [...this.#latest.values()].flat() },
      errors: [],
    });
  }
}

/** The SDK's own warnings and errors (export failures among them) go through the once-a-minute log. */
function quietDiag(errors: ExportErrorLog): DiagLogger {
  const ignore = (): void => undefined;
  const report = (message: string, ...args: unknown[]): void =>
    errors.report(args.length > 0 ? `${message} ${args.map(String).join(' ')}` : message);
  return { error: report, warn: report, info: ignore, debug: ignore, verbose: ignore };
}
