/**
 * The actor's side of calls: serves every port a ref holder was given,
 * runs the named handler, and replies. A handler's error goes back to the
 * caller (code, stack and cause kept); it does not crash the actor.
 */
import type { MessagePort } from 'node:worker_threads';
import { BatchingEndpoint } from './endpoint.js';
import { MessageUnreadableError, TetherError, UnknownMethodError, serializeError } from './errors.js';
import type { ApiShape } from './ref.js';

export type AnyHandler = (...args: unknown[]) => unknown;

/**
 * Runs a handler in the trace context of the message that asked for it
 * (`traceparent`, '' for none): the runtime's own store without telemetry,
 * OpenTelemetry's context with it. One store per thread, one switch per
 * message: each AsyncLocalStorage run costs on every message.
 */
export type TraceScope = (traceparent: string, handler: AnyHandler, args: unknown[]) => unknown;

/**
 * When a packet cannot be read on arrival (`messageerror`), neither side
 * knows which messages it held. The side that could not read tells the other
 * (a server sends an `err` with this id, which no call has), and the ref
 * then asks the server which of its calls are still running, with a call of
 * the method below. Ports deliver in order, so when the answer arrives every
 * call sent before the question that is neither answered nor running was
 * lost, and fails with MessageUnreadableError; the others are left alone.
 */
export const UNREADABLE_NOTICE_ID = 0;
/** Not a handler name anyone can define: handlers are looked up as own properties. */
export const IN_FLIGHT_METHOD = '\u0000in-flight';

export class CallServer {
  readonly #actorId: string;
  readonly #handlers: ApiShape;
  readonly #inTrace: TraceScope;
  readonly #onCastError: (method: string, error: unknown) => void;
  readonly #endpoints = new Set<BatchingEndpoint>();

  constructor(
    actorId: string,
    handlers: ApiShape,
    inTrace: TraceScope,
    onCastError: (method: string, error: unknown) => void,
  ) {
    this.#actorId = actorId;
    this.#handlers = handlers;
    this.#inTrace = inTrace;
    this.#onCastError = onCastError;
  }

  accept(port: MessagePort): void {
    /** Calls whose handler has not settled yet, for a ref that lost a packet (see IN_FLIGHT_METHOD). */
    const running = new Set<number>();
    const endpoint: BatchingEndpoint = new BatchingEndpoint(
      port,
      {
        call: (id, method, tp, args) => {
          if (method === IN_FLIGHT_METHOD) endpoint.sendOk(id, [...running]);
          else this.#serveCall(endpoint, running, id, method, args, tp);
        },
        cast: (method, tp, args) => this.#serveCast(method, args, tp),
        ok: ignore,
        err: ignore,
      },
      () => this.#endpoints.delete(endpoint),
      (message, error) => {
        // The handler returned something that cannot cross a thread (a function, say).
        if (message.t === 'ok') {
          const why = new TetherError('TETHER_REPLY_NOT_CLONEABLE', 'the handler result cannot be cloned', {
            cause: error,
          });
          endpoint.sendErr(message.id, serializeError(why));
        }
      },
      (error) => {
        // Calls or casts from this ref were lost: say so in the log, and tell the ref, which finds out which.
        this.#onCastError('(a message that could not be read)', error);
        const notice = new MessageUnreadableError(this.#actorId, '(unknown)', { cause: error });
        endpoint.sendErr(UNREADABLE_NOTICE_ID, serializeError(notice));
      },
    );
    this.#endpoints.add(endpoint);
  }

  closeAll(): void {
    for (const endpoint of this.#endpoints) endpoint.close();
    this.#endpoints.clear();
  }

  #lookup(method: string): AnyHandler | undefined {
    if (!Object.hasOwn(this.#handlers, method)) return undefined;
    const handler = this.#handlers[method];
    return typeof handler === 'function' ? (handler as AnyHandler) : undefined;
  }

  #serveCall(
    endpoint: BatchingEndpoint,
    running: Set<number>,
    id: number,
    method: string,
    args: unknown[],
    tp: string,
  ): void {
    const handler = this.#lookup(method);
    if (handler === undefined) {
      endpoint.sendErr(id, serializeError(new UnknownMethodError(this.#actorId, method)));
      return;
    }
    let result: unknown;
    try {
      result = this.#inTrace(tp, handler, args);
    } catch (error) {
      endpoint.sendErr(id, serializeError(error));
      return;
    }
    if (isThenable(result)) {
      running.add(id);
      result.then(
        (value) => {
          running.delete(id);
          endpoint.sendOk(id, value);
        },
        (error: unknown) => {
          running.delete(id);
          endpoint.sendErr(id, serializeError(error));
        },
      );
    } else {
      endpoint.sendOk(id, result);
    }
  }

  #serveCast(method: string, args: unknown[], tp: string): void {
    const handler = this.#lookup(method);
    if (handler === undefined) {
      this.#onCastError(method, new UnknownMethodError(this.#actorId, method));
      return;
    }
    try {
      const result = this.#inTrace(tp, handler, args);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.#onCastError(method, error));
    } catch (error) {
      this.#onCastError(method, error);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

function ignore(): void {}
