/**
 * Telemetry on: the OpenTelemetry Node SDK in the main thread, exporting
 * over OTLP/HTTP (protobuf, or JSON when OTEL_EXPORTER_OTLP_PROTOCOL says
 * http/json) to what settings.ts resolved. Workers get a module of their own
 * (worker.ts) that hands their spans and metrics over to this thread, which
 * exports them with its one exporter each. Only imported when telemetry is on.
 */
import { DiagLogLevel, context, diag, metrics, propagation, trace } from '@opentelemetry/api';
import type { DiagLogger } from '@opentelemetry/api';
import { loggingErrorHandler, setGlobalErrorHandler } from '@opentelemetry/core';
import type { ExportResult, InstrumentationScope } from '@opentelemetry/core';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  defaultResource,
  detectResources,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { CommanderApi } from '../contracts/actors.js';
import { ACTOR_IDS } from '../contracts/actors.js';
import type { ActorSystem, Logger } from '../runtime/index.js';
import { SyncContextManager } from './context-manager.js';
import { ExportErrorLog } from './export-errors.js';
import { markTelemetryOn, meter } from './instruments.js';
import { ATTR, SCOPE } from './names.js';
import { Observer } from './observer.js';
import { makeSampler } from './sampler.js';
import type { TelemetrySettings } from './settings.js';
import { isMetricsHandOver, isOtlpSpansHandOver, isSpanBatch, readSpanBatch } from './span-wire.js';
import { EncodedSpanQueue, otlpHttpSender } from './otlp-export.js';
import type { ReadContext } from './span-wire.js';
import type { Telemetry } from './telemetry.js';
import { activeTraceparent } from './traceparent.js';
import type { WorkerTelemetryOptions } from './worker.js';

/** The longest shutdown waits for the last export; a collector that is down must not hold the exit. */
export const SHUTDOWN_FLUSH_BOUND_MS = 3000;
/** One export's bound, whatever OTEL_EXPORTER_OTLP_TIMEOUT says, so a stuck collector never piles exports up. */
const MAX_EXPORT_TIMEOUT_MS = 5000;

const WORKER_MODULE = new URL('./worker.js', import.meta.url).href;

