/**
 * The runtime logs through this narrow view of a pino logger, so callers can
 * pass their own (a child with fields, a silent one in tests).
 */
import { pino } from 'pino';

export type Logger = Pick<pino.Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** JSON lines on stdout, the default for a service under systemd or Docker. */
export function createLogger(
  options: {
    level?: string;
    name?: string;
    /** Fields added to every line (e.g. trace_id and span_id of the active span); the line's own win. */
    mixin?: () => object;
    /** Where the lines go instead of stdout (the CLI's readable format for a terminal). */
    destination?: pino.DestinationStream;
  } = {},
): pino.Logger {
  const settings = {
    level: options.level ?? process.env['TETHER_LOG_LEVEL'] ?? 'info',
    name: options.name ?? 'tether',
    ...(options.mixin === undefined ? {} : { mixin: options.mixin }),
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
