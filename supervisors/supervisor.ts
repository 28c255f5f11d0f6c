/**
 * A supervisor, to the letter of Erlang/OTP's `supervisor` where it applies.
 * It runs in the main thread; its workers run in their own threads.
 *
 * Like an OTP supervisor process, it handles one thing at a time: child
 * exits, API requests and delayed restarts all go through one queue, so no
 * two of them ever interleave. Retries and backoff waits are scheduled as
 * new entries of that queue (OTP's try_again message), never as a wait that
 * holds it, so the API stays answerable during a restart loop.
 *
 * A simple_one_for_one supervisor keeps its one child spec as a template:
 * no child starts with it; `startChild(args)` starts an instance with its
 * own arguments and an id of its own (so `system.ref(id)` reaches it); an
 * instance that is not restarted is gone, its name released; they all stop
 * in parallel.
 *
 * Sections: public API, message handling, restart logic, child life cycle,
 * lookups, reporting.
 */
import { performance } from 'node:perf_hooks';
import {
  ActorIgnoredError,
  AlreadyStartedError,
  ChildNotFoundError,
  ChildRestartingError,
  ChildRunningError,
  AlreadyPresentError,
  FailedToStartChildError,
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
  SimpleOneForOneError,
  SupervisorStoppedError,
  serializeError,
} from '../runtime/errors.js';
import type { ExitReason } from '../runtime/exit-reason.js';
import { describeExit, isNormalExit } from '../runtime/exit-reason.js';
import type { Shutdown } from '../runtime/host.js';
import type { PoolStatus } from '../runtime/pool.js';
import type { ActorSystem } from '../runtime/system.js';
import { backoffDelay } from './backoff.js';
import { SupervisionEvents } from './events.js';
import type { SupervisionEvent } from './events.js';
import { addRestart } from './intensity.js';
import { checkChildSpecs, normalizeChildSpec, normalizeSupervisorSpec } from './spec.js';
import type {
  AutoShutdown,
  ChildKind,
  ChildSpec,
  NormalizedChildSpec,
  NormalizedFlags,
  RestartType,
  SupervisorSpec,
} from './spec.js';

/** What a supervisor holds of a running child, whether a worker or a supervisor. */
interface RunningChild {
  readonly exited: Promise<ExitReason>;
  readonly incarnation: number;
  stop(shutdown: Shutdown): Promise<ExitReason>;
  kill(): void;
}

export type ChildStatus = 'running' | 'stopped' | 'restarting';

export interface ChildInfo {
  id: string;
  kind: ChildKind;
  restart: RestartType;
  status: ChildStatus;
  /** Incarnations started so far (0 before the first start). */
  incarnation: number;
  /** Restarts of this child (as the failing one or as part of a group). */
  restarts: number;
  lastExit: { reason: ExitReason; at: number } | undefined;
  /** For a child supervisor, its own children. */
  children?: ChildInfo[];
  /** For a pool while it runs: its threads, queue, utilisation and tasks done. */
  pool?: PoolStatus;
}

export interface ChildCounts {
  specs: number;
  active: number;
  supervisors: number;
  workers: number;
}

/** Options of `startChild(args)` on a simple_one_for_one supervisor. */
export interface StartInstanceOptions {
  /** The instance's id (its name in the runtime); default `<template id>-<n>`. */
  id?: string;
}

export interface SupervisorOptions {
  /** The bus every event of the tree goes to; a root makes its own when none is given. */
  events?: SupervisionEvents;
  /** Monotonic clock in ms (tests may pass their own). */
  now?: () => number;
  /** 0..1, for backoff jitter. */
  random?: () => number;
}

interface ChildRecord {
  readonly spec: NormalizedChildSpec;
  handle: RunningChild | undefined;
  status: ChildStatus;
  incarnation: number;
  restarts: number;
  lastExit: { reason: ExitReason; at: number } | undefined;
  /** A child supervisor object while it runs, for whichChildren. */
  supervisor: Supervisor | undefined;
  /** The timer of a pending restart (backoff or retry), so an operator's action can cancel it. */
  retry: NodeJS.Timeout | undefined;
  /** A simple_one_for_one child's start arguments, the same for every incarnation; [] otherwise. */
  readonly args: readonly unknown[];
}

type SupervisorState = 'idle' | 'running' | 'stopping' | 'stopped';

