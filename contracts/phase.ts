/**
 * The phase of the link to the controller, owned by one pure state machine.
 *
 *   Disconnected -> Connected -> Acknowledged -> Synchronized
 *        ^______________|______________|______________|   (back at any time)
 *
 * - Connected: a transport is open; nothing is known about the peer.
 * - Acknowledged: a valid handshake arrived; firmware and device id are
 *   known. With incompatible firmware or a wrong device id the link stays
 *   here and says so (`ack.firmwareError`, `ack.identityError`).
 * - Synchronized: clock set, block store loaded, trace read and resumed.
 *
 * Forward only one step at a time; back only to Disconnected. Each phase
 * carries its own data, so nothing can read a handshake while Disconnected.
 * Every connection has a generation number (bumped on each Connected): a
 * request naming another generation is stale and refused, so a late message
 * about an old connection cannot move the new one. A refused request gets an
 * IllegalTransitionError, never silence.
 */
import type { Handshake, TraceEntry } from '../protocol/index.js';
import { TetherError, registerErrorClass } from '../errors/index.js';

export const PHASES = ['Disconnected', 'Connected', 'Acknowledged', 'Synchronized'] as const;
export type PhaseName = (typeof PHASES)[number];

export interface ConnectionInfo {
  kind: 'tcp' | 'serial';
  /** `tcp://host:port` or the serial device path. */
  address: string;
}

export interface AckInfo {
  handshake: Handshake;
  /** The controller's proto_version is not one this build supports. */
  firmwareError?: 'INCOMPATIBLE';
  /** The controller's device id is not the configured one. */
  identityError?: 'WRONG_DEVICE';
}

export interface SyncInfo {
  /** Controller clock set to this (seconds since epoch). */
  clockSetTo: number;
  /** Blocks known to the datastore when loaded. */
  storedBlocks: number;
  /** What TRACE_READ_RESUME returned. */
  trace: TraceEntry[];
}

interface Common {
  /** The connection generation; Disconnected keeps the last one. */
  generation: number;
  /** When this phase began (ms since epoch). */
  since: number;
}

export type Phase =
  | (Common & {
      name: 'Disconnected';
      reason: string;
      /**
       * Set when whoever asked for the disconnect knows when a new link is
       * worth trying (a controller in listening mode): connection waits this
       * long before reconnecting, whatever its backoff says.
       */
      retryInMs?: number;
    })
  | (Common & { name: 'Connected'; connection: ConnectionInfo })
  | (Common & { name: 'Acknowledged'; connection: ConnectionInfo; ack: AckInfo })
  | (Common & { name: 'Synchronized'; connection: ConnectionInfo; ack: AckInfo; sync: SyncInfo });

/** What an actor may ask for. Connected starts a new generation; the others name theirs. */
export type TransitionRequest =
  | { to: 'Connected'; connection: ConnectionInfo }
  | { to: 'Acknowledged'; generation: number; ack: AckInfo }
  | { to: 'Synchronized'; generation: number; sync: SyncInfo }
  | { to: 'Disconnected'; generation: number; reason: string; retryInMs?: number };

export class IllegalTransitionError extends TetherError {
  declare readonly code: 'TETHER_ILLEGAL_TRANSITION';
  constructor(from: Phase, request: TransitionRequest, why: string) {
    super('TETHER_ILLEGAL_TRANSITION', `cannot go from ${from.name} to ${request.to}: ${why}`, {
      detail: {
        from: from.name,
        to: request.to,
        generation: from.generation,
        requestedGeneration: 'generation' in request ? request.generation : null,
        why,
      },
    });
  }
}
registerErrorClass('TETHER_ILLEGAL_TRANSITION', IllegalTransitionError);

/** Order of phases within one generation: Disconnected ends it, and the next generation follows. */
const RANK: Record<PhaseName, number> = { Connected: 1, Acknowledged: 2, Synchronized: 3, Disconnected: 4 };

/**
 * Which of two phases came first: negative when `a` is older than `b`, zero
 * for the same step. Actors hear of phases on channels with no order between
 * them (the kernel's casts, their own catch-up fetches), so they keep the
 * newest by this order and never move back.
 */
export function comparePhases(a: Phase, b: Phase): number {
  return a.generation !== b.generation ? a.generation - b.generation : RANK[a.name] - RANK[b.name];
}

export const INITIAL_PHASE: Phase = {
  name: 'Disconnected',
  generation: 0,
  since: 0,
  reason: 'not connected yet',
};

export type TransitionResult = { ok: true; phase: Phase } | { ok: false; error: IllegalTransitionError };

/** The transition table. Pure: time comes in as an argument. */
export function transition(from: Phase, request: TransitionRequest, now: number): TransitionResult {
  const refuse = (why: string): TransitionResult => ({
    ok: false,
    error: new IllegalTransitionError(from, request, why),
  });
  if (request.to !== 'Connected' && request.generation !== from.generation) {
    return refuse(`stale generation ${request.generation} (current ${from.generation})`);
  }
  switch (request.to) {
    case 'Connected':
      if (from.name !== 'Disconnected') return refuse('a connection is already open');
      return {
        ok: true,
        phase: {
          name: 'Connected',
          generation: from.generation + 1,
          since: now,
          connection: request.connection,
        },
      };
    case 'Acknowledged':
      if (from.name !== 'Connected') return refuse('only a Connected link can be acknowledged');
      return {
        ok: true,
        phase: {
          name: 'Acknowledged',
          generation: from.generation,
          since: now,
          connection: from.connection,
          ack: request.ack,
        },
      };
    case 'Synchronized':
      if (from.name !== 'Acknowledged') return refuse('only an Acknowledged link can be synchronized');
      if (from.ack.firmwareError !== undefined || from.ack.identityError !== undefined) {
        return refuse('the controller is incompatible or the wrong device');
      }
      return {
        ok: true,
        phase: {
          name: 'Synchronized',
          generation: from.generation,
          since: now,
          connection: from.connection,
          ack: from.ack,
          sync: request.sync,
        },
      };
    case 'Disconnected':
      if (from.name === 'Disconnected') return refuse('already disconnected');
      return {
        ok: true,
        phase: {
          name: 'Disconnected',
          generation: from.generation,
          since: now,
          reason: request.reason,
          ...(request.retryInMs === undefined ? {} : { retryInMs: request.retryInMs }),
        },
      };
  }
}

/** An accepted phase change, as the kernel publishes it. */
export interface PhaseChange {
  from: Phase;
  to: Phase;
  /** Why: the disconnect reason, or the step that moved it forward. */
  reason: string;
  /** How long the link was in `from` (ms). */
  durationMs: number;
}
