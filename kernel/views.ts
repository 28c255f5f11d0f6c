/**
 * JSON shapes the kernel hands out beyond HTTP's own views: the life cycle
 * (GET /api/lifecycle, the lifecycle events), the state document of the
 * bus, and the phase and supervision events published there. Times are
 * ISO 8601; nothing here asks an actor anything.
 */
import type { ComponentState, CommunicationState, StateData, StateDocument } from '../contracts/bus.js';
import type { KernelState } from '../contracts/actors.js';
import type { PhaseChange } from '../contracts/phase.js';
import { describeExit, type ExitReason, type PoolStatus } from '../runtime/index.js';
import type { ChildInfo, SupervisionEvent } from '../supervisors/index.js';
import type { LifecycleTransition, LifecycleView, TriggerSource } from './lifecycle.js';

// -------------------------------------------------------------- life cycle

export interface TriggerSourceJson {
  via: TriggerSource['via'];
  /** The group member (its process run) that made the transition, for `via: group`. */
  origin?: string;
  seq?: number;
  /** The HTTP client (its User-Agent, printable and short), for `via: http`. */
  client?: string;
  /** What failed, for the automatic move to `failed`. */
  cause?: string;
}

export interface LifecycleTransitionJson {
  n: number;
  from: string;
  to: string;
  source: TriggerSourceJson;
  at: string;
  durationMs: number;
}

export function lifecycleTransitionJson(transition: LifecycleTransition): LifecycleTransitionJson {
  return {
    n: transition.n,
    from: transition.from,
    to: transition.to,
    source: { ...transition.source },
    at: new Date(transition.at).toISOString(),
    durationMs: transition.durationMs,
  };
}

export interface LifecycleJson {
  state: string;
  since: string;
  moving: string | null;
  allowed: string[];
  last: LifecycleTransitionJson | null;
  history: LifecycleTransitionJson[];
}

export function lifecycleJson(view: LifecycleView): LifecycleJson {
  return {
    state: view.state,
    since: new Date(view.since).toISOString(),
    moving: view.moving,
    allowed: [...view.allowed],
    last: view.last === null ? null : lifecycleTransitionJson(view.last),
    history: view.history.map(lifecycleTransitionJson),
  };
}

// ------------------------------------------------------------- supervision

export interface ChildJson {
  id: string;
  kind: 'worker' | 'supervisor' | 'pool';
  restart: string;
  status: string;
  incarnation: number;
  restarts: number;
  lastExit: { kind: ExitReason['kind']; description: string; at: string } | null;
  children?: ChildJson[];
  /** A running pool's threads, queue, utilisation and tasks done. */
  pool?: PoolStatus;
}

/** A child as the restart action answers it (the shape of a node of GET /api/tree). */
export function childJson(info: ChildInfo): ChildJson {
  return {
    id: info.id,
    kind: info.kind,
    restart: info.restart,
    status: info.status,
    incarnation: info.incarnation,
    restarts: info.restarts,
    lastExit:
      info.lastExit === undefined
        ? null
        : {
            kind: info.lastExit.reason.kind,
            description: describeExit(info.lastExit.reason),
            at: new Date(info.lastExit.at).toISOString(),
          },
    ...(info.children === undefined ? {} : { children: info.children.map(childJson) }),
    ...(info.pool === undefined ? {} : { pool: info.pool }),
  };
}

/** A supervision event for the bus: the exit described, no stack. */
export function supervisionEventJson(event: SupervisionEvent): Record<string, unknown> {
  const json: Record<string, unknown> = {
    type: event.type,
    supervisor: event.supervisor,
    at: new Date(event.at).toISOString(),
  };
  if ('childId' in event && event.childId !== undefined) json['child'] = event.childId;
  if ('reason' in event) json['reason'] = describeExit(event.reason);
  if ('cause' in event) json['cause'] = describeExit(event.cause);
  if ('error' in event) json['error'] = { code: event.error.code ?? null, message: event.error.message };
  if ('incarnation' in event) json['incarnation'] = event.incarnation;
  if ('group' in event) json['group'] = [...event.group];
  if ('delayMs' in event) json['delayMs'] = event.delayMs;
  if ('restarting' in event) json['restarting'] = event.restarting;
  return json;
}

