/**
 * Telemetry for the device service: `startTelemetry` before the service,
 * `observe` once the kernel and the tree exist, `shutdown` after the service
 * stopped (it flushes, bounded). With no OTLP endpoint configured (nor
 * OTEL_EXPORTER_OTLP_ENDPOINT) or OTEL_SDK_DISABLED=true, it is off and
 * costs nothing: no SDK is loaded, workers load nothing, and the actors'
 * `@opentelemetry/api` calls are the API's no-ops.
 */
import type { TetherConfig } from '../config/index.js';
import type { PhaseSource } from '../contracts/actors.js';
import type { ActorSystem, Logger, SystemOptions } from '../runtime/index.js';
import type { SupervisionEvents } from '../supervisors/index.js';
import { resolveTelemetrySettings } from './settings.js';
import type { TelemetrySettings } from './settings.js';
import type { ObservedTasks } from './tasks.js';

/** What telemetry watches in a running service. */
export interface ObservedService {
  kernel: PhaseSource;
  system: ActorSystem;
  events: Pick<SupervisionEvents, 'subscribe'>;
  /** The task tracker's events: each task a span, tasks by kind and status a metric (tasks.ts). */
  tasks?: ObservedTasks;
}

export type TelemetrySystemOptions = Pick<
  SystemOptions,
  'currentTraceparent' | 'workerTelemetry' | 'onWorkerTelemetry' | 'onHeartbeat'
>;

export interface Telemetry {
  readonly enabled: boolean;
  readonly settings: TelemetrySettings;
  /** For the ActorSystem: trace context of main-thread messages, the worker side, and what workers hand over. */
  readonly systemOptions: TelemetrySystemOptions;
  observe(service: ObservedService): void;
  /**
   * Sends what is pending and stops, bounded: a collector that is down does
   * not hold the exit. False when the bound cut the flush short: an export
   * may then still hold a socket open until its own timeout, and a process
   * that wants to end now must exit explicitly (see cli/run-command.ts).
   */
  shutdown(): Promise<boolean>;
}

export interface TelemetryOptions {
  /**
   * How the main thread keeps the active trace context. `async` (the
   * default, the SDK's own): an AsyncLocalStorage, so a span made active by
   * the embedding program is the parent of the commands it asks for after
   * an await as well. `sync`: the SDK's StackContextManager, only through a
   * synchronous run. `tether run` takes `sync`: its main thread has no
   * program of its own (the service's own spans there name their parents;
   * every message takes its traceparent when sent), and on Node 20 an
   * AsyncLocalStorage in use runs async hooks on every promise and I/O
   * callback of the thread, the HTTP API's included (docs/observability.md, Cost).
   */
  mainThreadContext?: 'async' | 'sync';
}

export async function startTelemetry(
  config: TetherConfig['telemetry'],
  env: NodeJS.ProcessEnv,
  logger: Logger,
  options: TelemetryOptions = {},
): Promise<Telemetry> {
  const settings = resolveTelemetrySettings(config, env);
  if (!settings.enabled) {
    logger.debug({ event: 'telemetry', enabled: false, why: settings.disabledBecause }, 'telemetry off');
    return disabledTelemetry(settings);
  }
  // Loaded only when on, so a service without a collector never loads the SDK.
  const { startSdk } = await import('./sdk.js');
  return startSdk(settings, logger, options);
}

function disabledTelemetry(settings: TelemetrySettings): Telemetry {
  return {
    enabled: false,
    settings,
    systemOptions: {},
    observe: () => undefined,
    shutdown: () => Promise.resolve(true),
  };
}
