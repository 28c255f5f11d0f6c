/**
 * Supervisor flags and child specs: types, defaults (all in one place, next
 * to the types they fill, as in OTP's supervisor.erl) and validation, one
 * small function per field, each naming its field in its error.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { InvalidChildSpecError, InvalidSupervisorFlagsError } from '../runtime/errors.js';
import type { HeartbeatOptions, Shutdown } from '../runtime/host.js';
import type { BackoffOptions } from './backoff.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type RestartType = 'permanent' | 'transient' | 'temporary';
export type ChildKind = 'worker' | 'supervisor';

export interface SupervisorFlags {
  strategy?: Strategy;
  /** Restarts allowed within the period; one more and the supervisor gives up. */
  intensity?: number;
  periodMs?: number;
  /** Wait before each restart; absent means restart at once, as OTP does. */
  backoff?: Partial<BackoffOptions>;
  /** When intensity is spent: stop every child, back off, start them all again, instead of giving up. */
  neverGiveUp?: boolean;
}

export interface WorkerChildSpec {
  id: string;
  kind: 'worker';
  /** URL (file:) of the actor module. */
  module: string;
  config?: unknown;
  restart?: RestartType;
  shutdown?: Shutdown;
  heartbeat?: Partial<HeartbeatOptions> | false;
  resourceLimits?: ResourceLimits;
  /** How long loading and init may take (default 5000 ms). */
  startTimeoutMs?: number;
}

export interface SupervisorChildSpec {
  id: string;
  kind: 'supervisor';
  flags?: SupervisorFlags;
  children: ChildSpec[];
  restart?: RestartType;
  shutdown?: Shutdown;
}

export type ChildSpec = WorkerChildSpec | SupervisorChildSpec;

// ----------------------------------------------------------------- defaults

export const SUPERVISOR_DEFAULTS = {
  strategy: 'one_for_one',
  intensity: 1,
  periodMs: 5000,
  neverGiveUp: false,
} as const satisfies Required<Omit<SupervisorFlags, 'backoff'>>;

export const BACKOFF_DEFAULTS: BackoffOptions = {
  minMs: 100,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.1,
  resetAfterMs: 60_000,
};

export const WORKER_DEFAULTS = {
  restart: 'permanent',
  shutdown: 5000,
  heartbeat: { intervalMs: 1000, timeoutMs: 3000 },
  startTimeoutMs: 5000,
} as const;

export const SUPERVISOR_CHILD_DEFAULTS = {
  restart: 'permanent',
  shutdown: 'infinity',
} as const;

// ------------------------------------------------------- normalized shapes

export interface NormalizedFlags {
  strategy: Strategy;
  intensity: number;
  periodMs: number;
  backoff: BackoffOptions | undefined;
  neverGiveUp: boolean;
}

export type NormalizedWorkerSpec = Omit<
  Required<WorkerChildSpec>,
  'heartbeat' | 'resourceLimits' | 'config'
> & {
  heartbeat: HeartbeatOptions | false;
  resourceLimits: ResourceLimits | undefined;
  config: unknown;
};

export type NormalizedSupervisorSpec = Omit<Required<SupervisorChildSpec>, 'flags'> & {
  flags: SupervisorFlags;
};

export type NormalizedChildSpec = NormalizedWorkerSpec | NormalizedSupervisorSpec;

// --------------------------------------------------------------- validation

export function normalizeFlags(flags: SupervisorFlags = {}): NormalizedFlags {
  const strategy = flags.strategy ?? SUPERVISOR_DEFAULTS.strategy;
  if (!['one_for_one', 'one_for_all', 'rest_for_one'].includes(strategy)) {
    throw new InvalidSupervisorFlagsError(`invalid strategy: ${JSON.stringify(strategy)}`, 'strategy');
  }
  const intensity = flags.intensity ?? SUPERVISOR_DEFAULTS.intensity;
  checkFlagInteger(intensity, 'intensity', 0);
  const periodMs = flags.periodMs ?? SUPERVISOR_DEFAULTS.periodMs;
  checkFlagInteger(periodMs, 'periodMs', 1);
  const neverGiveUp = flags.neverGiveUp ?? SUPERVISOR_DEFAULTS.neverGiveUp;
  if (typeof neverGiveUp !== 'boolean') {
    throw new InvalidSupervisorFlagsError(
      `invalid neverGiveUp: ${JSON.stringify(neverGiveUp)}`,
      'neverGiveUp',
    );
  }
  const backoff = flags.backoff === undefined ? undefined : normalizeBackoff(flags.backoff);
  return { strategy, intensity, periodMs, backoff, neverGiveUp };
}

