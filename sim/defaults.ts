/** Every default of the simulator in one place, next to the types they fill. */

import type { Handshake } from '../protocol/index.js';

/** Who the simulated controller says it is: its handshake, less the reset fields (which change as it runs). */
export type SimIdentity = Omit<Handshake, 'resetReason' | 'resetData'>;

/** Faults that stay on until changed (one-shot faults are methods of `Faults`). */
export interface FaultSettings {
  /** USB unplugged: requests are accepted and nothing at all is sent back. */
  silent: boolean;
  /** Every response (and the handshake after NONE/VERSION) waits this long; order is kept. */
  responseDelayMs: number;
  /** No handshake on connect: only after a NONE or VERSION request. */
  handshakeOnlyAfterNone: boolean;
  /** The handshake on connect (and after a reset) comes this late. */
  handshakeDelayMs: number;
  /** Every response carries a log annotation inside its data line. */
  annotateLines: boolean;
  /** Requests with these opcodes are answered `BUSY` (a controller that makes a sync step fail every time). */
  busyOpcodes: string[];
  /** Every new connection gets `<!SETUP_MODE>` right after its handshake (a controller stuck announcing it). */
  setupModeOnConnect: boolean;
  /**
   * 0 for off; otherwise every OK block answer carries `data.nested`, an array nested this deep,
   * written on the wire as is (past the codec's nesting bound, which the encoder would refuse).
   */
  nestedPayloadDepth: number;
}

export const SIM_IDENTITY: Readonly<SimIdentity> = {
  firmwareVersion: '4558bdae',
  protoVersion: 'b1698b6e',
  firmwareDate: '2026-03-24',
  protoDate: '2026-03-15',
  systemVersion: '3.2.0',
  platform: 'sim',
  deviceId: '123456789012345678901234',
};

export const SIM_FAULTS: Readonly<FaultSettings> = {
  silent: false,
  responseDelayMs: 0,
  handshakeOnlyAfterNone: false,
  handshakeDelayMs: 0,
  annotateLines: false,
  busyOpcodes: [],
  setupModeOnConnect: false,
  nestedPayloadDepth: 0,
};

export const SIM_DEFAULTS = {
  host: '127.0.0.1',
  port: 8332,
  /** User blocks before INSUFFICIENT_STORAGE. */
  capacity: 200,
  /** Time between the REBOOT response (or a FIRMWARE_UPDATE) and the reset: the reply gets out first. */
  rebootDelayMs: 50,
  /** Responses waiting in one session beyond this are dropped (a flood of requests cannot grow memory). */
  maxPendingResponses: 1000,
} as const;

/** Reset reason and data of a REBOOT request: USER, CBOX_RESET. */
export const REBOOT_RESET = { reason: '8C', data: '02' } as const;
/** Of a finished firmware update: UPDATE, FIRMWARE_UPDATE_SUCCESS. */
export const UPDATE_RESET = { reason: '46', data: '06' } as const;
/** Of `faults.reset()` without arguments: WATCHDOG. */
export const FAULT_RESET = { reason: '3C', data: '01' } as const;

/**
 * What a FIRMWARE_UPDATE installs unless told otherwise (`faults.nextFirmware`):
 * the controller comes back with this firmware version and date, so a
 * service can check that the update took.
 */
export const SIM_NEXT_FIRMWARE = { firmwareVersion: '5a1f0c3e', firmwareDate: '2026-04-10' } as const;
/** Of a firmware update that failed: UPDATE_ERROR, FIRMWARE_UPDATE_FAILED (the old firmware stays). */
export const UPDATE_FAILED_RESET = { reason: '50', data: '04' } as const;
