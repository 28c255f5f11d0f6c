/**
 * What the kernel and the MQTT actor say to each other, and what goes over
 * the broker: the topics, the state document, the events, the group's
 * life-cycle message and the remote-request errors. Types and schemas only,
 * apart from the topic helpers and the error classes.
 *
 * Topics (prefix `tether` by default; `<service>` is this service's name):
 *
 *   <prefix>/<service>/state            retained, QoS 1: the state document
 *   <prefix>/<service>/status           retained, QoS 1: "online", or "offline" (also the last will)
 *   <prefix>/<service>/events/<kind>    QoS 1: phase, supervision, lifecycle, task
 *   <prefix>/<service>/cmd/<action>     in, QoS 1: operator actions, answered on the MQTT 5 response topic
 *   <prefix>/<group>/lifecycle          retained, QoS 1, both ways: the group's latest transition
 *   brewcast/state/<service>            retained, QoS 1 (optional): the state, for the reference ecosystem
 *
 * Flow: the kernel casts the state document and events to the actor
 * (`MqttApi`); the actor publishes them while connected and keeps only the
 * latest state while not. Requests and group transitions from the broker go
 * the other way, as calls to `BusApi`, which the main thread serves under
 * id `bus`.
 */
import { z } from 'zod';
import { TetherError, registerErrorClass } from '../errors/index.js';
import type { LifecycleState } from './lifecycle.js';
import { LIFECYCLE_STATES, LIFECYCLE_TARGETS } from './lifecycle.js';

export const BUS_IDS = { mqtt: 'mqtt', supervisor: 'bus', kernel: 'bus-kernel' } as const;

// ------------------------------------------------------------------ topics

export const BUS_EVENT_KINDS = ['phase', 'supervision', 'lifecycle', 'task'] as const;
export type BusEventKind = (typeof BUS_EVENT_KINDS)[number];

export interface BusTopics {
  state: string;
  status: string;
  brewcast: string;
  events: Readonly<Record<BusEventKind, string>>;
  /** `<prefix>/<service>/cmd/` (the action follows). */
  cmdPrefix: string;
  /** The subscription for every action. */
  cmdFilter: string;
  /** The group's life-cycle topic, or undefined without a group. */
  group: string | undefined;
}

export function busTopics(prefix: string, service: string, group: string): BusTopics {
  const base = `${prefix}/${service}`;
  return {
    state: `${base}/state`,
    status: `${base}/status`,
    brewcast: `brewcast/state/${service}`,
    events: {
      phase: `${base}/events/phase`,
      supervision: `${base}/events/supervision`,
      lifecycle: `${base}/events/lifecycle`,
      task: `${base}/events/task`,
    },
    cmdPrefix: `${base}/cmd/`,
    cmdFilter: `${base}/cmd/+`,
    group: group === '' ? undefined : `${prefix}/${group}/lifecycle`,
  };
}

