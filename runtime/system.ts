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
import {
  ActorIgnoredError,
  AlreadyStartedError,
  InvalidChildSpecError,
  RuntimeClosedError,
  serializeError,
} from './errors.js';
import type { NameHolder } from './errors.js';
import { CallServer } from './server.js';
import type { ExitReason } from './exit-reason.js';
import { describeExit } from './exit-reason.js';
import { ActorHost, HEARTBEAT_FLOORS, heartbeatBelowFloor } from './host.js';
import type { HeartbeatOptions, Shutdown } from './host.js';
import type { Logger } from './logger.js';
import { createLogger } from './logger.js';
import { REF_DEFAULTS, RefCore } from './ref.js';
import type { ActorRef, ApiShape } from './ref.js';
import type { InjectedFault } from './messages.js';
import { StandbyPool } from './standby.js';
import { PoolIncarnation, PoolRefCore, checkPoolModule } from './pool.js';
import type { PoolRef, PoolSpec } from './pool.js';
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
  /** Who starts it, for AlreadyStartedError and `whereis` (a supervisor gives its id); default spawn. */
  holder?: NameHolder;
  /** Arguments for `ctx.args` (a simple_one_for_one child's); default []. */
  args?: readonly unknown[];
  /** How long a `system.exit(ref, 'shutdown')` lets it run terminate before killing it (default 5000 ms). */
  shutdown?: Shutdown;
}

/** What it takes to run one pool (see runtime/pool.ts). */
export interface PoolStartSpec extends PoolSpec {
  /** Who starts it, for AlreadyStartedError and `whereis`; default spawn. */
  holder?: NameHolder;
}

/** Why a monitored incarnation is gone: its exit reason, or noproc when there was none to monitor. */
export type DownReason = ExitReason | { kind: 'noproc' };

/** The one notification a monitor gives (OTP's 'DOWN' message). */
export interface DownNotice {
  id: string;
  /** The incarnation that ended; undefined with noproc. */
  incarnation: number | undefined;
  reason: DownReason;
}

export interface ActorMonitor {
  readonly id: string;
  /** The incarnation watched; undefined when none was running (the notice is then noproc). */
  readonly incarnation: number | undefined;
  /** No notification after this; true when one was still to come. */
  demonitor(): boolean;
}

/**
 * An exit signal from outside (OTP's exit(Pid, Reason)): 'kill' ends the
 * actor at once (killed, terminate not run); 'shutdown' or `{ shutdown:
 * term }` stops it in order (terminate runs, within its shutdown timeout);
 * 'normal' does nothing, as in OTP for a process that does not trap exits;
 * `{ error: term }` (or any other value) ends it at once, terminate not
 * run, with the abnormal reason `{ kind: 'exit', term }`.
 */
export type ExitSignal = 'kill' | 'normal' | 'shutdown' | { shutdown: unknown } | { error: unknown };

/** Who holds a name now, and which incarnation answers for it (0 for a service in the main thread). */
export interface NameInfo {
  holder: NameHolder;
  incarnation: number;
}

/** Something that holds a ref to an actor id and must follow its incarnations. */
interface RefSink {
  connect(port: MessagePort): void;
  disconnect(stopped: boolean, why: string): void;
}

/** What currently answers for an id: a worker incarnation, or a service in this thread. */
interface Incarnation {
  /** False from the moment it ends (a kill ends it at once), before the system hears of it. */
  readonly running: boolean;
  /** Resolves once, with why it ended. */
  readonly exited: Promise<ExitReason>;
  accept(port: MessagePort): void;
  kill(): void;
}

/** A name taken: by an incarnation from the moment its start begins, or by a service. */
interface Claim extends NameInfo {
  readonly by: Incarnation;
  readonly shutdown: Shutdown;
}

