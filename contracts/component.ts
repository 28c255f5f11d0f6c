/**
 * Two things reported apart, as the long-running-command design does:
 *
 * - The **communication** state: whether the service can talk to the
 *   controller. Derived from the kernel's state alone (`communicationOf`):
 *   `ESTABLISHED` once Synchronized, `DISABLED` when autoconnecting is off
 *   (and no link is established), `NOT_ESTABLISHED` otherwise. An
 *   established link stays `ESTABLISHED` when autoconnecting is switched off:
 *   the kernel keeps an open link, and commands still reach the controller.
 * - The **component** state: what the controller itself says about itself
 *   (why it last reset, how long it has been up, its internal errors, whether
 *   it is in its firmware updater, how many blocks it holds, its storage
 *   errors). Reported by whoever learns a fact (`ComponentReport`), kept in
 *   the main thread, and published through one channel of changes.
 */
import type { KernelState } from './actors.js';

export const COMMUNICATION_STATES = ['DISABLED', 'NOT_ESTABLISHED', 'ESTABLISHED'] as const;
export type CommunicationState = (typeof COMMUNICATION_STATES)[number];

export function communicationOf(state: KernelState): CommunicationState {
  if (state.phase.name === 'Synchronized') return 'ESTABLISHED';
  return state.autoconnecting ? 'NOT_ESTABLISHED' : 'DISABLED';
}

/** One fact about the controller, from whoever learnt it. */
export type ComponentReport =
  /** A handshake was acknowledged: why the controller last reset, and what it runs. */
  | {
      kind: 'handshake';
      resetReason: string;
      resetData: string;
      firmwareVersion: string;
      protoVersion: string;
    }
  /** The Ticks block was read or written: time since the controller booted. */
  | { kind: 'uptime'; millisSinceBoot: number }
  /** `<!CBOXERROR,hh>`: an internal error of the firmware. */
  | { kind: 'internalError'; code: string }
  /** `<!FIRMWARE_UPDATER,...>`: the controller entered its firmware updater. */
  | { kind: 'updater'; firmwareVersion: string; protoVersion: string }
  /** The number of blocks the controller holds (system blocks included), as last listed or counted. */
  | { kind: 'blocks'; count: number }
  /** The controller refused to store something (INSUFFICIENT_STORAGE). */
  | { kind: 'storageError'; code: string; opcode: string };

export interface ComponentState {
  /** From the handshake of the current (or last) link; null before any. */
  reset: { reason: string; reasonName: string; data: string; dataName: string } | null;
  /** millisSinceBoot of the Ticks block, and when it was read (ms since the epoch). */
  uptime: { millisSinceBoot: number; at: number } | null;
  /** `<!CBOXERROR>` events seen since the service started, and the last one. */
  internalErrors: { count: number; last: { code: string; at: number } | null };
  /** Set while the controller is in its firmware updater (cleared by the next handshake). */
  updater: { firmwareVersion: string; protoVersion: string; at: number } | null;
  /** Blocks on the controller (system blocks included), as last known. */
  blocks: { count: number; at: number } | null;
  /** Storage refusals since the service started, and the last one. */
  storage: { errors: number; last: { code: string; opcode: string; at: number } | null };
}

export const INITIAL_COMPONENT_STATE: ComponentState = {
  reset: null,
  uptime: null,
  internalErrors: { count: 0, last: null },
  updater: null,
  blocks: null,
  storage: { errors: 0, last: null },
};

/** A fact accepted into the component state, as the kernel publishes it. */
export interface ComponentChange {
  report: ComponentReport;
  /** The connection generation the fact is about. */
  generation: number;
  /** ms since the epoch. */
  at: number;
  state: ComponentState;
}

/** What main-thread readers (HTTP, tasks, telemetry) see of the component state. */
export interface ComponentSource {
  readonly component: ComponentState;
  onComponentChange(listener: (change: ComponentChange) => void): () => void;
}