function normalizeBackoff(partial: Partial<BackoffOptions>): BackoffOptions {
  const backoff = { ...BACKOFF_DEFAULTS, ...partial };
  checkFlagInteger(backoff.minMs, 'backoff.minMs', 0);
  checkFlagInteger(backoff.maxMs, 'backoff.maxMs', 0);
  checkFlagInteger(backoff.resetAfterMs, 'backoff.resetAfterMs', 0);
  if (backoff.maxMs < backoff.minMs) {
    throw new InvalidSupervisorFlagsError('invalid backoff: maxMs is below minMs', 'backoff.maxMs');
  }
  if (!(typeof backoff.factor === 'number' && backoff.factor >= 1)) {
    throw new InvalidSupervisorFlagsError(
      `invalid backoff.factor: ${JSON.stringify(backoff.factor)}`,
      'backoff.factor',
    );
  }
  if (!(typeof backoff.jitter === 'number' && backoff.jitter >= 0 && backoff.jitter <= 1)) {
    throw new InvalidSupervisorFlagsError(
      `invalid backoff.jitter: ${JSON.stringify(backoff.jitter)}`,
      'backoff.jitter',
    );
  }
  return backoff;
}

function checkFlagInteger(value: unknown, field: string, min: number): void {
  if (!Number.isInteger(value) || (value as number) < min) {
    throw new InvalidSupervisorFlagsError(`invalid ${field}: ${JSON.stringify(value)}`, field);
  }
}

export function normalizeChildSpec(spec: ChildSpec): NormalizedChildSpec {
  if (typeof spec !== 'object' || spec === null) {
    throw new InvalidChildSpecError(`invalid child spec: ${JSON.stringify(spec)}`, 'spec');
  }
  checkId(spec.id);
  const restart = checkRestart(spec.restart ?? WORKER_DEFAULTS.restart);
  if (spec.kind === 'worker') {
    if (typeof spec.module !== 'string' || spec.module === '') {
      throw new InvalidChildSpecError(`invalid module: ${JSON.stringify(spec.module)}`, 'module');
    }
    const startTimeoutMs = spec.startTimeoutMs ?? WORKER_DEFAULTS.startTimeoutMs;
    checkPositiveInteger(startTimeoutMs, 'startTimeoutMs');
    return {
      id: spec.id,
      kind: 'worker',
      module: spec.module,
      config: spec.config,
      restart,
      shutdown: checkShutdown(spec.shutdown ?? WORKER_DEFAULTS.shutdown),
      heartbeat: checkHeartbeat(spec.heartbeat),
      resourceLimits: spec.resourceLimits,
      startTimeoutMs,
    };
  }
  if (spec.kind === 'supervisor') {
    if (!Array.isArray(spec.children)) {
      throw new InvalidChildSpecError('invalid children: not a list', 'children');
    }
    // Validate the whole subtree now, so a bad spec fails before anything starts.
    normalizeFlags(spec.flags);
    checkUniqueIds(spec.children.map(normalizeChildSpec));
    return {
      id: spec.id,
      kind: 'supervisor',
      flags: spec.flags ?? {},
      children: spec.children,
      restart,
      shutdown: checkShutdown(spec.shutdown ?? SUPERVISOR_CHILD_DEFAULTS.shutdown),
    };
  }
  throw new InvalidChildSpecError(
    `invalid kind: ${JSON.stringify((spec as { kind?: unknown }).kind)}`,
    'kind',
  );
}

export function checkUniqueIds(specs: readonly NormalizedChildSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.id))
      throw new InvalidChildSpecError(`duplicate child id: ${JSON.stringify(spec.id)}`, 'id');
    seen.add(spec.id);
  }
}

function checkId(id: unknown): void {
  if (typeof id !== 'string' || id === '') {
    throw new InvalidChildSpecError(`invalid id: ${JSON.stringify(id)}`, 'id');
  }
}

function checkRestart(restart: unknown): RestartType {
  if (restart !== 'permanent' && restart !== 'transient' && restart !== 'temporary') {
    throw new InvalidChildSpecError(`invalid restart type: ${JSON.stringify(restart)}`, 'restart');
  }
  return restart;
}

function checkShutdown(shutdown: unknown): Shutdown {
  if (shutdown === 'brutal_kill' || shutdown === 'infinity') return shutdown;
  if (Number.isInteger(shutdown) && (shutdown as number) >= 0) return shutdown as number;
  throw new InvalidChildSpecError(`invalid shutdown: ${JSON.stringify(shutdown)}`, 'shutdown');
}

function checkHeartbeat(heartbeat: Partial<HeartbeatOptions> | false | undefined): HeartbeatOptions | false {
  if (heartbeat === false) return false;
  const full = { ...WORKER_DEFAULTS.heartbeat, ...heartbeat };
  checkPositiveInteger(full.intervalMs, 'heartbeat.intervalMs');
  checkPositiveInteger(full.timeoutMs, 'heartbeat.timeoutMs');
  return full;
}

function checkPositiveInteger(value: unknown, field: string): void {
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw new InvalidChildSpecError(`invalid ${field}: ${JSON.stringify(value)}`, field);
  }
}
