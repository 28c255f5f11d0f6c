/**
 * The caller's side of an actor: `ActorRef<Api>`. A ref addresses an actor
 * id, not one incarnation, so it survives restarts. Whoever owns the ref
 * (the host in the main thread, or the worker bootstrap for a peer ref)
 * tells it when an incarnation comes up (`connect`) or goes (`disconnect`).
 *
 * States:
 *  - connected: calls go out on the incarnation's port.
 *  - waiting:   the actor is starting or restarting; calls wait in a
 *               bounded stash and go to the next incarnation.
 *  - stopped:   the actor is not running and nothing will restart it;
 *               calls reject at once with ActorDownError.
 *
 * Every call settles: with the result, the handler's error, ActorDownError
 * when its incarnation dies with the call in flight, CallTimeoutError at its
 * deadline, StashFullError when too many wait, or MessageUnreadableError
 * when its call or its reply could not be read on arrival (see
 * IN_FLIGHT_METHOD in server.ts). Nothing stays pending.
 */
import type { MessagePort } from 'node:worker_threads';
import { Deadlines } from './deadlines.js';
import type { DeadlineLane } from './deadlines.js';
import { BatchingEndpoint } from './endpoint.js';
import {
  ActorDownError,
  CallTimeoutError,
  MessageUnreadableError,
  StashFullError,
  deserializeError,
} from './errors.js';
import type { SerializedError } from './errors.js';
import type { CallMessage } from './messages.js';
import { IN_FLIGHT_METHOD, UNREADABLE_NOTICE_ID } from './server.js';
import { MAX_CALL_ID } from './wire.js';
import type { PacketSink } from './wire.js';

// -------------------------------------------------------------- public types

/** The shape an actor's API has: named handlers. */
export type ApiShape = { [method: string]: (...args: never[]) => unknown };

export type MethodOf<Api> = Extract<keyof Api, string>;
export type ArgsOf<F> = F extends (...args: infer A) => unknown ? A : never;
export type ResultOf<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

export interface CallOptions {
  /** Deadline for this call; the ref's default otherwise. */
  timeoutMs?: number;
  /** W3C traceparent to carry; the current context's otherwise. */
  traceparent?: string;
}

export interface ActorRef<Api> {
  readonly id: string;
  /** Request/response: resolves with the handler's result. */
  call<K extends MethodOf<Api>>(method: K, ...args: ArgsOf<Api[K]>): Promise<ResultOf<Api[K]>>;
  /** `call` with a deadline or trace context of its own. */
  callWith<K extends MethodOf<Api>>(
    options: CallOptions,
    method: K,
    ...args: ArgsOf<Api[K]>
  ): Promise<ResultOf<Api[K]>>;
  /** Fire-and-forget. Waits in the stash like a call while the actor restarts; dropped when it is stopped. */
  cast<K extends MethodOf<Api>>(method: K, ...args: ArgsOf<Api[K]>): void;
  /** Casts dropped so far: sent while the actor was stopped for good, beyond the stash limit, or not cloneable. */
  readonly droppedCasts: number;
}

export interface RefOptions {
  /** Calls that may wait while the actor restarts (default 1000). */
  stashLimit?: number;
  /** Default per-call deadline in ms (default 5000, as OTP's gen_server:call). */
  callTimeoutMs?: number;
  /** Where the trace context of the caller comes from when a call does not give one. */
  currentTraceparent?: () => string;
}

export const REF_DEFAULTS = { stashLimit: 1000, callTimeoutMs: 5000 } as const;

// ------------------------------------------------------------ implementation

interface PendingCall {
  readonly id: number;
  readonly method: string;
  readonly timeoutMs: number;
  /** The connection it went out on; undefined while it waits in the stash. */
  connection: Connection | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Its deadline (see deadlines.ts); lane is undefined once it settled or expired. */
  due: number;
  lane: DeadlineLane | undefined;
}

interface StashedMessage {
  readonly message: CallMessage;
  /** Undefined for a cast. */
  readonly call: PendingCall | undefined;
}

interface Connection {
  readonly endpoint: BatchingEndpoint;
  readonly pending: Map<number, PendingCall>;
}

type RefState =
  { kind: 'connected'; connection: Connection } | { kind: 'waiting' } | { kind: 'stopped'; why: string };

const noTrace = (): string => '';

export class RefCore<Api> implements ActorRef<Api> {
  readonly id: string;
  readonly #stashLimit: number;
  readonly #callTimeoutMs: number;
  readonly #currentTraceparent: () => string;
  #state: RefState = { kind: 'waiting' };
  #stash: StashedMessage[] = [];
  #nextCallId = 1;
  #idsWrapped = false;
  #droppedCasts = 0;
  readonly #deadlines = new Deadlines<PendingCall>((call) => this.#expire(call));

