/**
 * What the read routes return, built from the service: the JSON shapes of
 * status, tree, readiness and the event stream. Actors are asked with short
 * deadlines, in parallel; one that does not answer becomes `null` with a
 * note in `errors`, never a hung request.
 */
import type {
  CommanderApi,
  ConnectionApi,
  ConnectionStatus,
  SynchronizationApi,
  WatchdogApi,
} from '../contracts/actors.js';
import { ACTOR_IDS } from '../contracts/actors.js';
import type { PhaseChange } from '../contracts/phase.js';
import type { Phase, PhaseName } from '../contracts/phase.js';
import { PHASES } from '../contracts/phase.js';
import type { Service } from '../kernel/service.js';
import { communicationOf } from '../contracts/component.js';
import type { CommunicationState, ComponentChange, ComponentState } from '../contracts/component.js';
import { TetherError, describeExit } from '../runtime/index.js';
import type { ExitReason } from '../runtime/index.js';
import type { ChildInfo, SupervisionEvent } from '../supervisors/index.js';
import type { PoolStatus } from '../runtime/index.js';

/** How long status waits for each actor. */
export const ACTOR_DEADLINE_MS = 1000;
/** Transitions shown in status. */
export const RECENT_TRANSITIONS = 10;

// ------------------------------------------------------------------ phase

export interface TransitionView {
  from: PhaseName;
  to: PhaseName;
  generation: number;
  reason: string;
  /** When `to` began (ISO 8601). */
  at: string;
  /** How long the link was in `from`. */
  durationMs: number;
}

export function transitionView(change: PhaseChange): TransitionView {
  return {
    from: change.from.name,
    to: change.to.name,
    generation: change.to.generation,
    reason: change.reason,
    at: new Date(change.to.since).toISOString(),
    durationMs: change.durationMs,
  };
}

export function phaseAtLeast(phase: PhaseName, needed: PhaseName): boolean {
  return PHASES.indexOf(phase) >= PHASES.indexOf(needed);
}

// ----------------------------------------------------------------- status

export interface StatusView {
  phase: PhaseName;
  generation: number;
  /** When the current phase began (ISO 8601), and for how long. */
  since: string;
  inPhaseMs: number;
  /** Why the link is down (Disconnected only). */
  disconnectReason: string | null;
  autoconnecting: boolean;
  address: string | null;
  transport: 'tcp' | 'serial' | null;
  /** The handshake of the current link, once Acknowledged. */
  device: { deviceId: string; handshake: Record<string, string> } | null;
  firmwareError: string | null;
  identityError: string | null;
  sync: { clockSetTo: number; storedBlocks: number; traceEntries: number } | null;
  uptimeMs: number;
  counters: {
    connection: Pick<ConnectionStatus, 'framesIn' | 'framesOut' | 'badFrames'> | null;
    commands: { pending: number; sent: number; timedOut: number; lateResponses: number } | null;
    restarts: number;
    transitions: number;
  };
  connection: ConnectionStatus | null;
  /** The sync step, its last error, and why the block datastore cannot be used (null when it can). */
  synchronization: ReturnType<SynchronizationApi['status']> | null;
  watchdog: Awaited<ReturnType<WatchdogApi['health']>> | null;
  /** Whether the service can talk to the controller: DISABLED, NOT_ESTABLISHED or ESTABLISHED. */
  communication: CommunicationState;
  /** What the controller says about itself: reset reason, uptime, internal errors, updater, blocks, storage. */
  component: ComponentView;
  /** Tasks queued and running now. */
  tasks: { queued: number; executing: number };
  /** Facts the actors reported to the kernel. */
  reports: Record<string, Record<string, unknown>>;
  recentTransitions: TransitionView[];
  /** For each field that is null because its actor did not answer: the error code and message. */
  errors: Record<string, { code: string; message: string }>;
}