export class Supervisor implements RunningChild {
  readonly id: string;
  readonly events: SupervisionEvents;
  readonly exited: Promise<ExitReason>;
  readonly #system: ActorSystem;
  readonly #flags: NormalizedFlags;
  readonly #initialSpecs: readonly NormalizedChildSpec[];
  /** simple_one_for_one: the one child spec every instance is made from; undefined otherwise. */
  readonly #template: NormalizedChildSpec | undefined;
  /** Counts instances started, for their default ids. */
  #instances = 0;
  readonly #now: () => number;
  readonly #random: () => number;
  #records: ChildRecord[] = [];
  #state: SupervisorState = 'idle';
  #queue: Promise<unknown> = Promise.resolve();
  /** Restart times within the period, newest first (monotonic ms). */
  #restarts: readonly number[] = [];
  /** Consecutive restarts since the last quiet period, for backoff. */
  #backoffAttempt = 0;
  #lastRestartAt = -Infinity;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Children being stopped right now: their records no longer hold them, but kill() must reach them. */
  readonly #stopping = new Set<RunningChild>();
  #resolveExited!: (reason: ExitReason) => void;
  incarnation = 1;

  constructor(system: ActorSystem, spec: SupervisorSpec, options: SupervisorOptions = {}) {
    const valid = normalizeSupervisorSpec(spec);
    this.#system = system;
    this.id = valid.id;
    this.#flags = valid.flags;
    const dynamic = valid.flags.strategy === 'simple_one_for_one';
    this.#template = dynamic ? valid.children[0] : undefined;
    this.#initialSpecs = dynamic ? [] : valid.children;
    this.events = options.events ?? new SupervisionEvents();
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    // A runtime shut down under a running tree takes the tree with it, timers and all.
    const removeHook = system.onShutdown(() => this.kill());
    void this.exited.then(removeHook);
  }

  // -------------------------------------------------------------- public API

  /**
   * Starts the children in order. Resolves once every child's init has; if
   * one fails, those already started stop in reverse order and this rejects
   * with FailedToStartChildError naming the child and the cause.
   */
  start(): Promise<void> {
    return this.#serial(async () => {
      if (this.#state !== 'idle') throw new SupervisorStoppedError(this.id);
      this.#state = 'running';
      this.#records = this.#initialSpecs.map((spec) => newRecord(spec));
      for (const record of [...this.#records]) {
        try {
          // A temporary child that ignores is not kept (OTP); any other is kept as not running.
          const outcome = await this.#startRecord(record);
          if (outcome === 'ignored' && record.spec.restart === 'temporary') this.#remove(record);
        } catch (error) {
          await this.#terminateAll();
          this.#records = [];
          this.#finish({ kind: 'shutdown' }, false);
          throw new FailedToStartChildError(record.spec.id, error);
        }
      }
      this.#emit({ type: 'supervisor-started', children: this.#records.map((r) => r.spec.id) });
    });
  }

  /** Stops every child in reverse order, then this supervisor; resolves with its exit reason. */
  stop(shutdown: Shutdown = 'infinity'): Promise<ExitReason> {
    if (this.#state === 'stopped' || this.#state === 'idle') {
      if (this.#state === 'idle') this.#finish({ kind: 'shutdown' }, false);
      return this.exited;
    }
    let killTimer: NodeJS.Timeout | undefined;
    if (typeof shutdown === 'number') killTimer = setTimeout(() => this.kill(), shutdown);
    if (shutdown === 'brutal_kill') this.kill();
    void this.#serial(async () => {
      if (this.#state !== 'running') return;
      this.#state = 'stopping';
      this.#cancelTimers();
      await this.#terminateAll();
      this.#finish({ kind: 'shutdown' });
    });
    return this.exited.finally(() => clearTimeout(killTimer));
  }

