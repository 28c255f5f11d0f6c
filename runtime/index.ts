/** The actor runtime's public surface. */
export { defineActor, isActorDefinition } from './actor.js';
export type {
  ActorContext,
  ActorDefinition,
  ActorInstance,
  ActorLogger,
  ApiOf,
  Ignore,
  InitResult,
  SelfExit,
} from './actor.js';
export type { ActorRef, ApiShape, CallOptions } from './ref.js';
export { ActorSystem } from './system.js';
export type { PoolRef, PoolRunOptions, PoolSpec, PoolStatus } from './pool.js';
export { definePoolTask } from './pool-task.js';
export type { PoolTaskFunction } from './pool-task.js';
export type {
  ActorMonitor,
  ActorSpec,
  DownNotice,
  DownReason,
  ExitSignal,
  NameInfo,
  PoolStartSpec,
  SystemOptions,
} from './system.js';
export type { HeartbeatOptions, Shutdown } from './host.js';
export { HEARTBEAT_FLOORS } from './host.js';
export type { ExitReason, ExitKind } from './exit-reason.js';
export { describeExit, isNormalExit } from './exit-reason.js';
export { liveWorkerCount } from './worker-slot.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export * from './errors.js';
