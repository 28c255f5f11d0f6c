import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { resolveConfig } from '../../config/index.js';
import { resolveTelemetrySettings } from '../../otel/settings.js';
import { startTelemetry } from '../../otel/telemetry.js';

const telemetry = (endpoint = '', extra: Record<string, string> = {}) =>
  resolveConfig({ env: {}, overrides: { telemetry: { endpoint, ...extra } } }).config.telemetry;

describe('telemetry settings', () => {
  it('is off with no endpoint in the configuration nor OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    const settings = resolveTelemetrySettings(telemetry(), {});
    assert.equal(settings.enabled, false);
    assert.match(settings.disabledBecause, /no OTLP endpoint/);
  });

  it('takes the configured endpoint, with the signal paths of OTLP/HTTP and protobuf by default', () => {
    const settings = resolveTelemetrySettings(telemetry('http://collector:4318/'), {});
    assert.equal(settings.enabled, true);
    assert.equal(settings.tracesUrl, 'http://collector:4318/v1/traces');
    assert.equal(settings.metricsUrl, 'http://collector:4318/v1/metrics');
    assert.equal(settings.protocol, 'http/protobuf');
    assert.equal(settings.serviceName, 'tether');
    assert.equal(settings.sampler.name, 'parentbased_always_on');
  });

  it('lets the OTEL_* variables win over the configuration', () => {
    const settings = resolveTelemetrySettings(telemetry('http://from-config:4318', { serviceName: 'cfg' }), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://from-env:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces-only:9999/custom',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
    });
    assert.equal(settings.tracesUrl, 'http://traces-only:9999/custom');
    assert.equal(settings.metricsUrl, 'http://from-env:4318/v1/metrics');
    assert.deepEqual(settings.sampler, { name: 'traceidratio', ratio: 0.25 });
    assert.equal(settings.protocol, 'http/json');
    assert.equal(settings.spanDelayMs, 100);
    assert.equal(settings.metricIntervalMs, 500);
  });

  it('takes the span queue and export batch sizes from OTEL_BSP_*, a batch no larger than the queue', () => {
    const defaults = resolveTelemetrySettings(telemetry('http://c:4318'), {});
    assert.deepEqual([defaults.spanQueueSize, defaults.spanBatchSize], [4096, 512]);
    const sized = resolveTelemetrySettings(telemetry('http://c:4318'), {
      OTEL_BSP_MAX_QUEUE_SIZE: '8192',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2048',
    });
    assert.deepEqual([sized.spanQueueSize, sized.spanBatchSize], [8192, 2048]);
    const capped = resolveTelemetrySettings(telemetry('http://c:4318'), {
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'lots',
    });
    assert.deepEqual([capped.spanQueueSize, capped.spanBatchSize], [100, 100]);
    const fractions = resolveTelemetrySettings(telemetry('http://c:4318'), {
      OTEL_BSP_MAX_QUEUE_SIZE: '0.5',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '0.5',
    });
    assert.deepEqual([fractions.spanQueueSize, fractions.spanBatchSize], [4096, 512]);
  });

  it('is off with OTEL_SDK_DISABLED=true whatever is configured; a signal set to none is off alone', () => {
    assert.equal(
      resolveTelemetrySettings(telemetry('http://c:4318'), { OTEL_SDK_DISABLED: 'true' }).enabled,
      false,
    );
    const noTraces = resolveTelemetrySettings(telemetry('http://c:4318'), { OTEL_TRACES_EXPORTER: 'none' });
    assert.equal(noTraces.enabled, true);
    assert.equal(noTraces.tracesUrl, undefined);
    assert.equal(noTraces.metricsUrl, 'http://c:4318/v1/metrics');
  });

  it('falls back to http/protobuf for a protocol that is not installed, and says so', () => {
    const settings = resolveTelemetrySettings(telemetry('http://c:4318'), {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    assert.equal(settings.protocol, 'http/protobuf');
    assert.match(settings.protocolWarning ?? '', /grpc/);
  });

  it("the main thread's context follows an embedding program's awaits by default, and only its synchronous run with mainThreadContext sync", async () => {
    const parentAfterAwait = async (
      options: Parameters<typeof startTelemetry>[3],
    ): Promise<string | undefined> => {
      // An endpoint nothing listens on, and no metrics: no span is ended here, so nothing is exported.
      const started = await startTelemetry(
        telemetry('http://127.0.0.1:9'),
        { OTEL_METRICS_EXPORTER: 'none' },
        pino({ level: 'silent' }),
        options,
      );
      try {
        const span = trace.getTracer('test').startSpan('program');
        const seen = await context.with(trace.setSpan(context.active(), span), async () => {
          assert.equal(trace.getActiveSpan(), span);
          await new Promise((resolve) => setImmediate(resolve));
          return trace.getActiveSpan()?.spanContext().spanId;
        });
        assert.equal(trace.getActiveSpan(), undefined);
        return seen === span.spanContext().spanId ? 'kept' : undefined;
      } finally {
        await started.shutdown();
      }
    };
    assert.equal(await parentAfterAwait(undefined), 'kept');
    assert.equal(await parentAfterAwait({ mainThreadContext: 'sync' }), undefined);
  });

  it('off, startTelemetry loads no SDK and gives the actor system nothing to run in its workers', async () => {
    const started = await startTelemetry(telemetry(), {}, pino({ level: 'silent' }));
    assert.equal(started.enabled, false);
    assert.deepEqual(started.systemOptions, {});
    await started.shutdown();
  });
});
