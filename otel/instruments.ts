/**
 * What the actors and the main thread share to make spans and metrics with
 * the plain `@opentelemetry/api`: the tracer and meter of tether's scope, and
 * whether telemetry is on in this thread (so work that only feeds telemetry,
 * such as timing a command, is skipped when it is off). With telemetry off
 * the API is the no-op one and none of this costs more than a call.
 */
import { metrics, trace } from '@opentelemetry/api';
import type { Meter, Tracer } from '@opentelemetry/api';
import { SCOPE } from './names.js';

let on = false;

/** Called once the SDK (main thread) or the worker's provider is installed. */
export function markTelemetryOn(): void {
  on = true;
}

export function telemetryOn(): boolean {
  return on;
}

/**
 * A proxy until a provider is installed, then the real one: fine to take at
 * module load in a worker (one provider for its life). The main thread takes
 * its own after starting the SDK (see sdk.ts).
 */
export const tracer: Tracer = trace.getTracer(SCOPE);

export function meter(): Meter {
  return metrics.getMeter(SCOPE);
}

/** Bucket boundaries (ms) for latencies from sub-millisecond to the longest command timeout. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];
