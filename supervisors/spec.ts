/**
 * Supervisor flags and child specs: types, defaults (all in one place, next
 * to the types they fill, as in OTP's supervisor.erl) and validation, one
 * small function per field, each naming its field in its error.
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { InvalidChildSpecError, InvalidSupervisorFlagsError } from '../runtime/errors.js';
import { closest } from '../runtime/suggest.js';
import { HEARTBEAT_FLOORS, heartbeatBelowFloor } from '../runtime/host.js';
import type { HeartbeatOptions, Shutdown } from '../runtime/host.js';
import type { BackoffOptions } from './backoff.js';

/**
 * simple_one_for_one: one child spec, a template; no child starts with the
 * supervisor, instances are started by `startChild(args)` and restarted as
 * one_for_one would.
 */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
/** When a supervisor ends itself as its significant children end (OTP 24's auto_shutdown). */
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';
export type RestartType = 'permanent' | 'transient' | 'temporary';
export type ChildKind = 'worker' | 'supervisor' | 'pool';

export interface SupervisorFlags {
  strategy?: Strategy;
  /** Restarts allowed within the period; one more and the supervisor gives up. */
  intensity?: number;
  periodMs?: number;
  /** Wait before each restart; absent means restart at once, as OTP does. */
  backoff?: Partial<BackoffOptions>;
  /** When intensity is spent: stop every child, back off, start them all again, instead of giving up. */
  neverGiveUp?: boolean;
  /**
   * never (the default); any_significant: the supervisor shuts down when a
   * significant child ends by itself and is not restarted; all_significant:
   * when the last of them has. Children that need it say `significant: true`.
   */
  autoShutdown?: AutoShutdown;
}

export interface WorkerChildSpec {
  id: string;
  /** A spec without a kind is a worker, as in OTP. */
  kind?: 'worker';
  /** URL (file:) of the actor module. */
  module: string;
  config?: unknown;
  restart?: RestartType;
  shutdown?: Shutdown;
  heartbeat?: Partial<HeartbeatOptions> | false;
  resourceLimits?: ResourceLimits;
  /** How long loading and init may take (default 5000 ms). */
  startTimeoutMs?: number;
  /** Its end (by itself, not restarted) counts for its supervisor's autoShutdown; not with restart permanent. */
  significant?: boolean;
}

export interface SupervisorChildSpec {
  id: string;
  kind: 'supervisor';
  flags?: SupervisorFlags;
  children: ChildSpec[];
  restart?: RestartType;
  shutdown?: Shutdown;
  /** As for a worker: its end counts for its parent's autoShutdown. */
  significant?: boolean;
}

/**
 * A pool of threads for stateless, CPU-bound tasks (piscina): a child like
 * any other for its supervisor (restart types, shutdown, group restarts),
 * reached by `system.pool(id)`. See runtime/pool.ts for how tasks settle.
 */
export interface PoolChildSpec {
  id: string;
  kind: 'pool';
  /** URL (file:) or path of the task module, whose default export is `definePoolTask(fn)`. */
  module: string;
  /** Threads kept even when idle (min, default 0) and at most (max, default the machine's parallelism). */
  threads?: { min?: number; max?: number };
  /** Tasks that may wait for a free thread (default 1000); one more is refused with PoolQueueFullError. */
  maxQueue?: number;
  /** A thread above `threads.min` with nothing to do is stopped after this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Limits of each thread; a task that exceeds them fails alone (its thread is replaced). */
  resourceLimits?: ResourceLimits;
  restart?: RestartType;
  /** How long a stop lets running tasks finish (queued ones are refused at once) before ending their threads. */
  shutdown?: Shutdown;
  /** Lower the threads' scheduling priority by this much (Linux nice, 0..19), so CPU work yields to the main thread. */
  niceIncrement?: number;
  /** As for a worker: its end counts for its parent's autoShutdown. */
  significant?: boolean;
}

/** What a root supervisor is built from. */
export interface SupervisorSpec {
  id: string;
  flags?: SupervisorFlags;
  children: ChildSpec[];
}

export type ChildSpec = WorkerChildSpec | SupervisorChildSpec | PoolChildSpec;