/** One topic level we build topics from: no separator, no wildcard, no NUL, 1 to 64 characters. */
// eslint-disable-next-line no-control-regex -- NUL is what MQTT forbids in a topic
export const TOPIC_LEVEL = /^[^/+#\u0000]{1,64}$/;

/** A topic a client may name as its response topic: a topic name (no wildcards), at most 256 characters. */
export function isTopicName(topic: string): boolean {
  // eslint-disable-next-line no-control-regex -- NUL is what MQTT forbids in a topic
  return topic.length > 0 && topic.length <= 256 && !/[+#\u0000]/.test(topic);
}

// ------------------------------------------------------- the state document

/** The link's phase as the reference ecosystem names its connection status. */
export type CommunicationState = 'DISCONNECTED' | 'CONNECTED' | 'ACKNOWLEDGED' | 'SYNCHRONIZED';

/**
 * The controller's own state as far as the service knows it: unknown until
 * a handshake, then compatible and the right device (`running`) or not.
 */
export type ComponentState = 'unknown' | 'running' | 'incompatible' | 'wrong-device';

export interface StateData {
  service: string;
  lifecycle: {
    state: LifecycleState;
    since: string;
    moving: LifecycleState | null;
    /** The last transition and who asked for it (`origin`: the group member, for `via: group`). */
    last: { from: LifecycleState; to: LifecycleState; via: string; origin: string | null } | null;
  };
  phase: { name: string; generation: number; since: string; disconnectReason: string | null };
  communication: CommunicationState;
  component: { state: ComponentState; resetReason: string | null };
  autoconnecting: boolean;
  connection: { kind: 'tcp' | 'serial'; address: string } | null;
  /** The controller's handshake, once Acknowledged. */
  device: Record<string, string> | null;
  /** What is wrong now, for people: an incompatible controller, the last actor failure. */
  errors: Array<{ source: string; message: string; at: string }>;
  /** Tasks running and queued (`{id, kind, status, progress, problem, submittedAt}`). */
  tasks: Array<Record<string, unknown>>;
}

/** The reference shape: `key` is the service, `type` says what `data` is, `ttl` how long it stays valid. */
export interface StateDocument {
  key: string;
  type: 'Tether.state';
  /** Seconds, as the reference writes it ("60.0s"). */
  ttl: string;
  data: StateData;
}

// --------------------------------------------------- the group's transition

/**
 * One transition a group member made, as it publishes it (retained) on the
 * group topic. `origin` names the member's process run, `seq` counts its
 * publications; receivers never publish what they received. Unknown fields
 * are ignored (a newer member may add some); the known ones are checked.
 */
export const GroupTransitionSchema = z.object({
  origin: z.string().min(1).max(160),
  seq: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  service: z.string().max(64),
  from: z.enum(LIFECYCLE_STATES),
  to: z.enum(LIFECYCLE_TARGETS),
  at: z.string().max(40),
});
export type GroupTransition = z.output<typeof GroupTransitionSchema>;

/** What a member did with a group transition it received. */
export type GroupOutcome =
  | { kind: 'applied'; state: LifecycleState }
  | { kind: 'ignored'; why: string }
  | { kind: 'refused'; code: string; message: string };

// ------------------------------------------------------------------ the APIs

export interface MqttStatus {
  url: string;
  clientId: string;
  connected: boolean;
  /** When the link last came up or went down (ISO 8601), or null before the first attempt ended. */
  since: string | null;
  /** Connection attempts so far, successful or not. */
  attempts: number;
  connects: number;
  disconnects: number;
  lastError: string | null;
  /**
   * The last error's code, when it had one: Node's for TLS and sockets
   * (`UNABLE_TO_VERIFY_LEAF_SIGNATURE` for a broker certificate the CA file
   * did not sign, `ERR_TLS_CERT_ALTNAME_INVALID`, `ECONNREFUSED`), or the
   * MQTT reason code of a refused CONNECT (`134` bad user name or password, `135` not authorized).
   */
  lastErrorCode: string | null;
  published: { state: number; events: number; group: number; responses: number };
  /** Events not published because the link was down or too many were unacknowledged. */
  droppedEvents: number;
  /** Requests and group messages refused (bad payload, token, topic). */
  refused: number;
  /** Group life-cycle subscription in place (and its retained message delivered). */
  joined: boolean;
}

/** The MQTT actor's handlers. */
export interface MqttApi {
  [method: string]: (...args: never[]) => unknown;
  /** The latest state; published at once or coalesced (at most every minIntervalMs), only the latest kept. */
  publishState(document: StateDocument): void;
  /** Published if the link is up and not too many are unacknowledged; dropped (counted) otherwise. */
  publishEvent(kind: BusEventKind, payload: Record<string, unknown>): void;
  /** A transition this member made, for the group topic (retained); the latest is kept until published. */
  publishGroup(message: GroupTransition): void;
  status(): MqttStatus;
}

/** Served by the main thread under id `bus-kernel` for the MQTT actor. */
export interface BusApi {
  [method: string]: (...args: never[]) => unknown;
  /** What the actor needs after a (re)start: the current state and the group transition not yet published. */
  hello(): { state: StateDocument; group: GroupTransition | null };
  /**
   * An operator action from the broker (the body parsed, nothing else checked):
   * resolves with the same answer HTTP gives, rejects with the same typed errors.
   */
  perform(action: string, body: unknown): Promise<unknown>;
  /**
   * Another member's transition. `joining` is true for the retained message
   * found on this process's first subscription: a group's old `stopped` is
   * then not followed (a process started after the group stopped is a new run).
   */
  groupTransition(message: GroupTransition, joining: boolean): Promise<GroupOutcome>;
  /** The group subscription is in place and its retained message (if any) delivered. */
  joined(): void;
  /** The broker acknowledged this member's group transition `seq`. */
  groupPublished(seq: number): void;
}

// ----------------------------------------------------------------- errors

/** A remote request's payload: too large, not JSON, or not the action's shape. */
export class InvalidRequestError extends TetherError {
  declare readonly code: 'TETHER_INVALID_REQUEST';
  constructor(why: string, issues: ReadonlyArray<{ path: string; message: string }> = []) {
    super('TETHER_INVALID_REQUEST', `invalid request: ${why}`, { detail: { issues: [...issues] } });
  }
}
registerErrorClass('TETHER_INVALID_REQUEST', InvalidRequestError);

export class UnknownActionError extends TetherError {
  declare readonly code: 'TETHER_UNKNOWN_ACTION';
  constructor(action: string, known: readonly string[]) {
    super('TETHER_UNKNOWN_ACTION', `no operator action "${action}" (known: ${known.join(', ')})`, {
      detail: { action, known: [...known] },
    });
  }
}
registerErrorClass('TETHER_UNKNOWN_ACTION', UnknownActionError);

/** The issues of a failed zod parse, as InvalidRequestError carries them. */
export function invalidRequest(error: z.ZodError, where = 'body'): InvalidRequestError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const first = issues[0];
  return new InvalidRequestError(
    first === undefined ? 'rejected' : `${first.path === '' ? where : first.path}: ${first.message}`,
    issues,
  );
}
