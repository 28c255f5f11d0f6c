/**
 * The main thread's view of every actor: spawns incarnations, and keeps each
 * actor id's refs wired to whichever incarnation is current. Supervisors
 * decide when to start and stop; the system does the plumbing.
 *
 * Wiring: for every ref holder of an id (a ref in the main thread, or a
 * worker that asked for a peer ref) and every incarnation of that id, a
 * MessageChannel of their own, so calls go straight from caller to callee
 * without passing through the main thread.
 */
import { MessageChannel } from 'node:worker_threads';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { RuntimeClosedError, serializeError } from './errors.js';
import { CallServer } from './server.js';
import type { ExitReason } from './exit-reason.js';
import { describeExit } from './exit-reason.js';
import { ActorHost } from './host.js';
import type { HeartbeatOptions } from './host.js';
import type { Logger } from './logger.js';
import { createLogger } from './logger.js';
import { REF_DEFAULTS, RefCore } from './ref.js';
import type { ActorRef, ApiShape } from './ref.js';
import type { InjectedFault } from './messages.js';
import { StandbyPool } from './standby.js';
import type { WorkerTelemetryInit } from './worker/bootstrap.js';
import type { TraceScope } from './server.js';

/**
 * Main-thread services (the kernel) run their handlers as they are: code in
 * this thread passes trace contexts explicitly (see otel/observer.ts), and a
 * store switched per message would cost on every call for nothing read.
 */
const untraced: TraceScope = (_traceparent, handler, args) => handler(...args);

export interface SystemOptions {
  logger?: Logger;
  /** Keep a loaded standby worker per actor module for fast restarts (default true). */
  warmStandby?: boolean;
  /** Default call deadline for refs (default 5000 ms). */
  callTimeoutMs?: number;
  /** Calls that may wait for a restarting actor, per ref (default 1000). */
  stashLimit?: number;
  /** Trace context of the current main-thread code, for calls that do not give one. */
  currentTraceparent?: () => string;
  /**
   * A module every worker loads before its actor (its `installWorkerTelemetry`
   * export), with its options: the worker side of telemetry. Absent: workers
   * load nothing and make no spans beyond the no-op API.
   */
  workerTelemetry?: WorkerTelemetryInit;
  /** Telemetry a worker handed over (see `workerTelemetry`), with the actor id it came from. */
  onWorkerTelemetry?: (actorId: string, payload: unknown) => void;
  /** Each heartbeat round trip of an actor, in ms. */
  onHeartbeat?: (actorId: string, rttMs: number) => void;
}

/** What it takes to run one actor. */
export interface ActorSpec {
  id: string;
  /** URL (file:) of the module whose default export is `defineActor(...)`. */
  module: string;
  config?: unknown;
  heartbeat: HeartbeatOptions | false;
  resourceLimits?: ResourceLimits;
  startTimeoutMs: number;
}

/** Something that holds a ref to an actor id and must follow its incarnations. */
interface RefSink {
  connect(port: MessagePort): void;
  disconnect(stopped: boolean, why: string): void;
}

/** What currently answers for an id: a worker incarnation, or a service in this thread. */
interface Incarnation {
  accept(port: MessagePort): void;
  kill(): void;
}

/** Everything about one actor id that outlives its incarnations. */
interface Cell {
  readonly id: string;
  incarnations: number;
  current: Incarnation | undefined;
  /** Why the actor is not running and will not be restarted; undefined while it is or may be. */
  stoppedWhy: string | undefined;
  readonly sinks: Set<RefSink>;
}

export class ActorSystem {
  readonly logger: Logger;
  readonly #options: Required<
    Omit<SystemOptions, 'logger' | 'workerTelemetry' | 'onWorkerTelemetry' | 'onHeartbeat'>
  >;
  readonly #telemetry: Pick<SystemOptions, 'workerTelemetry' | 'onWorkerTelemetry' | 'onHeartbeat'>;
  readonly #standby: StandbyPool;
  readonly #cells = new Map<string, Cell>();
  readonly #mainRefs = new Map<string, RefCore<ApiShape>>();
  readonly #hosts = new Set<ActorHost>();
  /** Trace context of calls served in this thread (see `serve`). */
  #closed = false;

