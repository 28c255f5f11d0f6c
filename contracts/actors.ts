/**
 * What the service's actors and the kernel say to each other: the API of
 * each (the handlers its ref can call) and the errors they raise. Types
 * only, apart from the error classes, so the whole conversation fits on a
 * screen. Every actor's ids are fixed: see ACTOR_IDS.
 *
 * Flow, in short:
 * - connection opens a link, asks the kernel for Connected, and feeds the
 *   decoded stream: responses to commander, events to synchronization,
 *   activity to watchdog. When the link closes it asks for Disconnected.
 * - synchronization drives handshake and sync over commander and asks the
 *   kernel for Acknowledged, then Synchronized.
 * - commander owns msgIds, pending requests and their timeouts; writes go
 *   to connection.
 * - watchdog pings a silent controller and asks for a disconnect when it
 *   does not answer.
 * - The kernel owns the phase; every accepted transition is cast to all
 *   four actors as `onKernelState`, in order. Anyone may ask the kernel to
 *   disconnect (for a given generation); the kernel moves to Disconnected
 *   and tells connection to close that link.
 */
import type {
  ControllerEvent,
  Opcode,
  RequestPayload,
  ResponseFrame,
  ResponsePayload,
} from '../protocol/index.js';
import type { Phase, PhaseChange, TransitionRequest } from './phase.js';
import { comparePhases } from './phase.js';
import type { ComponentReport } from './component.js';
import { TetherError, registerErrorClass } from '../errors/index.js';

export const ACTOR_IDS = {
  kernel: 'kernel',
  connection: 'connection',
  commander: 'commander',
  synchronization: 'synchronization',
  watchdog: 'watchdog',
} as const;

/** What the kernel tells every actor when anything it owns changes. */
export interface KernelState {
  phase: Phase;
  /** When false, connection does not open a new link (an open one is kept). */
  autoconnecting: boolean;
  /**
   * The kernel's count of its changes (a transition, autoconnecting turned
   * on or off). The kernel's casts and the states an actor fetches travel on
   * different channels, in no order between them; the phase alone cannot
   * order two states of one phase (paused, then started again), this can.
   */
  version: number;
}

/**
 * Orders two states of the kernel: newer is greater. By (generation, phase
 * rank) first, then by version for two of the same phase. (The kernel's
 * versions agree with the phases' order; a test's fake may leave them 0.)
 */
export function compareKernelStates(a: KernelState, b: KernelState): number {
  return comparePhases(a.phase, b.phase) || a.version - b.version;
}

/** Served from the main thread under id `kernel`. */
export interface KernelApi {
  [method: string]: (...args: never[]) => unknown;
  /** Applies a transition; rejects with IllegalTransitionError when the table refuses it. */
  transition(request: TransitionRequest): KernelState;
  state(): KernelState;
  /**
   * Ask for the link of `generation` to be closed: the kernel goes to
   * Disconnected with `reason` (if that generation is still current) and
   * casts `closeLink` to connection. Stale generations are ignored (resolves false).
   * `retryInMs`: connection waits this long before the next link (see Phase).
   */
  disconnect(generation: number, reason: string, retryInMs?: number): boolean;
  /**
   * USB discovery found nothing for its give-up time: the kernel decides by
   * the rediscovery policy whether to stop the service with exit code 75.
   * Resolves true when the exit is under way.
   */
  requestRediscoveryExit(reason: string): boolean;
  /** An actor's own counters and facts for status and health (merged into /api/status later). */
  report(actorId: string, facts: Record<string, unknown>): void;
  /**
   * A fact about the controller (component.ts), learnt on the link of
   * `generation`; a fact about an older link than the current one is dropped.
   */
  component(generation: number, report: ComponentReport): void;
}

/** Common to every service actor: the kernel casts each state change here. */
export interface PhaseListener {
  onKernelState(state: KernelState): void;
}

export interface ConnectionApi extends PhaseListener {
  [method: string]: (...args: never[]) => unknown;
  /** Write encoded request bytes (a whole frame, `\n` included) on the link of `generation`; dropped if stale. */
  write(generation: number, frame: string): void;
  /** Close the link of `generation` (no-op if stale or already closed). */
  closeLink(generation: number, reason: string): void;
  status(): ConnectionStatus;
}

export interface ConnectionStatus {
  generation: number;
  address: string | null;
  kind: 'tcp' | 'serial' | null;
  /** ms since epoch of the last byte received on the current link, or null. */
  lastReceivedAt: number | null;
  framesIn: number;
  framesOut: number;
  /** Decoder counters: framing, crc, badJson, badFields, rawBracket, badEvents. */
  badFrames: Record<string, number>;
  /** Current discovery / connect state, for people. */
  activity: string;
}