  /** Ends every child at once, without waiting for the queue: this supervisor's reason is killed. */
  kill(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#cancelTimers();
    for (const handle of this.#stopping) handle.kill();
    for (const record of [...this.#records].reverse()) {
      const handle = record.handle;
      record.handle = undefined;
      record.supervisor = undefined;
      record.status = 'stopped';
      handle?.kill();
      this.#markStopped(record, 'its supervisor was killed');
    }
    // A child still starting is killed when its start returns (see #startRecord).
    this.#finish({ kind: 'killed' });
  }

  /**
   * Adds a child at the end of the start order and starts it. On a
   * simple_one_for_one supervisor, give instead the list of arguments of a
   * new instance (its `ctx.args`), and optionally its id. Resolves with the
   * child; one whose init returned 'ignore' is not running (and a temporary
   * or dynamic one is not kept). Rejects with AlreadyStartedError when the
   * id is taken, FailedToStartChildError when the start fails (the child is
   * then not kept).
   */
  startChild(spec: ChildSpec): Promise<ChildInfo>;
  startChild(args: readonly unknown[], options?: StartInstanceOptions): Promise<ChildInfo>;
  startChild(
    specOrArgs: ChildSpec | readonly unknown[],
    options: StartInstanceOptions = {},
  ): Promise<ChildInfo> {
    return this.#serial(async () => {
      this.#assertRunning();
      if (this.#template !== undefined) return this.#startInstance(this.#template, specOrArgs, options);
      if (Array.isArray(specOrArgs)) {
        throw new InvalidChildSpecError(
          `supervisor "${this.id}" is not simple_one_for_one: startChild takes a child spec, not arguments`,
          'spec',
        );
      }
      const normalized = normalizeChildSpec(specOrArgs, this.#flags.autoShutdown);
      const existing = this.#find(normalized.id);
      if (existing !== undefined) {
        if (existing.status === 'running') {
          throw new AlreadyStartedError(
            normalized.id,
            { kind: 'supervisor', id: this.id },
            existing.incarnation,
          );
        }
        throw new AlreadyPresentError(normalized.id);
      }
      const record = newRecord(normalized);
      this.#records.push(record);
      try {
        const outcome = await this.#startRecord(record);
        if (outcome === 'ignored' && record.spec.restart === 'temporary') this.#remove(record);
      } catch (error) {
        this.#records = this.#records.filter((r) => r !== record);
        // OTP passes {already_started, Pid} through as it is: the caller asked for a name that is taken.
        if (error instanceof AlreadyStartedError) throw error;
        throw new FailedToStartChildError(normalized.id, error);
      }
      return this.#info(record);
    });
  }

  async #startInstance(
    template: NormalizedChildSpec,
    args: unknown,
    options: StartInstanceOptions,
  ): Promise<ChildInfo> {
    if (!Array.isArray(args)) {
      throw new InvalidChildSpecError(
        `supervisor "${this.id}" is simple_one_for_one: startChild takes the list of arguments of an instance of "${template.id}"`,
        'args',
        { childId: template.id },
      );
    }
    const id = this.#instanceId(template, options);
    const existing = this.#find(id);
    if (existing !== undefined) {
      throw new AlreadyStartedError(id, { kind: 'supervisor', id: this.id }, existing.incarnation);
    }
    const record = newRecord({ ...template, id }, [...(args as unknown[])]);
    this.#records.push(record);
    try {
      // An instance that ignores is not kept (OTP's {ok, undefined} for simple_one_for_one).
      if ((await this.#startRecord(record)) === 'ignored')
        this.#removeForGood(record, 'its init returned ignore');
    } catch (error) {
      this.#removeForGood(record, 'it failed to start');
      if (error instanceof AlreadyStartedError) throw error;
      throw new FailedToStartChildError(id, error);
    }
    return this.#info(record);
  }

  #instanceId(template: NormalizedChildSpec, options: StartInstanceOptions): string {
    if (options.id !== undefined) {
      if (typeof options.id !== 'string' || options.id === '') {
        throw new InvalidChildSpecError(`invalid id: ${JSON.stringify(options.id)}`, 'id', {
          childId: template.id,
        });
      }
      return options.id;
    }
    // A default id nobody holds: neither an instance here nor any name in the runtime.
    for (;;) {
      this.#instances += 1;
      const id = `${template.id}-${this.#instances}`;
      if (this.#find(id) === undefined && this.#system.whereis(id) === undefined) return id;
    }
  }

  /**
   * Stops a child and keeps its spec (a temporary child's spec is removed;
   * an instance of a simple_one_for_one supervisor is removed, its name released).
   */
  terminateChild(id: string): Promise<void> {
    return this.#serial(async () => {
      this.#assertRunning();
      const record = this.#require(id);
      // A child waiting to be restarted is not restarted any more.
      this.#cancelRetry(record);
      await this.#terminate(record);
      record.status = 'stopped';
      if (record.spec.restart === 'temporary' || this.#template !== undefined) {
        this.#removeForGood(record, 'terminated by its supervisor');
      } else {
        this.#markStopped(record, 'terminated by its supervisor');
      }
    });
  }

  /** Starts a stopped child again from its spec. */
  restartChild(id: string): Promise<ChildInfo> {
    return this.#serial(async () => {
      this.#assertRunning();
      if (this.#template !== undefined) throw new SimpleOneForOneError(this.id, 'restartChild');
      const record = this.#require(id);
      if (record.status === 'running') throw new ChildRunningError(id);
      if (record.status === 'restarting') throw new ChildRestartingError(id);
      try {
        await this.#startRecord(record);
      } catch (error) {
        // Not running and not to be restarted by anyone but an operator (OTP's undefined pid).
        record.status = 'stopped';
        throw new FailedToStartChildError(id, error);
      }
      return this.#info(record);
    });
  }