  constructor(options: SystemOptions = {}) {
    this.logger = options.logger ?? createLogger();
    this.#options = {
      warmStandby: options.warmStandby ?? true,
      callTimeoutMs: options.callTimeoutMs ?? REF_DEFAULTS.callTimeoutMs,
      stashLimit: options.stashLimit ?? REF_DEFAULTS.stashLimit,
      currentTraceparent: options.currentTraceparent ?? ((): string => ''),
    };
    this.#telemetry = {
      ...(options.workerTelemetry === undefined ? {} : { workerTelemetry: options.workerTelemetry }),
      ...(options.onWorkerTelemetry === undefined ? {} : { onWorkerTelemetry: options.onWorkerTelemetry }),
      ...(options.onHeartbeat === undefined ? {} : { onHeartbeat: options.onHeartbeat }),
    };
    this.#standby = new StandbyPool(this.#options.warmStandby);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A ref to an actor id, valid across its restarts. One per id in the main thread. */
  ref<Api>(id: string): ActorRef<Api> {
    let ref = this.#mainRefs.get(id);
    if (ref === undefined) {
      ref = new RefCore<ApiShape>(id, {
        callTimeoutMs: this.#options.callTimeoutMs,
        stashLimit: this.#options.stashLimit,
        currentTraceparent: this.#options.currentTraceparent,
      });
      this.#mainRefs.set(id, ref);
      this.#addSink(this.#cell(id), ref);
    }
    return ref as unknown as ActorRef<Api>;
  }

  /**
   * Starts a new incarnation of an actor and resolves once its init has run.
   * Its refs are connected before this resolves. Its init runs in the trace
   * context given, or the current one of this thread.
   */
  async spawn(spec: ActorSpec, traceparent = this.#options.currentTraceparent()): Promise<ActorHost> {
    if (this.#closed) throw new RuntimeClosedError();
    const cell = this.#cell(spec.id);
    cell.stoppedWhy = undefined;
    cell.incarnations += 1;
    const slot = this.#standby.take({
      module: spec.module,
      resourceLimits: spec.resourceLimits,
      callTimeoutMs: this.#options.callTimeoutMs,
      stashLimit: this.#options.stashLimit,
      logger: this.logger,
      telemetry: this.#telemetry.workerTelemetry,
    });
    const heldPeers: Array<{ cell: Cell; sink: RefSink }> = [];
    const host: ActorHost = new ActorHost(
      slot,
      {
        id: spec.id,
        incarnation: cell.incarnations,
        config: spec.config,
        heartbeat: spec.heartbeat,
        startTimeoutMs: spec.startTimeoutMs,
        traceparent,
      },
      this.logger,
      {
        onWantPeer: (peerId) => {
          const peerCell = this.#cell(peerId);
          const sink: RefSink = {
            connect: (port) => host.post({ type: 'peer-up', peerId, port }),
            disconnect: (stopped, why) => host.post({ type: 'peer-down', peerId, stopped, why }),
          };
          heldPeers.push({ cell: peerCell, sink });
          this.#addSink(peerCell, sink);
        },
        onHeartbeat: (rttMs) => this.#telemetry.onHeartbeat?.(spec.id, rttMs),
        onTelemetry: (payload) => this.#telemetry.onWorkerTelemetry?.(spec.id, payload),
      },
    );
    this.#hosts.add(host);
    void host.exited.then((reason) => {
      for (const { cell: peerCell, sink } of heldPeers) peerCell.sinks.delete(sink);
      if (cell.current === host) {
        cell.current = undefined;
        // Until the supervisor decides, callers wait for a next incarnation.
        for (const sink of cell.sinks) sink.disconnect(false, describeExit(reason));
      }
      void host.slot.gone.then(() => this.#hosts.delete(host));
    });
    await host.start();
    cell.current = host;
    for (const sink of cell.sinks) this.#wire(host, sink);
    return host;
  }

  /**
   * Serves `handlers` under `id` from this (the main) thread, so actors can
   * call the kernel with `ctx.ref(id)` like any peer. Not supervised: it
   * lives until `close()` or shutdown. Handlers must not block.
   */
  serve<Api extends ApiShape>(id: string, handlers: Api): { close(): void } {
    if (this.#closed) throw new RuntimeClosedError();
    const cell = this.#cell(id);
    const server = new CallServer(id, handlers, untraced, (method, error) =>
      this.logger.error({ actor: id, method, err: serializeError(error) }, 'cast failed'),
    );
    const local: Incarnation = { accept: (port) => server.accept(port), kill: () => server.closeAll() };
    cell.stoppedWhy = undefined;
    cell.current = local;
    for (const sink of cell.sinks) this.#wire(local, sink);
    return {
      close: () => {
        if (cell.current !== local) return;
        server.closeAll();
        cell.current = undefined;
        this.markStopped(id, 'closed');
      },
    };
  }

  /**
   * Makes the current incarnation of an actor crash (an uncaught error),
   * hang (a busy loop) or run out of memory (allocating until its
   * `resourceLimits` end it), as a bug of its own would: for tests and
   * failure drills. Returns false when it is not running.
   */
  injectFault(id: string, fault: InjectedFault): boolean {
    const current = this.#cells.get(id)?.current;
    if (!(current instanceof ActorHost)) return false;
    current.post({ type: 'inject-fault', fault });
    return true;
  }

  /** The supervisor will not restart this actor (for now): its callers get ActorDownError at once. */
  markStopped(id: string, reason: ExitReason | string): void {
    const cell = this.#cells.get(id);
    if (cell === undefined || cell.current !== undefined) return;
    cell.stoppedWhy = typeof reason === 'string' ? reason : `stopped after ${describeExit(reason)}`;
    for (const sink of cell.sinks) sink.disconnect(true, cell.stoppedWhy);
  }

  /** Stops taking spawns, marks every actor stopped, ends standbys and waits until every thread is gone. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    for (const cell of this.#cells.values()) {
      cell.current?.kill();
      cell.current = undefined;
      cell.stoppedWhy = 'the runtime shut down';
      for (const sink of cell.sinks) sink.disconnect(true, cell.stoppedWhy);
    }
    await this.#standby.close();
    await Promise.all([...this.#hosts].map((host) => host.slot.terminate()));
  }

  #cell(id: string): Cell {
    let cell = this.#cells.get(id);
    if (cell === undefined) {
      cell = { id, incarnations: 0, current: undefined, stoppedWhy: undefined, sinks: new Set() };
      this.#cells.set(id, cell);
    }
    return cell;
  }

  #addSink(cell: Cell, sink: RefSink): void {
    cell.sinks.add(sink);
    if (cell.current !== undefined) this.#wire(cell.current, sink);
    else if (cell.stoppedWhy !== undefined) sink.disconnect(true, cell.stoppedWhy);
  }

  /** A channel of their own between one ref holder and one incarnation. */
  #wire(incarnation: Incarnation, sink: RefSink): void {
    const { port1, port2 } = new MessageChannel();
    incarnation.accept(port2);
    sink.connect(port1);
  }
}