  constructor(id: string, options: RefOptions = {}) {
    this.id = id;
    this.#stashLimit = options.stashLimit ?? REF_DEFAULTS.stashLimit;
    this.#callTimeoutMs = options.callTimeoutMs ?? REF_DEFAULTS.callTimeoutMs;
    this.#currentTraceparent = options.currentTraceparent ?? noTrace;
  }

  get state(): RefState['kind'] {
    return this.#state.kind;
  }

  /** Casts dropped because the actor was stopped or the stash was full. */
  get droppedCasts(): number {
    return this.#droppedCasts;
  }

  call<K extends MethodOf<Api>>(method: K, ...args: ArgsOf<Api[K]>): Promise<ResultOf<Api[K]>> {
    return this.#call(method, args, undefined) as Promise<ResultOf<Api[K]>>;
  }

  callWith<K extends MethodOf<Api>>(
    options: CallOptions,
    method: K,
    ...args: ArgsOf<Api[K]>
  ): Promise<ResultOf<Api[K]>> {
    return this.#call(method, args, options) as Promise<ResultOf<Api[K]>>;
  }

  cast<K extends MethodOf<Api>>(method: K, ...args: ArgsOf<Api[K]>): void {
    const state = this.#state;
    if (state.kind === 'connected') {
      state.connection.endpoint.sendCast(method, this.#currentTraceparent(), args);
    } else if (state.kind === 'waiting' && this.#stash.length < this.#stashLimit) {
      const message: CallMessage = { t: 'cast', m: method, a: args, tp: this.#currentTraceparent() };
      this.#stash.push({ message, call: undefined });
    } else {
      this.#droppedCasts += 1;
    }
  }

  #call(method: string, args: unknown[], options: CallOptions | undefined): Promise<unknown> {
    const state = this.#state;
    if (state.kind === 'stopped') {
      return Promise.reject(new ActorDownError(this.id, state.why));
    }
    if (state.kind === 'waiting' && this.#stash.length >= this.#stashLimit) {
      return Promise.reject(new StashFullError(this.id, this.#stashLimit));
    }
    const connection = state.kind === 'connected' ? state.connection : undefined;
    const id = this.#takeCallId(connection);
    const tp = options?.traceparent ?? this.#currentTraceparent();
    const timeoutMs = options?.timeoutMs ?? this.#callTimeoutMs;
    return new Promise((resolve, reject) => {
      const call: PendingCall = {
        id,
        method,
        timeoutMs,
        connection,
        resolve,
        reject,
        due: 0,
        lane: undefined,
      };
      this.#deadlines.add(call, timeoutMs);
      if (connection !== undefined) {
        connection.pending.set(id, call);
        connection.endpoint.sendCall(id, method, tp, args);
      } else {
        this.#stash.push({ message: { t: 'call', id, m: method, a: args, tp }, call });
      }
    });
  }

  /** The next call id (never 0, see UNREADABLE_NOTICE_ID); once ids wrapped, skipping any still pending. */
  #takeCallId(connection: Connection | undefined): number {
    let id = this.#nextCallId;
    if (this.#idsWrapped) {
      while (connection?.pending.has(id) === true) id = id >= MAX_CALL_ID ? 1 : id + 1;
    }
    if (id >= MAX_CALL_ID) {
      this.#nextCallId = 1;
      this.#idsWrapped = true;
    } else this.#nextCallId = id + 1;
    return id;
  }

  #expire(call: PendingCall): void {
    call.connection?.pending.delete(call.id);
    const stashed = this.#stash.findIndex((entry) => entry.call === call);
    if (stashed >= 0) this.#stash.splice(stashed, 1);
    call.reject(new CallTimeoutError(this.id, call.method, call.timeoutMs));
  }

  /** A new incarnation is up: calls go to it, starting with those that waited. */
  connect(port: MessagePort): void {
    this.#release();
    const sink: PacketSink = {
      call: ignore,
      cast: ignore,
      ok: (id, value) => this.#onOk(connection, id, value),
      err: (id, error) => this.#onErr(connection, id, error),
    };
    const connection: Connection = {
      pending: new Map(),
      endpoint: new BatchingEndpoint(
        port,
        sink,
        () => this.#onPortClosed(connection),
        (message, error) => this.#onUndeliverable(connection, message, error),
        (error) => this.#findLost(connection, error),
      ),
    };
    this.#state = { kind: 'connected', connection };
    const stash = this.#stash;
    this.#stash = [];
    for (const { message, call } of stash) {
      if (call !== undefined && message.t === 'call') {
        call.connection = connection;
        connection.pending.set(message.id, call);
      }
      connection.endpoint.send(message);
    }
  }

  /**
   * The incarnation is gone. New calls wait for the next one or, when
   * `stopped` (nothing will restart it), reject at once, as do those
   * waiting. Calls in flight settle at once as the incarnation left them: a
   * reply it sent before it ended is taken from the port (messages arrive
   * in order, so it is there already), every other call rejects with
   * ActorDownError. Waiting for the port's close instead would take as long
   * as the thread's teardown, or forever for a thread that was terminated.
   */
  disconnect(stopped: boolean, why: string): void {
    this.#endConnection(why);
    if (!stopped) {
      if (this.#state.kind !== 'waiting') this.#state = { kind: 'waiting' };
      return;
    }
    this.#state = { kind: 'stopped', why };
    const stash = this.#stash;
    this.#stash = [];
    for (const { call } of stash) {
      if (call === undefined) this.#droppedCasts += 1;
      else this.#settle(call, () => call.reject(new ActorDownError(this.id, why)));
    }
  }

  #endConnection(why: string): void {
    const state = this.#state;
    if (state.kind !== 'connected') return;
    this.#state = { kind: 'waiting' };
    state.connection.endpoint.drainAndClose();
    this.#failInFlight(state.connection, why);
  }

  /** Stops sending on the current connection; it drains until its port closes. */
  #release(): void {
    const state = this.#state;
    if (state.kind !== 'connected') return;
    this.#state = { kind: 'waiting' };
    // Nothing pending: close now rather than wait for the thread's end.
    if (state.connection.pending.size === 0) state.connection.endpoint.close();
  }