  /** Removes the spec of a stopped child. */
  deleteChild(id: string): Promise<void> {
    return this.#serial(async () => {
      this.#assertRunning();
      if (this.#template !== undefined) throw new SimpleOneForOneError(this.id, 'deleteChild');
      const record = this.#require(id);
      if (record.status === 'running') throw new ChildRunningError(id);
      if (record.status === 'restarting') throw new ChildRestartingError(id);
      this.#remove(record);
    });
  }

  /**
   * The child's spec with every default filled in (OTP's get_childspec);
   * for an instance of a simple_one_for_one supervisor, the template.
   * Throws ChildNotFoundError.
   */
  getChildSpec(id: string): NormalizedChildSpec {
    const record = this.#require(id);
    return { ...(this.#template ?? record.spec) };
  }

  /** One child's info (OTP 27's which_child); throws ChildNotFoundError. */
  whichChild(id: string): ChildInfo {
    return this.#info(this.#require(id));
  }

  /** A snapshot of the children in start order (answers at once, even mid-restart). */
  whichChildren(): ChildInfo[] {
    return this.#records.map((record) => this.#info(record));
  }

  /**
   * The supervisor (this one or one below it) whose direct child `childId` is,
   * so operators can act on any child of the tree by id.
   */
  findSupervisorOf(childId: string): Supervisor | undefined {
    if (this.#find(childId) !== undefined) return this;
    for (const record of this.#records) {
      const found = record.supervisor?.findSupervisorOf(childId);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * This supervisor, or the running child supervisor below it with this id:
   * so a child supervisor can be addressed (to start children in it, say),
   * even one that has no children to find it by.
   */
  findSupervisor(id: string): Supervisor | undefined {
    if (this.id === id) return this;
    for (const record of this.#records) {
      const found = record.supervisor?.findSupervisor(id);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * OTP's check_childspecs: undefined when every spec of the list is valid
   * (for a supervisor with this autoShutdown, when given), else the error of
   * the first bad one. Throws nothing.
   */
  static checkChildSpecs(
    specs: unknown,
    autoShutdown?: AutoShutdown,
  ): InvalidChildSpecError | InvalidSupervisorFlagsError | undefined {
    return checkChildSpecs(specs, autoShutdown);
  }

  /**
   * OTP's count_children. For a simple_one_for_one supervisor, the template
   * is the one spec and every instance counts as a worker (or supervisor).
   * A pool counts as a worker: OTP knows only workers and supervisors, and a
   * pool supervises no children of the tree.
   */
  countChildren(): ChildCounts {
    const template = this.#template;
    if (template !== undefined) {
      const active = this.#records.filter((r) => r.status === 'running').length;
      const all = this.#records.length;
      return template.kind === 'supervisor'
        ? { specs: 1, active, supervisors: all, workers: 0 }
        : { specs: 1, active, supervisors: 0, workers: all };
    }
    const counts: ChildCounts = { specs: 0, active: 0, supervisors: 0, workers: 0 };
    for (const record of this.#records) {
      counts.specs += 1;
      if (record.status === 'running') counts.active += 1;
      if (record.spec.kind === 'supervisor') counts.supervisors += 1;
      else counts.workers += 1;
    }
    return counts;
  }

  /** Resolves once everything queued before it has been handled (OTP's sys:get_state as a barrier). */
  settled(): Promise<void> {
    return this.#serial(async () => undefined);
  }

  get state(): SupervisorState {
    return this.#state;
  }

  // -------------------------------------------------------- message handling

  /** One thing at a time, in arrival order, like an OTP process's mailbox. */
  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Later, as a new queue entry: OTP's message to self. A restart of one
   * child is kept on its record, so terminating the child cancels it; and the
   * operation itself checks, when it runs, that the restart is still wanted.
   */
  #schedule(delayMs: number, operation: () => Promise<void>, record?: ChildRecord): void {
    if (record !== undefined) this.#cancelRetry(record);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (record !== undefined && record.retry === timer) record.retry = undefined;
      void this.#serial(operation).catch((error: unknown) => this.#internalError(error));
    }, delayMs);
    this.#timers.add(timer);
    if (record !== undefined) record.retry = timer;
  }

  #cancelRetry(record: ChildRecord): void {
    if (record.retry === undefined) return;
    clearTimeout(record.retry);
    this.#timers.delete(record.retry);
    record.retry = undefined;
  }

  /** A restart of `record` is still wanted: nobody stopped, deleted or started it meanwhile. */
  #restartPending(record: ChildRecord): boolean {
    return (
      this.#state === 'running' &&
      this.#records.includes(record) &&
      record.status === 'restarting' &&
      record.handle === undefined
    );
  }

  #watch(record: ChildRecord, handle: RunningChild): void {
    void handle.exited.then((reason) =>
      this.#serial(() => this.#onChildExit(record, handle, reason)).catch((error: unknown) =>
        this.#internalError(error),
      ),
    );
  }

  async #onChildExit(record: ChildRecord, handle: RunningChild, reason: ExitReason): Promise<void> {
    // A child we stopped ourselves is no longer its record's handle: not a failure.
    if (record.handle !== handle || this.#state !== 'running') return;
    record.handle = undefined;
    record.supervisor = undefined;
    record.status = 'stopped';
    record.lastExit = { reason, at: Date.now() };
    const restart = record.spec.restart;
    const restarting = restart === 'permanent' || (restart === 'transient' && !isNormalExit(reason));
    this.#emit({ type: 'child-exited', childId: record.spec.id, reason, restarting });
    if (restarting) {
      record.status = 'restarting';
      await this.#restart(record, reason);
      return;
    }
    // Not restarted: a temporary child, or an instance of a simple_one_for_one supervisor, is gone.
    if (restart === 'temporary' || this.#template !== undefined) this.#removeForGood(record, reason);
    else this.#markStopped(record, reason);
    await this.#autoShutdown(record);
  }

  /**
   * OTP's auto_shutdown: a significant child ended by itself and is not
   * restarted. any_significant: the supervisor shuts down; all_significant:
   * it does once no significant child is left running (or restarting).
   */
  async #autoShutdown(record: ChildRecord): Promise<void> {
    const autoShutdown = this.#flags.autoShutdown;
    if (autoShutdown === 'never' || !record.spec.significant) return;
    if (
      autoShutdown === 'all_significant' &&
      this.#records.some((r) => r.spec.significant && (r.handle !== undefined || r.status === 'restarting'))
    ) {
      return;
    }
    this.#emit({ type: 'auto-shutdown', childId: record.spec.id, autoShutdown });
    this.#state = 'stopping';
    this.#cancelTimers();
    await this.#terminateAll();
    this.#finish({ kind: 'shutdown' });
  }

  // ----------------------------------------------------------- restart logic

  /** One failure, one restart counted, however many children it restarts. */
  async #restart(record: ChildRecord, cause: ExitReason): Promise<void> {
    if (!this.#restartPending(record)) return;
    const now = this.#now();
    const verdict = addRestart(this.#restarts, now, this.#flags.intensity, this.#flags.periodMs);
    this.#restarts = verdict.restarts;
    if (verdict.exceeded) {
      await this.#intensitySpent(record, cause);
      return;
    }
    const delayMs = this.#nextBackoff(now);
    if (delayMs > 0) {
      this.#emit({ type: 'backoff', childId: record.spec.id, delayMs, attempt: this.#backoffAttempt });
      this.#schedule(delayMs, () => this.#restartGroup(record, cause), record);
      return;
    }
    await this.#restartGroup(record, cause);
  }

  #nextBackoff(now: number): number {
    const backoff = this.#flags.backoff;
    if (backoff === undefined) return 0;
    if (now - this.#lastRestartAt >= backoff.resetAfterMs) this.#backoffAttempt = 0;
    else this.#backoffAttempt += 1;
    this.#lastRestartAt = now;
    return backoffDelay(backoff, this.#backoffAttempt, this.#random());
  }

  /** The children a failure of `record` restarts, in start order. */
  #groupOf(record: ChildRecord): ChildRecord[] {
    switch (this.#flags.strategy) {
      case 'one_for_one':
      case 'simple_one_for_one':
        return [record];
      case 'one_for_all':
        return [...this.#records];
      case 'rest_for_one':
        return this.#records.slice(this.#records.indexOf(record));
    }
  }

  async #restartGroup(record: ChildRecord, cause: ExitReason): Promise<void> {
    if (!this.#restartPending(record)) return;
    const group = this.#groupOf(record);
    // The others stop in reverse start order; a temporary bystander is gone for good.
    for (const other of [...group].reverse()) {
      if (other === record || other.handle === undefined) continue;
      await this.#terminate(other);
      if (other.spec.restart === 'temporary') {
        this.#removeForGood(other, 'a temporary child stopped by a group restart');
      }
    }
    const toStart = group.filter((r) => this.#records.includes(r) && r.handle === undefined);
    for (const member of toStart) {
      this.#cancelRetry(member);
      member.status = 'restarting';
    }
    for (const [index, member] of toStart.entries()) {
      try {
        // One that ignores is left not running, and the others start (OTP's start_children).
        if ((await this.#startRecord(member)) === 'started') member.restarts += 1;
      } catch {
        if (this.#state !== 'running') return;
        // As OTP does: the failed member is retried (its retry restarts its group again, so
        // those after it with it); the members after it are not running until then.
        for (const after of toStart.slice(index + 1)) {
          after.status = 'stopped';
          // Not running until that retry: their callers learn it now rather than at their deadline.
          this.#markStopped(after, 'not restarted yet: a child before it failed to start');
        }
        // Each retry costs a restart, so a child that can never start escalates.
        this.#schedule(0, () => this.#restart(member, cause), member);
        return;
      }
    }
    this.#emit({
      type: 'child-restarted',
      childId: record.spec.id,
      strategy: this.#flags.strategy,
      group: toStart.map((r) => r.spec.id),
      cause,
    });
  }

  /** More restarts than the intensity allows within the period. */
  async #intensitySpent(record: ChildRecord, cause: ExitReason): Promise<void> {
    if (!this.#flags.neverGiveUp) {
      this.#emit({
        type: 'give-up',
        childId: record.spec.id,
        intensity: this.#flags.intensity,
        periodMs: this.#flags.periodMs,
      });
      this.#state = 'stopping';
      this.#cancelTimers();
      await this.#terminateAll();
      this.#finish({ kind: 'shutdown' });
      return;
    }
    // Never give up: stop everything, wait, start everything again with a fresh window.
    await this.#terminateAll();
    for (const r of this.#records.filter((r) => r.spec.restart === 'temporary')) {
      this.#removeForGood(r, 'a temporary child stopped when its supervisor restarted all');
    }
    for (const r of this.#records) {
      this.#cancelRetry(r);
      r.status = 'restarting';
    }
    this.#restarts = [];
    const backoff = this.#flags.backoff ?? { ...BACKOFF_FOR_NEVER_GIVE_UP };
    const now = this.#now();
    if (now - this.#lastRestartAt >= backoff.resetAfterMs) this.#backoffAttempt = 0;
    else this.#backoffAttempt += 1;
    this.#lastRestartAt = now;
    const delayMs = backoffDelay(backoff, this.#backoffAttempt, this.#random());
    // Callers (calls, pool tasks) are refused at once meanwhile: say why, and for how long.
    const why = `its supervisor ${this.id} spent its restart intensity: starting it again in ${Math.round(delayMs)} ms`;
    for (const r of this.#records) this.#markStopped(r, why);
    this.#emit({ type: 'backoff', delayMs, attempt: this.#backoffAttempt });
    this.#schedule(delayMs, () => this.#restartAll(cause));
  }

  async #restartAll(cause: ExitReason): Promise<void> {
    if (this.#state !== 'running') return;
    const started: string[] = [];
    for (const record of this.#records) {
      // Skip what an operator stopped meanwhile, or what already runs.
      if (record.status !== 'restarting' || record.handle !== undefined) continue;
      try {
        if ((await this.#startRecord(record)) === 'ignored') continue;
        record.restarts += 1;
        started.push(record.spec.id);
      } catch {
        if (this.#state !== 'running') return;
        // The rest are still to start: the retry starts them all again (each one a restart counted),
        // whatever the strategy, so none is left restarting with nothing scheduled.
        this.#schedule(0, () => this.#retryAll(record, cause));
        return;
      }
    }
    const first = this.#records[0];
    if (first !== undefined && started.length > 0) {
      this.#emit({
        type: 'child-restarted',
        childId: first.spec.id,
        strategy: this.#flags.strategy,
        group: started,
        cause,
      });
    }
  }

  /** A start in `#restartAll` failed: one more restart counted, then the rest start again. */
  async #retryAll(record: ChildRecord, cause: ExitReason): Promise<void> {
    if (this.#state !== 'running') return;
    const verdict = addRestart(this.#restarts, this.#now(), this.#flags.intensity, this.#flags.periodMs);
    this.#restarts = verdict.restarts;
    if (verdict.exceeded) {
      await this.#intensitySpent(record, cause);
      return;
    }
    await this.#restartAll(cause);
  }

  // ------------------------------------------------------- child life cycle

  /**
   * Starts one child. 'ignored' when its init returned 'ignore' (OTP's
   * `{ok, undefined}`): the record is then left not running, and the caller
   * decides whether it is kept. Throws when the start fails.
   */
  async #startRecord(record: ChildRecord): Promise<'started' | 'ignored'> {
    // Never two incarnations of one child.
    if (record.handle !== undefined) return 'started';
    const spec = record.spec;
    let handle: RunningChild;
    try {
      if (spec.kind === 'worker') {
        handle = await this.#system.spawn({
          id: spec.id,
          module: spec.module,
          config: spec.config,
          args: record.args,
          heartbeat: spec.heartbeat,
          startTimeoutMs: spec.startTimeoutMs,
          shutdown: spec.shutdown,
          holder: { kind: 'supervisor', id: this.id },
          ...(spec.resourceLimits === undefined ? {} : { resourceLimits: spec.resourceLimits }),
        });
      } else if (spec.kind === 'pool') {
        handle = await this.#system.startPool({
          id: spec.id,
          module: spec.module,
          minThreads: spec.threads.min,
          maxThreads: spec.threads.max,
          maxQueue: spec.maxQueue,
          idleTimeoutMs: spec.idleTimeoutMs,
          niceIncrement: spec.niceIncrement,
          shutdown: spec.shutdown,
          holder: { kind: 'supervisor', id: this.id },
          ...(spec.resourceLimits === undefined ? {} : { resourceLimits: spec.resourceLimits }),
        });
      } else {
        const child = new Supervisor(
          this.#system,
          { id: spec.id, flags: spec.flags, children: spec.children },
          { events: this.events, now: this.#now, random: this.#random },
        );
        child.incarnation = record.incarnation + 1;
        await child.start();
        record.supervisor = child;
        handle = child;
      }
    } catch (error) {
      if (error instanceof ActorIgnoredError) {
        record.status = 'stopped';
        this.#markStopped(record, 'its init returned ignore');
        this.#emit({ type: 'child-ignored', childId: spec.id });
        if (this.#state !== 'running' && this.#state !== 'idle') throw new SupervisorStoppedError(this.id);
        return 'ignored';
      }
      // The caller decides what the child is now: retried (restarting), or not running.
      this.#emit({ type: 'child-start-failed', childId: spec.id, error: serializeError(error) });
      throw error;
    }
    if (this.#state !== 'running' && this.#state !== 'idle') {
      // Killed while this child was starting: it must not outlive its supervisor.
      record.supervisor = undefined;
      handle.kill();
      throw new SupervisorStoppedError(this.id);
    }
    record.handle = handle;
    record.status = 'running';
    record.incarnation = handle.incarnation;
    this.#emit({ type: 'child-started', childId: spec.id, kind: spec.kind, incarnation: handle.incarnation });
    this.#watch(record, handle);
    return 'started';
  }

  /** Stops one child as its shutdown says; its exit is not treated as a failure. */
  async #terminate(record: ChildRecord): Promise<void> {
    const handle = record.handle;
    if (handle === undefined) return;
    record.handle = undefined;
    record.supervisor = undefined;
    this.#stopping.add(handle);
    const reason = await handle.stop(record.spec.shutdown).finally(() => this.#stopping.delete(handle));
    record.status = 'stopped';
    record.lastExit = { reason, at: Date.now() };
    this.#emit({ type: 'child-terminated', childId: record.spec.id, reason });
  }

  /**
   * Every child, in reverse start order; the instances of a
   * simple_one_for_one supervisor all at once (OTP: they may be many, and
   * their order means nothing), each within its own shutdown timeout.
   */
  async #terminateAll(): Promise<void> {
    if (this.#template !== undefined) {
      const records = [...this.#records];
      await Promise.all(records.map((record) => this.#terminate(record)));
      for (const record of records) this.#markStopped(record, 'its supervisor stopped it');
      return;
    }
    for (const record of [...this.#records].reverse()) {
      await this.#terminate(record);
      this.#markStopped(record, 'its supervisor stopped it');
    }
  }

  #finish(reason: ExitReason, report = true): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#cancelTimers();
    // Instances are gone with their supervisor: their names released, nothing kept of them.
    if (this.#template !== undefined) {
      for (const record of this.#records) this.#release(record, 'its supervisor stopped');
      this.#records = [];
    }
    if (report) this.#emit({ type: 'supervisor-stopped', reason });
    this.#resolveExited(reason);
  }

  #cancelTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #markStopped(record: ChildRecord, why: ExitReason | string): void {
    if (record.spec.kind !== 'supervisor') this.#system.markStopped(record.spec.id, why);
  }

  /** A child that will never come back: its record goes, and an instance's name is released. */
  #removeForGood(record: ChildRecord, why: ExitReason | string): void {
    this.#remove(record);
    if (this.#template !== undefined) this.#release(record, why);
    else this.#markStopped(record, why);
  }

  #release(record: ChildRecord, why: ExitReason | string): void {
    if (record.spec.kind === 'supervisor') return;
    this.#system.forget(record.spec.id, typeof why === 'string' ? why : `stopped after ${describeExit(why)}`);
  }

  // ----------------------------------------------------------------- lookups

  #find(id: string): ChildRecord | undefined {
    return this.#records.find((record) => record.spec.id === id);
  }

  #require(id: string): ChildRecord {
    const record = this.#find(id);
    if (record === undefined) throw new ChildNotFoundError(id);
    return record;
  }

  #remove(record: ChildRecord): void {
    this.#records = this.#records.filter((r) => r !== record);
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new SupervisorStoppedError(this.id);
  }

  // --------------------------------------------------------------- reporting

  #info(record: ChildRecord): ChildInfo {
    const info: ChildInfo = {
      id: record.spec.id,
      kind: record.spec.kind,
      restart: record.spec.restart,
      status: record.status,
      incarnation: record.incarnation,
      restarts: record.restarts,
      lastExit: record.lastExit,
    };
    if (record.supervisor !== undefined) info.children = record.supervisor.whichChildren();
    if (record.spec.kind === 'pool' && record.handle !== undefined) {
      const pool = this.#system.poolStatus(record.spec.id);
      if (pool !== undefined) info.pool = pool;
    }
    return info;
  }

  #emit(event: DistributiveOmit<SupervisionEvent, 'supervisor' | 'at'>): void {
    this.events.emit({ ...event, supervisor: this.id, at: Date.now() } as SupervisionEvent);
  }

  /** A bug in the supervisor itself must be loud, not a silent stall. */
  #internalError(error: unknown): void {
    this.#system.logger.error(
      { supervisor: this.id, err: serializeError(error) },
      'supervisor internal error',
    );
  }
}

/** When a never-give-up supervisor has no backoff configured: 1 s, doubling to 30 s. */
const BACKOFF_FOR_NEVER_GIVE_UP = {
  minMs: 1000,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.1,
  resetAfterMs: 60_000,
};

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function newRecord(spec: NormalizedChildSpec, args: readonly unknown[] = []): ChildRecord {
  return {
    args,
    spec,
    handle: undefined,
    status: 'stopped',
    incarnation: 0,
    restarts: 0,
    lastExit: undefined,
    supervisor: undefined,
    retry: undefined,
  };
}