export function startSdk(settings: TelemetrySettings, logger: Logger): Telemetry {
  const errors = new ExportErrorLog(logger);
  setGlobalErrorHandler((error) => errors.report(error));
  diag.setLogger(quietDiag(errors), DiagLogLevel.WARN);
  if (settings.protocolWarning !== undefined) logger.warn({ event: 'telemetry' }, settings.protocolWarning);

  const resource = defaultResource()
    .merge(detectResources({ detectors: [processDetector, hostDetector] }))
    .merge(resourceFromAttributes(settings.resourceAttributes))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }));
  const timeoutMillis = Math.min(settings.exportTimeoutMs, MAX_EXPORT_TIMEOUT_MS);
  const json = settings.protocol === 'http/json';

  let spans: BatchSpanProcessor | undefined;
  if (settings.tracesUrl !== undefined) {
    const options = { url: settings.tracesUrl, timeoutMillis };
    const exporter: SpanExporter = json ? new JsonTraceExporter(options) : new ProtoTraceExporter(options);
    spans = new BatchSpanProcessor(exporter, {
      scheduledDelayMillis: settings.spanDelayMs,
      exportTimeoutMillis: timeoutMillis,
      maxQueueSize: settings.spanQueueSize,
      maxExportBatchSize: settings.spanBatchSize,
    });
  }
  // Worker spans with the protobuf protocol come encoded (worker.ts): they only queue and join here.
  const encoded =
    settings.tracesUrl === undefined || json
      ? undefined
      : new EncodedSpanQueue(resource, otlpHttpSender(settings.tracesUrl, timeoutMillis), {
          maxQueueSize: settings.spanQueueSize,
          maxBatchSize: settings.spanBatchSize,
          delayMs: settings.spanDelayMs,
          onError: (error) => errors.report(error),
        });
  let metricExporter: PushMetricExporter | undefined;
  let reader: PeriodicExportingMetricReader | undefined;
  if (settings.metricsUrl !== undefined) {
    const options = { url: settings.metricsUrl, timeoutMillis };
    metricExporter = json ? new JsonMetricExporter(options) : new ProtoMetricExporter(options);
    reader = new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: settings.metricIntervalMs,
      exportTimeoutMillis: Math.min(timeoutMillis, settings.metricIntervalMs),
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
    // Synchronous: see context-manager.ts for why this thread needs no async context.
    contextManager: new SyncContextManager(),
  });
  sdk.start();
  markTelemetryOn();
  logger.info(
    {
      event: 'telemetry',
      enabled: true,
      traces: settings.tracesUrl ?? 'off',
      metrics: settings.metricsUrl ?? 'off',
      protocol: settings.protocol,
      serviceName: settings.serviceName,
      sampler: settings.sampler.name,
    },
    'telemetry on (OTLP/HTTP)',
  );

  let system: ActorSystem | undefined;
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

  // One scope object per distinct scope, for every batch of every worker: the
  // exporters group spans by scope identity (one ScopeSpans per object).
  const scopes = new Map<string, InstrumentationScope>();
  const scope = (name: string, version: string, schemaUrl: string): InstrumentationScope => {
    const key = `${name}@${version}:${schemaUrl}`;
    let found = scopes.get(key);
    if (found === undefined) {
      found = { name, ...(version === '' ? {} : { version }), ...(schemaUrl === '' ? {} : { schemaUrl }) };
      scopes.set(key, found);
    }
    return found;
  };
  const readContexts = new Map<string, ReadContext>();
  const onWorkerTelemetry = (actorId: string, payload: unknown): void => {
    if (isOtlpSpansHandOver(payload)) {
      encoded?.add(payload);
      return;
    }
    if (isSpanBatch(payload)) {
      if (spans === undefined) return;
      let ctx = readContexts.get(actorId);
      if (ctx === undefined) {
        ctx = { resource, scope, extra: [ATTR.actorId, actorId] };
        readContexts.set(actorId, ctx);
      }
      const processor = spans;
      readSpanBatch(payload, ctx, (span) => processor.onEnd(span));
      return;
    }
    if (isMetricsHandOver(payload) && metricExporter !== undefined) {
      const scopeMetrics = payload.metrics as ScopeMetrics[];
      metricExporter.export({ resource, scopeMetrics }, (result: ExportResult) => {
        if (result.error !== undefined || result.code !== 0) {
          errors.report(result.error ?? new Error(`metrics of ${actorId} not exported`));
        }
      });
    }
  };

  const workerOptions: WorkerTelemetryOptions = {
    sampler: settings.sampler,
    spanDelayMs: Math.min(settings.spanDelayMs, 1000),
    metricIntervalMs: settings.metricIntervalMs,
    spanWire: encoded === undefined ? 'flat' : 'otlp',
  };

  let stopped: Promise<void> | undefined;
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
    },
    shutdown() {
      stopped ??= (async () => {
        observer.close();
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            logger.warn(
              { boundMs: SHUTDOWN_FLUSH_BOUND_MS },
              'telemetry flush did not finish in time; dropped',
            );
            resolve();
          }, SHUTDOWN_FLUSH_BOUND_MS);
        });
        const report = (error: unknown): void => errors.report(error);
        await Promise.race([
          Promise.all([sdk.shutdown().catch(report), encoded?.shutdown().catch(report)]),
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
      })();
      return stopped;
    },
  };
}

/** The SDK's own warnings and errors (export failures among them) go through the once-a-minute log. */
function quietDiag(errors: ExportErrorLog): DiagLogger {
  const ignore = (): void => undefined;
  const report = (message: string, ...args: unknown[]): void =>
    errors.report(args.length > 0 ? `${message} ${args.map(String).join(' ')}` : message);
  return { error: report, warn: report, info: ignore, debug: ignore, verbose: ignore };
}
