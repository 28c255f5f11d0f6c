/**
 * Errors of the simulator and of the pseudo-terminal pairs it (and the
 * serial tests) run on.
 */
import { registerErrorClass, TetherError } from '../errors/index.js';

/** `socat` is not installed, so no pseudo-terminal pair can be made. */
export class SocatMissingError extends TetherError {
  declare readonly code: 'TETHER_SOCAT_MISSING';
  constructor(cause: unknown) {
    super(
      'TETHER_SOCAT_MISSING',
      'socat is not installed (needed for pseudo-terminal pairs): apt-get install socat',
      { cause },
    );
  }
}

/** socat started but the pseudo-terminal pair did not appear in time, or socat exited early. */
export class PtyPairError extends TetherError {
  declare readonly code: 'TETHER_PTY_FAILED';
  constructor(why: string, options?: { cause?: unknown }) {
    super('TETHER_PTY_FAILED', `pseudo-terminal pair failed: ${why}`, { ...options, detail: { why } });
  }
}

/** The simulator was closed; nothing more can be attached to it. */
export class SimulatorClosedError extends TetherError {
  declare readonly code: 'TETHER_SIM_CLOSED';
  constructor() {
    super('TETHER_SIM_CLOSED', 'the controller simulator is closed');
  }
}

for (const [code, errorClass] of [
  ['TETHER_SOCAT_MISSING', SocatMissingError],
  ['TETHER_PTY_FAILED', PtyPairError],
  ['TETHER_SIM_CLOSED', SimulatorClosedError],
] as const) {
  registerErrorClass(code, errorClass);
}