// ----------------------------------------------------------------- defaults

export const SUPERVISOR_DEFAULTS = {
  strategy: 'one_for_one',
  intensity: 1,
  periodMs: 5000,
  neverGiveUp: false,
  autoShutdown: 'never',
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
  significant: false,
  shutdown: 5000,
  heartbeat: { intervalMs: 1000, timeoutMs: 3000 },
  startTimeoutMs: 5000,
} as const;

export const POOL_DEFAULTS = {
  restart: 'permanent',
  significant: false,
  shutdown: 5000,
  minThreads: 0,
  /** The machine's parallelism, read when a spec is normalized. */
  maxThreads: (): number => Math.max(1, availableParallelism()),
  maxQueue: 1000,
  idleTimeoutMs: 30_000,
  niceIncrement: 0,
} as const;

export const SUPERVISOR_CHILD_DEFAULTS = {
  restart: 'permanent',
  significant: false,
  shutdown: 'infinity',
} as const;

// ------------------------------------------------------- normalized shapes

export interface NormalizedFlags {
  strategy: Strategy;
  intensity: number;
  periodMs: number;
  backoff: BackoffOptions | undefined;
  neverGiveUp: boolean;
  autoShutdown: AutoShutdown;
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

export interface NormalizedPoolSpec {
  id: string;
  kind: 'pool';
  module: string;
  threads: { min: number; max: number };
  maxQueue: number;
  idleTimeoutMs: number;
  resourceLimits: ResourceLimits | undefined;
  restart: RestartType;
  shutdown: Shutdown;
  niceIncrement: number;
  significant: boolean;
}

export type NormalizedChildSpec = NormalizedWorkerSpec | NormalizedSupervisorSpec | NormalizedPoolSpec;

// ----------------------------------------------------------- known keys

/** Every key each shape may have: anything else is a typo, refused with a did-you-mean. */
const FLAG_KEYS = [
  'strategy',
  'intensity',
  'periodMs',
  'backoff',
  'neverGiveUp',
  'autoShutdown',
] as const satisfies ReadonlyArray<keyof SupervisorFlags>;
const BACKOFF_KEYS = ['minMs', 'maxMs', 'factor', 'jitter', 'resetAfterMs'] as const satisfies ReadonlyArray<
  keyof BackoffOptions
>;
const ROOT_KEYS = ['id', 'flags', 'children'] as const satisfies ReadonlyArray<keyof SupervisorSpec>;
const WORKER_KEYS = [
  'id',
  'kind',
  'module',
  'config',
  'restart',
  'shutdown',
  'heartbeat',
  'resourceLimits',
  'startTimeoutMs',
  'significant',
] as const satisfies ReadonlyArray<keyof WorkerChildSpec>;
const SUPERVISOR_KEYS = [
  'id',
  'kind',
  'flags',
  'children',
  'restart',
  'shutdown',
  'significant',
] as const satisfies ReadonlyArray<keyof SupervisorChildSpec>;
const POOL_KEYS = [
  'id',
  'kind',
  'module',
  'threads',
  'maxQueue',
  'idleTimeoutMs',
  'resourceLimits',
  'restart',
  'shutdown',
  'niceIncrement',
  'significant',
] as const satisfies ReadonlyArray<keyof PoolChildSpec>;
const THREADS_KEYS = ['min', 'max'] as const;
const HEARTBEAT_KEYS = ['intervalMs', 'timeoutMs'] as const satisfies ReadonlyArray<keyof HeartbeatOptions>;
const RESOURCE_LIMIT_KEYS = [
  'maxYoungGenerationSizeMb',
  'maxOldGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
] as const satisfies ReadonlyArray<keyof ResourceLimits>;

// ------------------------------------------------------- validation: flags

type FlagsError = (message: string, field: string, suggestion?: string) => never;

const flagsError: FlagsError = (message, field, suggestion) => {
  throw new InvalidSupervisorFlagsError(message, field, suggestion === undefined ? {} : { suggestion });
};

export function normalizeFlags(flags: unknown = {}): NormalizedFlags {
  if (!isPlainObject(flags)) flagsError(`invalid flags: ${show(flags)} (expected an object)`, 'flags');
  checkKeys(flags, FLAG_KEYS, '', 'supervisor flags', flagsError);
  const strategy = checkStrategy(flags['strategy'] ?? SUPERVISOR_DEFAULTS.strategy);
  const intensity = checkFlagInteger(flags['intensity'] ?? SUPERVISOR_DEFAULTS.intensity, 'intensity', 0);
  const periodMs = checkFlagInteger(flags['periodMs'] ?? SUPERVISOR_DEFAULTS.periodMs, 'periodMs', 1);
  const neverGiveUp = flags['neverGiveUp'] ?? SUPERVISOR_DEFAULTS.neverGiveUp;
  if (typeof neverGiveUp !== 'boolean')
    flagsError(`invalid neverGiveUp: ${show(neverGiveUp)}`, 'neverGiveUp');
  const backoff = flags['backoff'] === undefined ? undefined : normalizeBackoff(flags['backoff']);
  const autoShutdown = checkAutoShutdown(flags['autoShutdown'] ?? SUPERVISOR_DEFAULTS.autoShutdown);
  return { strategy, intensity, periodMs, backoff, neverGiveUp, autoShutdown };
}

const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];