export async function statusView(service: Service, startedAt: number, now = Date.now()): Promise<StatusView> {
  const errors: StatusView['errors'] = {};
  const ask = async <T>(field: string, call: () => Promise<T>): Promise<T | null> => {
    try {
      return await call();
    } catch (error) {
      errors[field] = {
        code: TetherError.is(error) ? error.code : 'TETHER_INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      };
      return null;
    }
  };
  const deadline = { timeoutMs: ACTOR_DEADLINE_MS };
  const { system, kernel, root } = service;
  const [connection, commands, synchronization, watchdog] = await Promise.all([
    ask('connection', () => system.ref<ConnectionApi>(ACTOR_IDS.connection).callWith(deadline, 'status')),
    ask('commander', () => system.ref<CommanderApi>(ACTOR_IDS.commander).callWith(deadline, 'status')),
    ask('synchronization', () =>
      system.ref<SynchronizationApi>(ACTOR_IDS.synchronization).callWith(deadline, 'status'),
    ),
    ask('watchdog', () => system.ref<WatchdogApi>(ACTOR_IDS.watchdog).callWith(deadline, 'health')),
  ]);
  // Read the kernel after the actors answered, so the phase is the freshest part of the answer.
  const { phase, autoconnecting } = kernel.state;
  const history = kernel.history();
  const ack = phase.name === 'Acknowledged' || phase.name === 'Synchronized' ? phase.ack : undefined;
  return {
    phase: phase.name,
    generation: phase.generation,
    since: new Date(phase.since).toISOString(),
    inPhaseMs: Math.max(0, now - phase.since),
    disconnectReason: phase.name === 'Disconnected' ? phase.reason : null,
    autoconnecting,
    address: linkOf(phase)?.address ?? null,
    transport: linkOf(phase)?.kind ?? null,
    device:
      ack === undefined
        ? null
        : { deviceId: ack.handshake.deviceId, handshake: { ...ack.handshake } as Record<string, string> },
    firmwareError: ack?.firmwareError ?? null,
    identityError: ack?.identityError ?? null,
    sync:
      phase.name === 'Synchronized'
        ? {
            clockSetTo: phase.sync.clockSetTo,
            storedBlocks: phase.sync.storedBlocks,
            traceEntries: phase.sync.trace.length,
          }
        : null,
    uptimeMs: Math.max(0, now - startedAt),
    counters: {
      connection:
        connection === null
          ? null
          : {
              framesIn: connection.framesIn,
              framesOut: connection.framesOut,
              badFrames: connection.badFrames,
            },
      commands,
      restarts: totalRestarts(root.whichChildren()),
      transitions: history.length,
    },
    connection,
    synchronization,
    watchdog,
    communication: communicationOf(kernel.state),
    component: componentView(kernel.component, now),
    tasks: (({ queued, executing }) => ({ queued: queued.length, executing: executing.length }))(
      service.tasks.tracker.list(),
    ),
    reports: Object.fromEntries(kernel.reports()),
    recentTransitions: history.slice(-RECENT_TRANSITIONS).map(transitionView),
    errors,
  };
}

function linkOf(phase: Phase): { kind: 'tcp' | 'serial'; address: string } | undefined {
  return phase.name === 'Disconnected' ? undefined : phase.connection;
}

function totalRestarts(children: readonly ChildInfo[]): number {
  return children.reduce((sum, child) => sum + child.restarts + totalRestarts(child.children ?? []), 0);
}

// ------------------------------------------------------------------- tree

export interface ExitView {
  kind: ExitReason['kind'];
  description: string;
  /** ISO 8601. */
  at: string;
}

export interface TreeNodeView {
  id: string;
  kind: 'worker' | 'supervisor' | 'pool';
  restart: string;
  status: string;
  incarnation: number;
  restarts: number;
  lastExit: ExitView | null;
  children?: TreeNodeView[];
  /** A running pool's threads, queue, utilisation and tasks done. */
  pool?: PoolStatus;
}

export interface TreeView {
  id: string;
  /** The root supervisor's own state: idle, running, stopping, stopped. */
  state: string;
  children: TreeNodeView[];
}

export function treeView(service: Service): TreeView {
  return {
    id: service.root.id,
    state: service.root.state,
    children: service.root.whichChildren().map(nodeView),
  };
}

export function nodeView(info: ChildInfo): TreeNodeView {
  const node: TreeNodeView = {
    id: info.id,
    kind: info.kind,
    restart: info.restart,
    status: info.status,
    incarnation: info.incarnation,
    restarts: info.restarts,
    lastExit: info.lastExit === undefined ? null : exitView(info.lastExit.reason, info.lastExit.at),
  };
  if (info.children !== undefined) node.children = info.children.map(nodeView);
  if (info.pool !== undefined) node.pool = info.pool;
  return node;
}

function exitView(reason: ExitReason, at: number): ExitView {
  return { kind: reason.kind, description: describeExit(reason), at: new Date(at).toISOString() };
}

// ----------------------------------------------------------------- events

/** A supervision event for the stream: exit reasons described, times as ISO 8601. */
export function supervisionView(event: SupervisionEvent): Record<string, unknown> {
  const { at, ...rest } = event;
  const view: Record<string, unknown> = { ...rest, at: new Date(at).toISOString() };
  if ('reason' in event) view['reason'] = exitView(event.reason, at);
  if ('cause' in event) view['cause'] = exitView(event.cause, at);
  // The stack stays in the log; the stream says what failed.
  if ('error' in event)
    view['error'] = { name: event.error.name, code: event.error.code, message: event.error.message };
  return view;
}

/** The state a new stream starts from, so a client needs no separate status call. */
export function stateView(service: Service): Record<string, unknown> {
  const { phase, autoconnecting } = service.kernel.state;
  return {
    phase: phase.name,
    generation: phase.generation,
    since: new Date(phase.since).toISOString(),
    autoconnecting,
    rootState: service.root.state,
    communication: communicationOf(service.kernel.state),
    component: componentView(service.kernel.component),
  };
}

// ---------------------------------------------------------------- component

/** The component state with times as ISO 8601, and the uptime carried forward to now. */
export interface ComponentView {
  reset: ComponentState['reset'];
  /** millisSinceBoot as last read, plus the time since it was read. */
  uptimeMs: number | null;
  internalErrors: { count: number; last: { code: string; at: string } | null };
  updater: { firmwareVersion: string; protoVersion: string; at: string } | null;
  blocks: { count: number; at: string } | null;
  storage: { errors: number; last: { code: string; opcode: string; at: string } | null };
}

const iso = (at: number): string => new Date(at).toISOString();

export function componentView(state: ComponentState, now = Date.now()): ComponentView {
  return {
    reset: state.reset,
    uptimeMs:
      state.uptime === null ? null : state.uptime.millisSinceBoot + Math.max(0, now - state.uptime.at),
    internalErrors: {
      count: state.internalErrors.count,
      last:
        state.internalErrors.last === null
          ? null
          : { ...state.internalErrors.last, at: iso(state.internalErrors.last.at) },
    },
    updater: state.updater === null ? null : { ...state.updater, at: iso(state.updater.at) },
    blocks: state.blocks === null ? null : { count: state.blocks.count, at: iso(state.blocks.at) },
    storage: {
      errors: state.storage.errors,
      last: state.storage.last === null ? null : { ...state.storage.last, at: iso(state.storage.last.at) },
    },
  };
}

/** A component change for the event stream: the fact and the state it made. */
export function componentChangeView(change: ComponentChange): Record<string, unknown> {
  return {
    report: change.report,
    generation: change.generation,
    at: iso(change.at),
    component: componentView(change.state, change.at),
  };
}
