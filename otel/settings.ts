/**
 * What telemetry does, from the `telemetry` section of the configuration
 * and the standard OTEL_* variables. The variables win, as users of every
 * other OpenTelemetry SDK expect. Pure: the environment comes in as an
 * argument, so this is tested without touching process.env.
 */
import type { TetherConfig } from '../config/index.js';
import { TRACE_SAMPLERS } from '../config/index.js';

export type SamplerName = TetherConfig['telemetry']['sampler'];

export interface SamplerSettings {
  name: SamplerName;
  /** The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG), 0..1. */
  ratio: number;
}

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TelemetrySettings {
  enabled: boolean;
  /** Why it is off (for the start-up log line); '' when on. */
  disabledBecause: string;
  /** undefined: that signal is off (OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER=none). */
  tracesUrl: string | undefined;
  metricsUrl: string | undefined;
  protocol: OtlpProtocol;
  /** A protocol asked for that is not installed (grpc), reported once at start. */
  protocolWarning: string | undefined;
  /**
   * The configured service.name. OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
   * win over it: the SDK's envDetector reads them from the process's
   * environment when the resource is made (sdk.ts).
   */
  serviceName: string;
  sampler: SamplerSettings;
  /** BatchSpanProcessor delay (OTEL_BSP_SCHEDULE_DELAY), ms. */
  spanDelayMs: number;
  /** Spans waiting for export at most, the rest dropped and counted (OTEL_BSP_MAX_QUEUE_SIZE). */
  spanQueueSize: number;
  /** Spans in one export request at most (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, no more than the queue). */
  spanBatchSize: number;
  /** Metric export interval (OTEL_METRIC_EXPORT_INTERVAL), ms. */
  metricIntervalMs: number;
  /** One export's bound (OTEL_EXPORTER_OTLP_TIMEOUT), ms. */
  exportTimeoutMs: number;
}

export const TELEMETRY_DEFAULTS = {
  spanDelayMs: 5000,
  spanQueueSize: 4096,
  spanBatchSize: 512,
  metricIntervalMs: 60_000,
  exportTimeoutMs: 10_000,
} as const;

export function resolveTelemetrySettings(
  config: TetherConfig['telemetry'],
  env: NodeJS.ProcessEnv,
): TelemetrySettings {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const base = get('OTEL_EXPORTER_OTLP_ENDPOINT') ?? (config.endpoint === '' ? undefined : config.endpoint);
  const signalUrl = (signal: 'TRACES' | 'METRICS', path: string): string | undefined => {
    const exporter = get(`OTEL_${signal}_EXPORTER`);
    if (exporter !== undefined && exporter.split(',').some((name) => name.trim() === 'none'))
      return undefined;
    // A signal's own endpoint is used as it is; the base one gets the signal's path (OTLP/HTTP spec).
    const own = get(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`);
    if (own !== undefined) return own;
    return base === undefined ? undefined : `${base.replace(/\/+$/, '')}/${path}`;
  };
  const tracesUrl = signalUrl('TRACES', 'v1/traces');
  const metricsUrl = signalUrl('METRICS', 'v1/metrics');

  const asked = get('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  const protocol: OtlpProtocol = asked === 'http/json' ? 'http/json' : 'http/protobuf';
  const protocolWarning =
    asked === 'http/json' || asked === 'http/protobuf'
      ? undefined
      : `OTEL_EXPORTER_OTLP_PROTOCOL=${asked} is not supported here; using http/protobuf`;

  const samplerName = get('OTEL_TRACES_SAMPLER');
  const sampler: SamplerSettings = {
    name:
      samplerName !== undefined && (TRACE_SAMPLERS as readonly string[]).includes(samplerName)
        ? (samplerName as SamplerName)
        : config.sampler,
    ratio: clamp01(Number(get('OTEL_TRACES_SAMPLER_ARG') ?? '1')),
  };

  let disabledBecause = '';
  if (/^true$/i.test(get('OTEL_SDK_DISABLED') ?? '')) disabledBecause = 'OTEL_SDK_DISABLED=true';
  else if (base === undefined && tracesUrl === undefined && metricsUrl === undefined)
    disabledBecause = 'no OTLP endpoint (telemetry.endpoint or OTEL_EXPORTER_OTLP_ENDPOINT)';
  else if (tracesUrl === undefined && metricsUrl === undefined)
    disabledBecause = 'OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER are none';

  const spanQueueSize = count(get('OTEL_BSP_MAX_QUEUE_SIZE'), TELEMETRY_DEFAULTS.spanQueueSize);
  return {
    enabled: disabledBecause === '',
    disabledBecause,
    tracesUrl,
    metricsUrl,
    protocol,
    protocolWarning,
    serviceName: config.serviceName,
    sampler,
    spanDelayMs: positive(get('OTEL_BSP_SCHEDULE_DELAY'), TELEMETRY_DEFAULTS.spanDelayMs),
    spanQueueSize,
    spanBatchSize: Math.min(
      spanQueueSize,
      count(get('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'), TELEMETRY_DEFAULTS.spanBatchSize),
    ),
    metricIntervalMs: positive(get('OTEL_METRIC_EXPORT_INTERVAL'), TELEMETRY_DEFAULTS.metricIntervalMs),
    exportTimeoutMs: positive(get('OTEL_EXPORTER_OTLP_TIMEOUT'), TELEMETRY_DEFAULTS.exportTimeoutMs),
  };
}

function positive(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return text !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** A count of at least 1 (a fraction is rounded down, so 0.5 is no batch of 0); the fallback otherwise. */
function count(text: string | undefined, fallback: number): number {
  const value = Math.trunc(positive(text, fallback));
  return value >= 1 ? value : fallback;
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 1;
}