export interface CommandOptions {
  /** Default: the configured commander.timeoutMs. */
  timeoutMs?: number;
  /**
   * The lowest phase the request may be sent in. Default Synchronized (what
   * an API user sends); synchronization's own steps send from Connected or
   * Acknowledged.
   */
  minPhase?: 'Connected' | 'Acknowledged' | 'Synchronized';
  /** Send even though a timeout check is in progress (used by that check itself). */
  internal?: boolean;
}

export interface CommanderApi extends PhaseListener {
  [method: string]: (...args: never[]) => unknown;
  /** Resolves with the controller's OK payload; rejects with one of the command errors below. */
  request<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options?: CommandOptions,
  ): Promise<ResponsePayload<O>>;
  /** A decoded response from connection, for the link of `generation`. */
  onResponse(generation: number, frame: ResponseFrame): void;
  /**
   * A frame for `msgId` that decoded but could not be accepted (a field of
   * the wrong type, nesting past the codec's bound): that request fails at
   * once with BadResponseError.
   */
  onBadResponse(generation: number, msgId: number, reason: string): void;
  status(): { pending: number; sent: number; timedOut: number; lateResponses: number };
}

export interface SynchronizationApi extends PhaseListener {
  [method: string]: (...args: never[]) => unknown;
  /** A decoded controller event from connection. */
  onEvent(generation: number, event: ControllerEvent): void;
  status(): SynchronizationStatus;
}

export interface SynchronizationStatus {
  step: string;
  lastError: string | null;
  /**
   * Why the block datastore could not be used on the last load (the error's
   * code, message and the path), or null when it could. Synchronization goes
   * on without it: the store is the service's memory, not the controller's.
   */
  datastore: { code: string; message: string; path: string } | null;
}

export interface WatchdogApi extends PhaseListener {
  [method: string]: (...args: never[]) => unknown;
  /** Something arrived on the link of `generation` (connection casts this at most every 250 ms). */
  onActivity(generation: number, at: number): void;
  health(): {
    healthy: boolean;
    phase: Phase['name'];
    lastReceivedAt: number | null;
    lastCheck: string | null;
  };
}

// ----------------------------------------------------------------- errors

/** The request is not allowed in the current phase (e.g. a BLOCK_READ while Disconnected). */
export class NotReadyError extends TetherError {
  declare readonly code: 'TETHER_NOT_READY';
  constructor(opcode: string, phase: string, needs: string) {
    super('TETHER_NOT_READY', `cannot send ${opcode} while ${phase}: needs ${needs}`, {
      detail: { opcode, phase, needs },
    });
  }
}

/** The controller did not answer within the request's timeout. */
export class CommandTimeoutError extends TetherError {
  declare readonly code: 'TETHER_COMMAND_TIMEOUT';
  constructor(opcode: string, msgId: number, timeoutMs: number) {
    super('TETHER_COMMAND_TIMEOUT', `${opcode} (msgId ${msgId}) got no response within ${timeoutMs} ms`, {
      detail: { opcode, msgId, timeoutMs },
    });
  }
}

/** The controller answered with an error code other than OK. */
export class ControllerError extends TetherError {
  declare readonly code: 'TETHER_CONTROLLER_ERROR';
  constructor(opcode: string, msgId: number, controllerCode: string) {
    super(
      'TETHER_CONTROLLER_ERROR',
      `${opcode} (msgId ${msgId}) failed on the controller: ${controllerCode}`,
      {
        detail: { opcode, msgId, controllerCode },
      },
    );
  }
}

/** The link closed (or was reset) with the request still pending. */
export class LinkLostError extends TetherError {
  declare readonly code: 'TETHER_LINK_LOST';
  constructor(opcode: string, msgId: number, why: string) {
    super('TETHER_LINK_LOST', `${opcode} (msgId ${msgId}) failed: the connection was lost (${why})`, {
      detail: { opcode, msgId, why },
    });
  }
}

/** The response's payload did not have the shape the opcode promises. */
export class BadResponseError extends TetherError {
  declare readonly code: 'TETHER_BAD_RESPONSE';
  constructor(opcode: string, msgId: number, why: string) {
    super('TETHER_BAD_RESPONSE', `${opcode} (msgId ${msgId}): bad response payload: ${why}`, {
      detail: { opcode, msgId, why },
    });
  }
}

registerErrorClass('TETHER_NOT_READY', NotReadyError);
registerErrorClass('TETHER_COMMAND_TIMEOUT', CommandTimeoutError);
registerErrorClass('TETHER_CONTROLLER_ERROR', ControllerError);
registerErrorClass('TETHER_LINK_LOST', LinkLostError);
registerErrorClass('TETHER_BAD_RESPONSE', BadResponseError);

/** What main-thread observers (telemetry, HTTP) read of the kernel: its state and its phase changes. */
export interface PhaseSource {
  readonly state: KernelState;
  onPhaseChange(listener: (change: PhaseChange) => void): () => void;
}
