/**
 * Trace ids on log lines. In the main thread a pino `mixin` reads the
 * active span; actor log lines get theirs in the worker (see worker.ts) and
 * arrive with the fields already set, which pino keeps over the mixin's.
 */
import { activeLogFields } from './traceparent.js';

/** For `createLogger({ mixin: traceLogFields })`: `trace_id` and `span_id` when inside a span. */
export function traceLogFields(): Record<string, string> {
  return activeLogFields();
}