/** Everything about one actor id that outlives its incarnations. */
interface Cell {
  readonly id: string;
  incarnations: number;
  current: Incarnation | undefined;
  /** Who holds the name; an incarnation that has ended holds it no more, whether or not this was cleared yet. */
  claim: Claim | undefined;
  /** Why the actor is not running and will not be restarted; undefined while it is or may be. */
  stoppedWhy: string | undefined;
  readonly sinks: Set<RefSink>;
  /** Gone for good (see `forget`): dropped from the map as soon as nothing holds a ref to it. */
  forgotten: boolean;
  /** Last started as a pool: it takes tasks (system.pool), and an actor ref to it refuses calls at once. */
  pool: boolean;
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
  readonly #shutdownHooks = new Set<() => void>();
  /** One PoolRef per pool id in this thread, as for actor refs. */
  readonly #poolRefs = new Map<string, PoolRefCore>();
  /** The pool incarnation that answers for each id now. */
  readonly #pools = new Map<string, PoolIncarnation>();
  /** Every pool incarnation whose threads are not all gone yet (shutdown waits for them). */
  readonly #livePools = new Set<PoolIncarnation>();
  /**
   * Names let go by `forget`, with why, most recent last: a ref taken to one
   * of them afterwards rejects at once instead of waiting for a holder that
   * will not come. Bounded (GONE_NAMES_KEPT); a name started again leaves it.
   */
  readonly #gone = new Map<string, string>();
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
      const gone = this.#gone.get(id);
      if (gone !== undefined) {
        // Gone for good: a ref of its own that rejects at once, and nothing kept for it.
        ref.disconnect(true, gone);
        return ref as unknown as ActorRef<Api>;
      }
      // A pool's name gives a ref that refuses at once (see #addSink).
      this.#mainRefs.set(id, ref);
      this.#addSink(this.#cell(id), ref);
    }
    return ref as unknown as ActorRef<Api>;
  }

  /**
   * A ref to a pool id, valid across its restarts (see runtime/pool.ts for
   * how its tasks settle). One per id in the main thread.
   */
  pool<Task = unknown, Result = unknown>(id: string): PoolRef<Task, Result> {
    let ref = this.#poolRefs.get(id);
    if (ref === undefined) {
      ref = new PoolRefCore(id, { waitMs: this.#options.callTimeoutMs, waitLimit: this.#options.stashLimit });
      const gone = this.#gone.get(id);
      if (gone !== undefined) {
        ref.disconnect(true, gone);
        return ref as unknown as PoolRef<Task, Result>;
      }
      this.#poolRefs.set(id, ref);
      const current = this.#pools.get(id);
      const stoppedWhy = this.#cells.get(id)?.stoppedWhy;
      if (current?.running === true) ref.connect(current);
      else if (stoppedWhy !== undefined) ref.disconnect(true, stoppedWhy);
    }
    return ref as unknown as PoolRef<Task, Result>;
  }

  /**
   * Starts a new incarnation of a pool (a piscina instance) under `spec.id`,
   * a name like an actor's. Its module must exist; its threads start as
   * minThreads says, the others when tasks come.
   */
  async startPool(spec: PoolStartSpec): Promise<PoolIncarnation> {
    if (this.#closed) throw new RuntimeClosedError();
    const cell = this.#cell(spec.id);
    this.#assertFree(cell);
    await checkPoolModule(spec.id, spec.module);
    // Checked again: the name may have been taken, or the runtime closed, during the check.
    if (this.#closed) throw new RuntimeClosedError();
    this.#assertFree(cell);
    this.#gone.delete(spec.id);
    cell.stoppedWhy = undefined;
    cell.forgotten = false;
    cell.incarnations += 1;
    cell.pool = true;
    // Actor refs taken to this name before it was a pool's (in this thread or in a worker) wait no longer.
    for (const sink of cell.sinks) sink.disconnect(true, poolNotActor(spec.id));
    const pool = new PoolIncarnation(spec, cell.incarnations);
    cell.claim = {
      holder: spec.holder ?? { kind: 'spawn' },
      incarnation: cell.incarnations,
      by: pool,
      shutdown: spec.shutdown,
    };
    this.#pools.set(spec.id, pool);
    this.#livePools.add(pool);
    this.#poolRefs.get(spec.id)?.connect(pool);
    void pool.exited.then((reason) => {
      this.#livePools.delete(pool);
      if (cell.claim?.by === pool) cell.claim = undefined;
      if (this.#pools.get(spec.id) !== pool) return;
      this.#pools.delete(spec.id);
      // Until the supervisor decides, tasks wait for a next incarnation.
      this.#poolRefs.get(spec.id)?.disconnect(false, describeExit(reason));
      this.#collect(cell);
    });
    return pool;
  }

  /** The state of the pool running under `id` now; undefined when none runs. */
  poolStatus(id: string): ReturnType<PoolIncarnation['status']> | undefined {
    const pool = this.#pools.get(id);
    return pool?.running === true ? pool.status() : undefined;
  }

  /**
   * Starts a new incarnation of an actor and resolves once its init has run.
   * Its refs are connected before this resolves. Its init runs in the trace
   * context given, or the current one of this thread.
   */
  async spawn(spec: ActorSpec, traceparent = this.#options.currentTraceparent()): Promise<ActorHost> {
    if (this.#closed) throw new RuntimeClosedError();
    checkHeartbeatFloor(spec);
    const cell = this.#cell(spec.id);
    this.#assertFree(cell);
    this.#gone.delete(spec.id);
    cell.stoppedWhy = undefined;
    cell.forgotten = false;
    cell.pool = false;
    cell.incarnations += 1;
    const { slot, started } = this.#standby.take({
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
        args: spec.args ?? [],
        heartbeat: spec.heartbeat,
        startTimeoutMs: spec.startTimeoutMs,
        traceparent,
      },
      this.logger,
      {
        onWantPeer: (peerId) => {
          const sink: RefSink = {
            connect: (port) => host.post({ type: 'peer-up', peerId, port }),
            disconnect: (stopped, why) => host.post({ type: 'peer-down', peerId, stopped, why }),
          };
          const gone = this.#gone.get(peerId);
          if (gone !== undefined) {
            sink.disconnect(true, gone);
            return;
          }
          const peerCell = this.#cell(peerId);
          heldPeers.push({ cell: peerCell, sink });
          this.#addSink(peerCell, sink);
        },
        onHeartbeat: (rttMs) => this.#telemetry.onHeartbeat?.(spec.id, rttMs),
        onTelemetry: (payload) => this.#telemetry.onWorkerTelemetry?.(spec.id, payload),
      },
    );
    this.#hosts.add(host);
    // Taken before the first await, so two starts of one name cannot both pass the check.
    cell.claim = {
      holder: spec.holder ?? { kind: 'spawn' },
      incarnation: cell.incarnations,
      by: host,
      shutdown: spec.shutdown ?? DEFAULT_EXIT_SHUTDOWN_MS,
    };
    void host.exited.then((reason) => {
      if (cell.claim?.by === host) cell.claim = undefined;
      for (const { cell: peerCell, sink } of heldPeers) {
        peerCell.sinks.delete(sink);
        this.#collect(peerCell);
      }
      if (cell.current === host) {
        cell.current = undefined;
        // Until the supervisor decides, callers wait for a next incarnation.
        for (const sink of cell.sinks) sink.disconnect(false, describeExit(reason));
      }
      void host.slot.gone.then(() => this.#hosts.delete(host));
    });
    let outcome: 'ready' | 'ignored';
    try {
      outcome = await host.start();
    } catch (error) {
      started();
      throw error;
    }
    if (outcome === 'ignored') {
      started();
      throw new ActorIgnoredError(spec.id);
    }
    cell.current = host;
    for (const sink of cell.sinks) this.#wire(host, sink);
    // Only now may a replacement standby load: it would compete with this start.
    started();
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
    this.#assertFree(cell);
    this.#gone.delete(id);
    const server = new CallServer(id, handlers, untraced, (method, error) =>
      this.logger.error({ actor: id, method, err: serializeError(error) }, 'cast failed'),
    );
    const local: LocalService = new LocalService(server, () => {
      // At once, not a turn later: a call made right after close() must already see it stopped.
      if (cell.claim?.by === local) cell.claim = undefined;
      this.markStopped(id, 'closed');
    });
    cell.stoppedWhy = undefined;
    cell.forgotten = false;
    cell.pool = false;
    cell.current = local;
    cell.claim = { holder: { kind: 'serve' }, incarnation: 0, by: local, shutdown: 0 };
    for (const sink of cell.sinks) this.#wire(local, sink);
    return { close: () => local.end({ kind: 'shutdown' }) };
  }

  /**
   * Watches the incarnation that holds `target` now (OTP's monitor): `onDown`
   * is called exactly once, with the exit reason, when that incarnation ends
   * (a restart is a new incarnation: watch it with a new monitor), or at once
   * with reason noproc when none holds the name. Never synchronously.
   */
  monitor(target: string | { readonly id: string }, onDown: (notice: DownNotice) => void): ActorMonitor {
    const id = typeof target === 'string' ? target : target.id;
    const claim = this.#cells.get(id)?.claim;
    const watched = claim !== undefined && claim.by.running ? claim : undefined;
    let active = true;
    const fire = (reason: DownReason): void => {
      if (!active) return;
      active = false;
      try {
        onDown({ id, incarnation: watched?.incarnation, reason });
      } catch (error) {
        this.logger.error({ actor: id, err: serializeError(error) }, 'a monitor callback threw');
      }
    };
    if (watched === undefined) queueMicrotask(() => fire({ kind: 'noproc' }));
    else void watched.by.exited.then(fire);
    return {
      id,
      incarnation: watched?.incarnation,
      demonitor: () => {
        const was = active;
        active = false;
        return was;
      },
    };
  }

  /**
   * Sends an exit signal to the incarnation holding `target` (OTP's
   * exit(Pid, Reason); see ExitSignal for what each reason does). Its
   * supervisor sees the exit as any other. Returns false when nothing holds
   * the name or the signal does nothing ('normal').
   */
  exit(target: string | { readonly id: string }, reason: ExitSignal): boolean {
    const id = typeof target === 'string' ? target : target.id;
    const claim = this.#cells.get(id)?.claim;
    if (claim === undefined || !claim.by.running || (reason as unknown) === 'normal') return false;
    const by = claim.by;
    if (by instanceof LocalService) {
      by.end(exitReasonOf(reason));
      return true;
    }
    if (by instanceof PoolIncarnation) {
      if (reason === 'kill') by.kill();
      else if (reason === 'shutdown' || isShutdownTerm(reason)) void by.stop(claim.shutdown);
      else by.exitWith(exitReasonOf(reason));
      return true;
    }
    if (!(by instanceof ActorHost)) return false;
    if (reason === 'kill') by.kill();
    else if (reason === 'shutdown') void by.stop(claim.shutdown);
    else if (isShutdownTerm(reason)) void by.stop(claim.shutdown, reason.shutdown);
    else by.exitWith(exitReasonOf(reason));
    return true;
  }

  /**
   * The name is gone for good (a dynamic child removed): its callers get
   * ActorDownError at once, and its entry is dropped as soon as no actor
   * holds a ref to it. Refs taken to it afterwards reject at once too (the
   * last GONE_NAMES_KEPT names are remembered), until it is started again.
   */
  forget(id: string, why: string): void {
    const cell = this.#cells.get(id);
    if (cell === undefined || (cell.claim !== undefined && cell.claim.by.running)) return;
    this.markStopped(id, why);
    cell.forgotten = true;
    this.#gone.set(id, cell.stoppedWhy ?? why);
    // Bounded: the oldest are let go (a ref to one of them waits for a new holder, as for any unknown name).
    for (const oldest of this.#gone.keys()) {
      if (this.#gone.size <= GONE_NAMES_KEPT) break;
      this.#gone.delete(oldest);
    }
    const ref = this.#mainRefs.get(id);
    if (ref !== undefined) {
      this.#mainRefs.delete(id);
      cell.sinks.delete(ref);
    }
    this.#poolRefs.delete(id);
    this.#collect(cell);
  }

  /** How many names, main-thread refs and worker incarnations the system holds (for leak checks). */
  census(): { names: number; refs: number; incarnations: number; pools: number } {
    return {
      names: this.#cells.size,
      refs: this.#mainRefs.size + this.#poolRefs.size,
      incarnations: this.#hosts.size,
      pools: this.#livePools.size,
    };
  }

  /** Who holds a name now (OTP's whereis), or undefined when it is free. */
  whereis(id: string): NameInfo | undefined {
    const claim = this.#cells.get(id)?.claim;
    if (claim === undefined || !claim.by.running) return undefined;
    return { holder: claim.holder, incarnation: claim.incarnation };
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

  /**
   * The supervisor will not restart this actor (for now): its callers get
   * ActorDownError at once. An incarnation that has just been killed counts
   * as gone already, though the system hears of its end only a moment later.
   */
  markStopped(id: string, reason: ExitReason | string): void {
    const cell = this.#cells.get(id);
    if (cell === undefined) return;
    if (cell.current !== undefined) {
      if (cell.current.running) return;
      cell.current = undefined;
    }
    if (this.#pools.get(id)?.running === true) return;
    cell.stoppedWhy = typeof reason === 'string' ? reason : `stopped after ${describeExit(reason)}`;
    // Actor refs to a pool's name keep the reason that matters to them: it is a pool.
    const why = cell.pool ? poolNotActor(id) : cell.stoppedWhy;
    for (const sink of cell.sinks) sink.disconnect(true, why);
    this.#poolRefs.get(id)?.disconnect(true, cell.stoppedWhy);
  }

  /**
   * Runs `hook` when the runtime shuts down, before its actors are ended (a
   * supervisor kills itself there, so nothing tries to restart them).
   * Returns a function that removes the hook.
   */
  onShutdown(hook: () => void): () => void {
    this.#shutdownHooks.add(hook);
    return () => this.#shutdownHooks.delete(hook);
  }

  /** Stops taking spawns, marks every actor stopped, ends standbys and waits until every thread is gone. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    // Supervisors first: killed, they stop restarting and release their timers.
    for (const hook of [...this.#shutdownHooks]) hook();
    this.#shutdownHooks.clear();
    for (const cell of this.#cells.values()) {
      cell.current?.kill();
      cell.current = undefined;
      cell.stoppedWhy = 'the runtime shut down';
      for (const sink of cell.sinks) sink.disconnect(true, cell.stoppedWhy);
    }
    for (const ref of this.#poolRefs.values()) ref.disconnect(true, 'the runtime shut down');
    for (const pool of this.#livePools) pool.kill();
    await this.#standby.close();
    await Promise.all([
      ...[...this.#hosts].map((host) => host.slot.terminate()),
      ...[...this.#livePools].map((pool) => pool.exited),
    ]);
  }

  #cell(id: string): Cell {
    let cell = this.#cells.get(id);
    if (cell === undefined) {
      cell = {
        id,
        incarnations: 0,
        current: undefined,
        claim: undefined,
        stoppedWhy: undefined,
        sinks: new Set(),
        forgotten: false,
        pool: false,
      };
      this.#cells.set(id, cell);
    }
    return cell;
  }

  /** Drops a forgotten name once nothing holds it or a ref to it. */
  #collect(cell: Cell): void {
    if (!cell.forgotten || cell.sinks.size > 0 || cell.current !== undefined) return;
    if (this.#pools.has(cell.id)) return;
    if (cell.claim !== undefined && cell.claim.by.running) return;
    if (this.#cells.get(cell.id) === cell) this.#cells.delete(cell.id);
  }

  /** A name is started by one holder at a time: a second start would rewire every ref to it. */
  #assertFree(cell: Cell): void {
    const claim = cell.claim;
    if (claim !== undefined && claim.by.running) {
      throw new AlreadyStartedError(cell.id, claim.holder, claim.incarnation);
    }
  }

  #addSink(cell: Cell, sink: RefSink): void {
    cell.sinks.add(sink);
    // Kept in the set all the same: if the name is later an actor's, the ref is wired to it.
    if (cell.pool) sink.disconnect(true, poolNotActor(cell.id));
    else if (cell.current !== undefined) this.#wire(cell.current, sink);
    else if (cell.stoppedWhy !== undefined) sink.disconnect(true, cell.stoppedWhy);
  }

  /** A channel of their own between one ref holder and one incarnation. */
  #wire(incarnation: Incarnation, sink: RefSink): void {
    const { port1, port2 } = new MessageChannel();
    incarnation.accept(port2);
    sink.connect(port1);
  }
}

/**
 * Why an actor ref to a pool's name refuses its calls: a pool takes tasks,
 * not calls, so nothing would ever answer (and the call would wait for its
 * deadline). In this thread and in workers alike.
 */
function poolNotActor(id: string): string {
  return `"${id}" is a pool: run tasks through system.pool("${id}")`;
}

/** The supervisors check the floors in the spec; a direct spawn is held to them here. */
function checkHeartbeatFloor(spec: ActorSpec): void {
  if (spec.heartbeat === false) return;
  const field = heartbeatBelowFloor(spec.heartbeat);
  if (field === undefined) return;
  throw new InvalidChildSpecError(
    `heartbeat.${field} ${spec.heartbeat[field]} is below the floor of ${HEARTBEAT_FLOORS[field]} ms`,
    `heartbeat.${field}`,
    { childId: spec.id },
  );
}

/** How many names let go by `forget` are remembered as gone (a few dozen kB at most). */
const GONE_NAMES_KEPT = 1024;

/** Shutdown timeout of an exit signal to an actor spawned without one. */
const DEFAULT_EXIT_SHUTDOWN_MS = 5000;

/** A service served from the main thread, as an incarnation: it ends when closed (or sent an exit). */
class LocalService implements Incarnation {
  readonly exited: Promise<ExitReason>;
  readonly #server: CallServer;
  readonly #onEnd: () => void;
  #resolve!: (reason: ExitReason) => void;
  #running = true;

  constructor(server: CallServer, onEnd: () => void) {
    this.#server = server;
    this.#onEnd = onEnd;
    this.exited = new Promise((resolve) => (this.#resolve = resolve));
  }

  get running(): boolean {
    return this.#running;
  }

  accept(port: MessagePort): void {
    this.#server.accept(port);
  }

  kill(): void {
    this.end({ kind: 'killed' });
  }

  end(reason: ExitReason): void {
    if (!this.#running) return;
    this.#running = false;
    this.#server.closeAll();
    this.#onEnd();
    this.#resolve(reason);
  }
}

function isShutdownTerm(reason: unknown): reason is { shutdown: unknown } {
  return (
    typeof reason === 'object' &&
    reason !== null &&
    Object.keys(reason).length === 1 &&
    Object.hasOwn(reason, 'shutdown')
  );
}

function exitReasonOf(signal: unknown): ExitReason {
  if (signal === 'kill') return { kind: 'killed' };
  if (signal === 'shutdown') return { kind: 'shutdown' };
  if (isShutdownTerm(signal)) return { kind: 'shutdown', term: signal.shutdown };
  return { kind: 'exit', term: errorTermOf(signal) };
}

/** The term of `{ error: term }`; any other value (from untyped code) is a term itself, as in OTP. */
function errorTermOf(signal: unknown): unknown {
  if (
    typeof signal === 'object' &&
    signal !== null &&
    Object.keys(signal).length === 1 &&
    Object.hasOwn(signal, 'error')
  ) {
    return (signal as { error: unknown }).error;
  }
  return signal;
}
