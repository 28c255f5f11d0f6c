/**
 * OpenTelemetry context managers of our own, small enough to keep here
 * rather than depend on @opentelemetry/context-async-hooks.
 *
 * AsyncLocalContextManager: the context of the message a handler serves
 * follows it across its awaits, so an actor's spans join the caller's trace
 * wherever they are made. The default in workers (ActorOptions.traceContext).
 *
 * SyncContextManager: a stack of `with` calls (as the web SDK's
 * StackContextManager). The main thread's, and a hot actor's that asks for
 * it: code there passes contexts explicitly (the observer starts every span
 * with its parent; a call picks up the active span when it is made), so
 * nothing needs a context to follow an await, and an AsyncLocalStorage would
 * make every promise and callback of the thread (kernel, API, exporter; in
 * the benches the simulator) pay its hooks.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { Context, ContextManager } from '@opentelemetry/api';

export class AsyncLocalContextManager implements ContextManager {
  #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const callback = thisArg === undefined ? fn : fn.bind(thisArg);
    return this.#storage.run(context, callback, ...args);
  }

  bind<T>(context: Context, target: T): T {
    return bindTo(this, context, target);
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    this.#storage = new AsyncLocalStorage<Context>();
    return this;
  }
}

export class SyncContextManager implements ContextManager {
  #current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.#current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const previous = this.#current;
    this.#current = context;
    try {
      return fn.apply(thisArg, args);
    } finally {
      this.#current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    return bindTo(this, context, target);
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#current = ROOT_CONTEXT;
    return this;
  }
}

/** `target` (if a function) made to run in `context` whenever it is called. */
function bindTo<T>(manager: ContextManager, context: Context, target: T): T {
  if (typeof target !== 'function') return target;
  const run = (...args: unknown[]): unknown =>
    manager.with(context, () => (target as (...a: unknown[]) => unknown)(...args));
  return run as T;
}