function checkStrategy(strategy: unknown): Strategy {
  if (!STRATEGIES.includes(strategy as Strategy)) {
    return flagsError(`invalid strategy: ${show(strategy)}`, 'strategy');
  }
  return strategy as Strategy;
}

const AUTO_SHUTDOWNS: readonly AutoShutdown[] = ['never', 'any_significant', 'all_significant'];

function checkAutoShutdown(autoShutdown: unknown): AutoShutdown {
  if (!AUTO_SHUTDOWNS.includes(autoShutdown as AutoShutdown)) {
    return flagsError(`invalid autoShutdown: ${show(autoShutdown)}`, 'autoShutdown');
  }
  return autoShutdown as AutoShutdown;
}

function normalizeBackoff(partial: unknown): BackoffOptions {
  if (!isPlainObject(partial))
    return flagsError(`invalid backoff: ${show(partial)} (expected an object)`, 'backoff');
  checkKeys(partial, BACKOFF_KEYS, 'backoff.', 'supervisor flags', flagsError);
  const backoff = withDefaults(BACKOFF_DEFAULTS, partial);
  checkFlagInteger(backoff.minMs, 'backoff.minMs', 0);
  checkFlagInteger(backoff.maxMs, 'backoff.maxMs', 0);
  checkFlagInteger(backoff.resetAfterMs, 'backoff.resetAfterMs', 0);
  if (backoff.maxMs < backoff.minMs) flagsError('invalid backoff: maxMs is below minMs', 'backoff.maxMs');
  if (!(typeof backoff.factor === 'number' && backoff.factor >= 1 && Number.isFinite(backoff.factor))) {
    flagsError(`invalid backoff.factor: ${show(backoff.factor)}`, 'backoff.factor');
  }
  if (!(typeof backoff.jitter === 'number' && backoff.jitter >= 0 && backoff.jitter <= 1)) {
    flagsError(`invalid backoff.jitter: ${show(backoff.jitter)}`, 'backoff.jitter');
  }
  return backoff;
}

function checkFlagInteger(value: unknown, field: string, min: number): number {
  if (!Number.isInteger(value) || (value as number) < min) {
    flagsError(`invalid ${field}: ${show(value)}`, field);
  }
  return value as number;
}

// -------------------------------------------------- validation: child specs

type SpecError = (message: string, field: string, suggestion?: string) => never;

/** Errors name the child they are about, once its id is known. */
function specErrorFor(childId: string | undefined): SpecError {
  return (message, field, suggestion) => {
    throw new InvalidChildSpecError(message, field, {
      ...(childId === undefined ? {} : { childId }),
      ...(suggestion === undefined ? {} : { suggestion }),
    });
  };
}

