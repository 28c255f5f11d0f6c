/**
 * The entry for actor modules: what code running inside an actor's worker
 * needs (defineActor, the types of its context and refs, the error classes),
 * and nothing else. The full entry (`index.ts`) also loads the system, the
 * supervisors' plumbing and the logger (pino), which a worker never uses but
 * would pay for in memory and start-up time: import from here in actors.
 */
export { defineActor, isActorDefinition } from './actor.js';
export type {
  ActorContext,
  ActorDefinition,
  ActorInstance,
  ActorLogger,
  ActorOptions,
  ApiOf,
  ExitKind,
  Ignore,
  InitResult,
  SelfExit,
  TraceContextMode,
} from './actor.js';
export type { ActorRef, ApiShape, CallOptions } from './ref.js';
// Pool task modules (a pool's threads load them): the same light entry.
export { definePoolTask } from './pool-task.js';
export type { PoolTaskFunction } from './pool-task.js';
export * from './errors.js';
