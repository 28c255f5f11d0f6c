/**
 * What an actor is: a module whose default export is `defineActor(...)`.
 *
 *   export default defineActor(async (ctx: ActorContext<CounterConfig>) => {
 *     let count = ctx.config.start;
 *     return {
 *       handlers: { add: (n: number) => (count += n) },
 *       terminate: () => ctx.log.info('bye'),
 *     };
 *   });
 *   export type CounterApi = ApiOf<typeof import('./counter.js').default>;
 *
 * `init` runs once per incarnation, in the actor's own worker; the state
 * lives in its closure. Handlers run as their messages arrive: a synchronous
 * handler runs to completion before the next message, an async one may
 * interleave with others at its awaits (as any JavaScript does).
 */
import type { ActorRef, ApiShape } from './ref.js';
import type { LogLevel } from './messages.js';

export type ExitKind = 'normal' | 'shutdown';

/**
 * How an actor may end itself: normal, shutdown, or shutdown with a term
 * (OTP's `{shutdown, Term}`; the term must be structured-cloneable). None
 * is a failure. To fail, throw.
 */
export type SelfExit = ExitKind | { shutdown: unknown };

export interface ActorLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface ActorContext<Config = unknown> {
  /** The child id in the supervision tree; the same for every incarnation. */
  readonly id: string;
  /** Counts incarnations of this id, from 1. */
  readonly incarnation: number;
  /** The child spec's config, structured-cloned into the worker. */
  readonly config: Config;
  /**
   * The arguments this child was started with by `startChild(args)` of a
   * simple_one_for_one supervisor (OTP's ExtraArgs), the same for each of its
   * incarnations; empty for any other child.
   */
  readonly args: readonly unknown[];
  readonly log: ActorLogger;
  /** A ref to another actor by id; it follows that actor across its restarts. */
  ref<Api>(peerId: string): ActorRef<Api>;
  /** The W3C traceparent of the message being handled ('' outside a handler or when none came). */
  traceparent(): string;
  /**
   * Ends this incarnation with reason normal (the default), shutdown, or
   * `{ shutdown: term }`, after running terminate. None is a failure: a
   * transient child stays stopped, a permanent one is restarted.
   */
  exit(reason?: SelfExit): void;
}

export interface ActorInstance<Api extends ApiShape> {
  readonly handlers: Api;
  /** Runs on an orderly stop, within the child's shutdown timeout. */
  terminate?(reason: ExitKind): void | Promise<void>;
}

/**
 * How far the trace context of a message follows its handler when
 * telemetry is on:
 * - 'async' (the default): across the handler's awaits, timers and
 *   callbacks, so spans made and calls sent anywhere in it join the
 *   caller's trace. It takes an AsyncLocalStorage, whose hooks cost on
 *   every promise the thread makes.
 * - 'sync': the handler's synchronous run only. For an actor on a hot path
 *   whose handlers start their spans before their first await and pass a
 *   span explicitly after it (the commander does).
 */
export type TraceContextMode = 'async' | 'sync';

export interface ActorOptions {
  traceContext?: TraceContextMode;
}

/**
 * What init may return instead of an instance: OTP's `ignore`. The child is
 * not started and, under a supervisor, is kept as not running (a temporary
 * child or a dynamic one is not kept at all). Not a failure.
 */
export type Ignore = 'ignore';

export type InitResult<Api extends ApiShape> = ActorInstance<Api> | Ignore;

export interface ActorDefinition<Api extends ApiShape, Config = unknown> {
  readonly kind: 'tether.actor';
  init(ctx: ActorContext<Config>): InitResult<Api> | Promise<InitResult<Api>>;
  readonly traceContext: TraceContextMode;
}

export function defineActor<Api extends ApiShape, Config = unknown>(
  init: (ctx: ActorContext<Config>) => InitResult<Api> | Promise<InitResult<Api>>,
  options: ActorOptions = {},
): ActorDefinition<Api, Config> {
  return { kind: 'tether.actor', init, traceContext: options.traceContext ?? 'async' };
}

/** The API type of an actor definition, for `ActorRef<ApiOf<typeof actor>>`. */
export type ApiOf<D> = D extends ActorDefinition<infer Api, infer _Config> ? Api : never;

export function isActorDefinition(value: unknown): value is ActorDefinition<ApiShape> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'tether.actor' &&
    typeof (value as { init?: unknown }).init === 'function'
  );
}

export type { LogLevel };