/** A root supervisor's spec: its id, flags and children, every child validated, the whole subtree included. */
export function normalizeSupervisorSpec(spec: unknown): {
  id: string;
  flags: NormalizedFlags;
  children: NormalizedChildSpec[];
} {
  const fail = specErrorFor(undefined);
  if (!isPlainObject(spec)) {
    return fail(`invalid supervisor spec: ${show(spec)} (expected an object)`, 'spec');
  }
  const id = checkId(spec['id'], fail);
  checkKeys(spec, ROOT_KEYS, '', `supervisor spec "${id}"`, specErrorFor(id));
  return { id, ...normalizeSubtree(spec['flags'], spec['children'], specErrorFor(id)) };
}

/** A supervisor's flags and its children, each child checked against the flags it will live under. */
function normalizeSubtree(
  rawFlags: unknown,
  rawChildren: unknown,
  fail: SpecError,
): { flags: NormalizedFlags; children: NormalizedChildSpec[] } {
  const flags = normalizeFlags(rawFlags);
  if (!Array.isArray(rawChildren)) {
    return fail(`invalid children: ${show(rawChildren)} (expected a list)`, 'children');
  }
  const children = rawChildren.map((child: unknown) => normalizeChildSpec(child, flags.autoShutdown));
  checkUniqueIds(children);
  // OTP's bad_start_spec: the template is the one spec a simple_one_for_one supervisor has.
  if (flags.strategy === 'simple_one_for_one' && children.length !== 1) {
    fail(
      `invalid children: a simple_one_for_one supervisor has exactly one child spec, its template (got ${children.length})`,
      'children',
    );
  }
  return { flags, children };
}

/**
 * One child spec with every default filled in. `autoShutdown` is that of the
 * supervisor it is for; undefined when not known (checkChildSpecs without it),
 * which leaves out the one check that needs it, as OTP's check_childspecs/1 does.
 */
export function normalizeChildSpec(spec: unknown, autoShutdown?: AutoShutdown): NormalizedChildSpec {
  if (!isPlainObject(spec)) {
    return specErrorFor(undefined)(`invalid child spec: ${show(spec)} (expected an object)`, 'spec');
  }
  const id = checkId(spec['id'], specErrorFor(undefined));
  const fail = specErrorFor(id);
  const kind = checkKind(spec['kind'] ?? 'worker', fail);
  const keys = kind === 'worker' ? WORKER_KEYS : kind === 'pool' ? POOL_KEYS : SUPERVISOR_KEYS;
  checkKeys(spec, keys, '', `child spec "${id}"`, fail);
  const restart = checkRestart(spec['restart'] ?? WORKER_DEFAULTS.restart, fail);
  const significant = checkSignificant(spec['significant'] ?? false, restart, autoShutdown, fail);
  if (kind === 'worker') {
    const startTimeoutMs = spec['startTimeoutMs'] ?? WORKER_DEFAULTS.startTimeoutMs;
    checkPositiveInteger(startTimeoutMs, 'startTimeoutMs', fail);
    return {
      id,
      kind: 'worker',
      module: checkModule(spec['module'], fail),
      config: spec['config'],
      restart,
      significant,
      shutdown: checkShutdown(spec['shutdown'] ?? WORKER_DEFAULTS.shutdown, fail),
      heartbeat: checkHeartbeat(spec['heartbeat'], fail),
      resourceLimits: checkResourceLimits(spec['resourceLimits'], fail),
      startTimeoutMs: startTimeoutMs as number,
    };
  }
  if (kind === 'pool') {
    return {
      id,
      kind: 'pool',
      module: checkModule(spec['module'], fail),
      threads: checkThreads(spec['threads'], fail),
      maxQueue: checkCount(spec['maxQueue'] ?? POOL_DEFAULTS.maxQueue, 'maxQueue', 0, fail),
      idleTimeoutMs: checkCount(
        spec['idleTimeoutMs'] ?? POOL_DEFAULTS.idleTimeoutMs,
        'idleTimeoutMs',
        0,
        fail,
      ),
      resourceLimits: checkResourceLimits(spec['resourceLimits'], fail),
      restart,
      significant,
      shutdown: checkShutdown(spec['shutdown'] ?? POOL_DEFAULTS.shutdown, fail),
      niceIncrement: checkNice(spec['niceIncrement'] ?? POOL_DEFAULTS.niceIncrement, fail),
    };
  }
  // Validate the whole subtree now, so a bad spec fails before anything starts.
  const flags = spec['flags'];
  if (flags !== undefined && !isPlainObject(flags)) {
    fail(`invalid flags: ${show(flags)} (expected an object)`, 'flags');
  }
  normalizeSubtree(flags, spec['children'], fail);
  return {
    id,
    kind: 'supervisor',
    flags: (flags ?? {}) as SupervisorFlags,
    children: spec['children'] as ChildSpec[],
    restart,
    significant,
    shutdown: checkShutdown(spec['shutdown'] ?? SUPERVISOR_CHILD_DEFAULTS.shutdown, fail),
  };
}

