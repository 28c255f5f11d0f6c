/** Supervision trees: the public surface. */
export { Supervisor } from './supervisor.js';
export type {
  ChildCounts,
  ChildInfo,
  ChildStatus,
  StartInstanceOptions,
  SupervisorOptions,
} from './supervisor.js';
export { SupervisionEvents } from './events.js';
export type { SupervisionEvent, SupervisionEventType, SupervisionListener } from './events.js';
export type {
  AutoShutdown,
  ChildKind,
  ChildSpec,
  RestartType,
  Strategy,
  SupervisorChildSpec,
  SupervisorFlags,
  SupervisorSpec,
  NormalizedChildSpec,
  PoolChildSpec,
  WorkerChildSpec,
} from './spec.js';
export { checkChildSpecs } from './spec.js';
export { BACKOFF_DEFAULTS, POOL_DEFAULTS, SUPERVISOR_DEFAULTS, WORKER_DEFAULTS } from './spec.js';
export type { BackoffOptions } from './backoff.js';
export { backoffDelay } from './backoff.js';
export { addRestart } from './intensity.js';