/** A failure worth showing in the state's `errors`: an actor that crashed, or could not start. */
export function failureOf(
  event: SupervisionEvent,
): { source: string; message: string; at: string } | undefined {
  const at = new Date(event.at).toISOString();
  if (event.type === 'child-exited' && event.reason.kind !== 'normal' && event.reason.kind !== 'shutdown') {
    return { source: event.childId, message: describeExit(event.reason), at };
  }
  if (event.type === 'child-start-failed') {
    return { source: event.childId, message: `failed to start: ${event.error.message}`, at };
  }
  if (event.type === 'give-up') {
    return { source: event.supervisor, message: 'gave up: restart intensity spent', at };
  }
  return undefined;
}

// -------------------------------------------------------------------- phase

export function phaseEventJson(change: PhaseChange): Record<string, unknown> {
  return {
    from: change.from.name,
    to: change.to.name,
    generation: change.to.generation,
    reason: change.reason,
    at: new Date(change.to.since).toISOString(),
    durationMs: change.durationMs,
  };
}

// ----------------------------------------------------------------- state

export interface StateInputs {
  service: string;
  kernel: KernelState;
  lifecycle: LifecycleView;
  /** Recent actor failures, newest last. */
  failures: ReadonlyArray<{ source: string; message: string; at: string }>;
  /** How often the state is published again: it is valid for twice that. */
  publishIntervalMs: number;
  /** Tasks running and queued (kernel/bus.ts). */
  tasks?: Array<Record<string, unknown>>;
}

export function stateDocument(inputs: StateInputs): StateDocument {
  const { phase, autoconnecting } = inputs.kernel;
  const ack = phase.name === 'Acknowledged' || phase.name === 'Synchronized' ? phase.ack : undefined;
  const errors: StateData['errors'] = [];
  const since = new Date(phase.since).toISOString();
  if (ack?.firmwareError !== undefined) {
    errors.push({ source: 'controller', message: `firmware ${ack.firmwareError}`, at: since });
  }
  if (ack?.identityError !== undefined) {
    errors.push({ source: 'controller', message: `device ${ack.identityError}`, at: since });
  }
  errors.push(...inputs.failures);
  let component: ComponentState = 'unknown';
  if (ack !== undefined) {
    component =
      ack.firmwareError !== undefined
        ? 'incompatible'
        : ack.identityError !== undefined
          ? 'wrong-device'
          : 'running';
  }
  return {
    key: inputs.service,
    type: 'Tether.state',
    ttl: `${((inputs.publishIntervalMs * 2) / 1000).toFixed(1)}s`,
    data: {
      service: inputs.service,
      lifecycle: {
        state: inputs.lifecycle.state,
        since: new Date(inputs.lifecycle.since).toISOString(),
        moving: inputs.lifecycle.moving,
        last: lastOf(inputs.lifecycle.last),
      },
      phase: {
        name: phase.name,
        generation: phase.generation,
        since,
        disconnectReason: phase.name === 'Disconnected' ? phase.reason : null,
      },
      communication: phase.name.toUpperCase() as CommunicationState,
      component: { state: component, resetReason: ack?.handshake.resetReason ?? null },
      autoconnecting,
      connection: phase.name === 'Disconnected' ? null : { ...phase.connection },
      device: ack === undefined ? null : ({ ...ack.handshake } as unknown as Record<string, string>),
      errors,
      tasks: inputs.tasks ?? [],
    },
  };
}

function lastOf(transition: LifecycleTransition | null): StateData['lifecycle']['last'] {
  if (transition === null) return null;
  const { source } = transition;
  return {
    from: transition.from,
    to: transition.to,
    via: source.via,
    origin: source.via === 'group' ? source.origin : null,
  };
}