/**
 * OTP's check_childspecs: undefined when every spec in the list is valid
 * (for a supervisor with this autoShutdown, when given), else the error the
 * first bad one gives.
 */
export function checkChildSpecs(
  specs: unknown,
  autoShutdown?: AutoShutdown,
): InvalidChildSpecError | InvalidSupervisorFlagsError | undefined {
  try {
    if (autoShutdown !== undefined) checkAutoShutdown(autoShutdown);
    if (!Array.isArray(specs))
      return new InvalidChildSpecError(`invalid child specs: ${show(specs)} (expected a list)`, 'children');
    checkUniqueIds(specs.map((spec: unknown) => normalizeChildSpec(spec, autoShutdown)));
    return undefined;
  } catch (error) {
    if (error instanceof InvalidChildSpecError || error instanceof InvalidSupervisorFlagsError) return error;
    throw error;
  }
}

export function checkUniqueIds(specs: readonly NormalizedChildSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.id)) specErrorFor(spec.id)(`duplicate child id: ${show(spec.id)}`, 'id');
    seen.add(spec.id);
  }
}

function checkId(id: unknown, fail: SpecError): string {
  if (typeof id !== 'string' || id === '') return fail(`invalid id: ${show(id)}`, 'id');
  return id;
}

const KINDS: readonly ChildKind[] = ['worker', 'supervisor', 'pool'];

function checkKind(kind: unknown, fail: SpecError): ChildKind {
  if (!KINDS.includes(kind as ChildKind)) return fail(`invalid kind: ${show(kind)}`, 'kind');
  return kind as ChildKind;
}

/** A pool's threads: min ≥ 0, max ≥ 1, and min not above max. */
function checkThreads(threads: unknown, fail: SpecError): { min: number; max: number } {
  if (threads === undefined) return { min: POOL_DEFAULTS.minThreads, max: POOL_DEFAULTS.maxThreads() };
  if (!isPlainObject(threads)) {
    return fail(`invalid threads: ${show(threads)} (expected { min?, max? })`, 'threads');
  }
  checkKeys(threads, THREADS_KEYS, 'threads.', 'child spec', fail);
  const min = checkCount(threads['min'] ?? POOL_DEFAULTS.minThreads, 'threads.min', 0, fail);
  const max = checkCount(threads['max'] ?? Math.max(min, POOL_DEFAULTS.maxThreads()), 'threads.max', 1, fail);
  if (min > max) fail(`invalid combination: threads.min ${min} is above threads.max ${max}`, 'threads.min');
  return { min, max };
}

function checkNice(nice: unknown, fail: SpecError): number {
  if (!Number.isInteger(nice) || (nice as number) < 0 || (nice as number) > 19) {
    return fail(`invalid niceIncrement: ${show(nice)} (expected 0..19)`, 'niceIncrement');
  }
  return nice as number;
}

/** An integer of at least `min`. */
function checkCount(value: unknown, field: string, min: number, fail: SpecError): number {
  if (!Number.isInteger(value) || (value as number) < min) {
    return fail(`invalid ${field}: ${show(value)} (expected an integer of at least ${min})`, field);
  }
  return value as number;
}

function checkModule(module: unknown, fail: SpecError): string {
  if (typeof module !== 'string' || module === '') return fail(`invalid module: ${show(module)}`, 'module');
  return module;
}