  #failInFlight(connection: Connection, why: string): void {
    const pending = [...connection.pending.values()];
    connection.pending.clear();
    for (const call of pending) this.#settle(call, () => call.reject(new ActorDownError(this.id, why)));
  }

  #onPortClosed(connection: Connection): void {
    // The other side's worker died (or closed its port) before the host told us.
    this.#failInFlight(connection, 'exited with the call in flight');
    const state = this.#state;
    if (state.kind === 'connected' && state.connection === connection) this.#state = { kind: 'waiting' };
  }

  #onOk(connection: Connection, id: number, value: unknown): void {
    const call = connection.pending.get(id);
    // No pending call: a late reply to a call that already timed out.
    if (call === undefined) return;
    connection.pending.delete(id);
    this.#deadlines.cancel(call);
    call.resolve(value);
  }

  #onErr(connection: Connection, id: number, error: SerializedError): void {
    if (id === UNREADABLE_NOTICE_ID) {
      // The actor could not read something we sent.
      this.#findLost(connection, deserializeError(error));
      return;
    }
    const call = connection.pending.get(id);
    if (call === undefined) return;
    connection.pending.delete(id);
    this.#settle(call, () => call.reject(deserializeError(error)));
  }

  /**
   * A packet on this connection could not be read (here, or by the actor). Asks
   * the actor which calls it is still running; once it answers (after every
   * reply it sent before, ports keep order), each call sent before the question
   * that is neither answered nor running was lost with that packet, and fails.
   */
  #findLost(connection: Connection, cause: unknown): void {
    const asked = [...connection.pending.entries()].filter(([, call]) => call.method !== IN_FLIGHT_METHOD);
    if (asked.length === 0) return;
    const id = this.#takeCallId(connection);
    const judge = (running: unknown): void => {
      const stillRunning = new Set(Array.isArray(running) ? running : []);
      for (const [callId, call] of asked) {
        if (connection.pending.get(callId) !== call || stillRunning.has(callId)) continue;
        connection.pending.delete(callId);
        this.#settle(call, () => call.reject(new MessageUnreadableError(this.id, call.method, { cause })));
      }
    };
    // If the question gets no answer (the actor ends, or is stuck), each call still has its own deadline.
    const question: PendingCall = {
      id,
      method: IN_FLIGHT_METHOD,
      timeoutMs: this.#callTimeoutMs,
      connection,
      resolve: judge,
      reject: () => undefined,
      due: 0,
      lane: undefined,
    };
    this.#deadlines.add(question, this.#callTimeoutMs);
    connection.pending.set(id, question);
    connection.endpoint.sendCall(id, IN_FLIGHT_METHOD, '', []);
  }

  #onUndeliverable(connection: Connection, message: CallMessage, error: unknown): void {
    if (message.t !== 'call') {
      this.#droppedCasts += 1;
      return;
    }
    const call = connection.pending.get(message.id);
    if (call === undefined) return;
    connection.pending.delete(message.id);
    this.#settle(call, () => call.reject(error));
  }

  #settle(call: PendingCall, how: () => void): void {
    this.#deadlines.cancel(call);
    how();
  }
}

function ignore(): void {}
