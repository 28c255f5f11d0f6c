/**
 * Errors of the controller link: transports and discovery. Each has a literal `code` and is registered with the runtime
 * so it is rebuilt as its own class when it crosses a thread boundary (the
 * connection actor runs in a worker).
 */
import { registerErrorClass, TetherError } from '../../errors/index.js';

/** A write (or any use) of a link after it closed, or a write that was pending when it closed. */
export class LinkClosedError extends TetherError {
  declare readonly code: 'TETHER_LINK_CLOSED';
  constructor(address: string, options?: { cause?: unknown }) {
    super('TETHER_LINK_CLOSED', `link ${address} is closed`, { ...options, detail: { address } });
  }
}

/** The peer did not accept the connection (or the port did not open) within the deadline. */
export class ConnectTimeoutError extends TetherError {
  declare readonly code: 'TETHER_CONNECT_TIMEOUT';
  constructor(address: string, timeoutMs: number) {
    super('TETHER_CONNECT_TIMEOUT', `could not open ${address} within ${timeoutMs} ms`, {
      detail: { address, timeoutMs },
    });
  }
}

/** Opening the link failed (connection refused, no such device, permission denied, aborted). */
export class LinkOpenError extends TetherError {
  declare readonly code: 'TETHER_LINK_OPEN_FAILED';
  constructor(address: string, cause: unknown) {
    super('TETHER_LINK_OPEN_FAILED', `could not open ${address}: ${describeCause(cause)}`, {
      cause,
      detail: { address },
    });
  }
}

/** The operating system refused a write on an open link. */
export class LinkWriteError extends TetherError {
  declare readonly code: 'TETHER_LINK_WRITE_FAILED';
  constructor(address: string, cause: unknown) {
    super('TETHER_LINK_WRITE_FAILED', `write to ${address} failed: ${describeCause(cause)}`, {
      cause,
      detail: { address },
    });
  }
}

/**
 * Serial ports cannot be enumerated here: `SerialPort.list()` needs `udevadm`
 * on Linux, which containers and minimal machines lack. Callers decide what
 * that means (the service falls back to configured paths).
 */
export class PortListUnavailableError extends TetherError {
  declare readonly code: 'TETHER_PORT_LIST_UNAVAILABLE';
  constructor(cause: unknown) {
    super('TETHER_PORT_LIST_UNAVAILABLE', `serial ports cannot be listed: ${describeCause(cause)}`, {
      cause,
    });
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

for (const [code, errorClass] of [
  ['TETHER_LINK_CLOSED', LinkClosedError],
  ['TETHER_CONNECT_TIMEOUT', ConnectTimeoutError],
  ['TETHER_LINK_OPEN_FAILED', LinkOpenError],
  ['TETHER_LINK_WRITE_FAILED', LinkWriteError],
  ['TETHER_PORT_LIST_UNAVAILABLE', PortListUnavailableError],
] as const) {
  registerErrorClass(code, errorClass);
}