/** OTP's validSignificant: a boolean; never with restart permanent, nor under autoShutdown never. */
function checkSignificant(
  significant: unknown,
  restart: RestartType,
  autoShutdown: AutoShutdown | undefined,
  fail: SpecError,
): boolean {
  if (significant === true && autoShutdown === 'never') {
    return fail(
      'invalid combination: significant: true under a supervisor whose autoShutdown is never',
      'significant',
    );
  }
  if (significant === true && restart === 'permanent') {
    return fail('invalid combination: significant: true with restart permanent', 'significant');
  }
  if (typeof significant !== 'boolean')
    return fail(`invalid significant: ${show(significant)}`, 'significant');
  return significant;
}

function checkRestart(restart: unknown, fail: SpecError): RestartType {
  if (restart !== 'permanent' && restart !== 'transient' && restart !== 'temporary') {
    return fail(`invalid restart type: ${show(restart)}`, 'restart');
  }
  return restart;
}

function checkShutdown(shutdown: unknown, fail: SpecError): Shutdown {
  if (shutdown === 'brutal_kill' || shutdown === 'infinity') return shutdown;
  if (Number.isInteger(shutdown) && (shutdown as number) >= 0) return shutdown as number;
  return fail(`invalid shutdown: ${show(shutdown)}`, 'shutdown');
}

function checkHeartbeat(heartbeat: unknown, fail: SpecError): HeartbeatOptions | false {
  if (heartbeat === false) return false;
  if (heartbeat === undefined) return { ...WORKER_DEFAULTS.heartbeat };
  if (!isPlainObject(heartbeat)) {
    return fail(
      `invalid heartbeat: ${show(heartbeat)} (expected { intervalMs, timeoutMs } or false)`,
      'heartbeat',
    );
  }
  checkKeys(heartbeat, HEARTBEAT_KEYS, 'heartbeat.', 'child spec', fail);
  const full = withDefaults(WORKER_DEFAULTS.heartbeat, heartbeat);
  checkPositiveInteger(full.intervalMs, 'heartbeat.intervalMs', fail);
  checkPositiveInteger(full.timeoutMs, 'heartbeat.timeoutMs', fail);
  const below = heartbeatBelowFloor(full);
  if (below !== undefined) {
    fail(
      `invalid heartbeat.${below}: ${full[below]} is below the floor of ${HEARTBEAT_FLOORS[below]} ms`,
      `heartbeat.${below}`,
    );
  }
  return { intervalMs: full.intervalMs, timeoutMs: full.timeoutMs };
}

function checkResourceLimits(limits: unknown, fail: SpecError): ResourceLimits | undefined {
  if (limits === undefined) return undefined;
  if (!isPlainObject(limits))
    return fail(`invalid resourceLimits: ${show(limits)} (expected an object)`, 'resourceLimits');
  checkKeys(limits, RESOURCE_LIMIT_KEYS, 'resourceLimits.', 'child spec', fail);
  const out: ResourceLimits = {};
  for (const key of RESOURCE_LIMIT_KEYS) {
    const value = limits[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      fail(
        `invalid resourceLimits.${key}: ${show(value)} (expected a positive number of MB)`,
        `resourceLimits.${key}`,
      );
    }
    out[key] = value;
  }
  return out;
}

function checkPositiveInteger(value: unknown, field: string, fail: SpecError): void {
  if (!Number.isInteger(value) || (value as number) <= 0) fail(`invalid ${field}: ${show(value)}`, field);
}

// ------------------------------------------------------------------ helpers

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Refuses the first key not in `known`, suggesting the closest known one when it looks like a typo. */
function checkKeys(
  value: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  where: string,
  fail: (message: string, field: string, suggestion?: string) => never,
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
    fail(
      `unknown key "${prefix}${key}" in ${where}${hint}`,
      `${prefix}${key}`,
      near === undefined ? undefined : `${prefix}${near}`,
    );
  }
}

/** Defaults overlaid by the given values; a key given as undefined keeps its default. */
function withDefaults<T extends object>(defaults: T, given: Record<string, unknown>): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [key, value] of Object.entries(given)) if (value !== undefined) out[key] = value;
  return out as T;
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
