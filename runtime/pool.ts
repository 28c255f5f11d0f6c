/**
 * Pools: the host side of stateless, CPU-bound work on piscina. Actors keep a
 * thread of their own for their state; a pool hands each task to whichever of
 * its threads is free. A pool is a child of a supervision tree like an actor:
 * one `PoolIncarnation` per start (a piscina instance), and one `PoolRef` per
 * id that follows its incarnations, as an actor's ref does.
 *
 * What settles a task, and how:
 * - it returns: `run` resolves with its value; it throws: `run` rejects with
 *   that error, rebuilt as its own class with its `code` (pool-task.ts);
 * - its thread dies under it (process.exit, out of memory): that task only
 *   rejects, PoolTaskCrashedError; piscina replaces the thread;
 * - its AbortSignal fires: PoolTaskAbortedError, at once, whether it was
 *   queued (taken out of the queue) or running (its thread is stopped and
 *   replaced: a CPU-bound task cannot be asked to stop);
 * - the queue is full (maxQueue): PoolQueueFullError, and it is not queued;
 * - its pool ends (stopped, restarted, killed) with the task queued or not
 *   finished within the shutdown timeout: PoolStoppedError. It is not run
 *   again on the next incarnation: the caller decides whether to resubmit.
 *
 * A task submitted while the pool is between incarnations (restarting)
 * waits for the next one, as a call waits for a restarting actor: at most
 * `waitMs` (the system's call timeout), at most `waitLimit` of them, then
 * PoolStoppedError / PoolQueueFullError; at once PoolStoppedError when the
 * pool is stopped for good.
 *
 * What makes a pool exit by itself (for its supervisor): piscina's 'error'
 * event, an error in one of its threads that no task can be blamed for (an
 * exception thrown while no task ran, a module that fails to load). That is
 * a crash of the pool, restarted as its restart type says and counted
 * against its supervisor's intensity, so a broken module escalates. A thread
 * dying during a task is that task's failure, not the pool's.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { MessagePort, ResourceLimits, TransferListItem, Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import {
  NotAPoolTaskError,
  PoolQueueFullError,
  PoolStoppedError,
  PoolTaskAbortedError,
  PoolTaskCrashedError,
  deserializeError,
  serializeError,
} from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { describeExit } from './exit-reason.js';
import type { Shutdown } from './host.js';
import { isPoolAnswer } from './pool-messages.js';
import { piscinaFailure } from './piscina-errors.js';

/** What it takes to run one pool incarnation (supervisors/spec.ts fills it from a child spec). */
export interface PoolSpec {
  id: string;
  /** File URL or path of the task module (its default export is `definePoolTask(fn)`). */
  module: string;
  /** Threads kept alive even when idle (started with the pool). */
  minThreads: number;
  /** Threads at most; more tasks than this wait in the queue. */
  maxThreads: number;
  /** Tasks that may wait for a thread; one more is refused (PoolQueueFullError). */
  maxQueue: number;
  /** A thread above minThreads with nothing to do is stopped after this long. */
  idleTimeoutMs: number;
  resourceLimits?: ResourceLimits;
  /** Lower the threads' scheduling priority (Linux nice) by this much; 0 for none. */
  niceIncrement: number;
  /** How long a stop lets running tasks finish before their threads are terminated. */
  shutdown: Shutdown;
  /** The window `utilization` is measured over (default UTILIZATION_WINDOW_MS). */
  utilizationWindowMs?: number;
}

/** A pool's state as the tree's status shows it. */
export interface PoolStatus {
  /** Threads alive now. */
  threads: number;
  /** Tasks waiting for a thread. */
  queueSize: number;
  /** Tasks on a thread now. */
  running: number;
  /**
   * 0..1: how busy the pool is now: the share of its capacity (maxThreads
   * threads) its threads spent busy over the last complete window
   * (UTILIZATION_WINDOW_MS, 5 s), from their event-loop utilisation. 0 until
   * the first window ends.
   */
  utilization: number;
  /** Tasks that ran to their end (a value or their own error) since this incarnation started. */
  completed: number;
  /** Of those, the ones whose task threw. */
  failed: number;
}

export interface PoolRunOptions {
  /** Cancels the task: queued, it leaves the queue; running, its thread is stopped (and replaced). */
  signal?: AbortSignal;
  /** Moved to the pool thread, not copied (ArrayBuffers, MessagePorts in the task). */
  transferList?: readonly TransferListItem[];
}

/** A pool by id, across its restarts (from `system.pool(id)`). */
export interface PoolRef<Task = unknown, Result = unknown> {
  readonly id: string;
  /** Runs one task on the pool: see the module comment for how it settles. */
  run(task: Task, options?: PoolRunOptions): Promise<Result>;
  /** The running incarnation's state; undefined while none runs. */
  status(): PoolStatus | undefined;
  /**
   * Why the pool refuses tasks at once now (stopped, or its supervisor
   * backing off after spending its intensity); undefined while it runs or
   * is between two incarnations of a quick restart (tasks then wait).
   */
  down(): string | undefined;
}

const NOTHING_TO_TRANSFER: readonly TransferListItem[] = [];

/**
 * The window a pool's utilisation is measured over. piscina's own figure is
 * an average since the pool started over finished tasks only: a pool busy
 * for a minute on one long task shows 0 until it ends, and an idle pool
 * shows its busy past for ever. People reading the tree want now.
 */
export const UTILIZATION_WINDOW_MS = 5000;

/** Largest timer delay Node accepts: a shutdown of 'infinity' waits this long, i.e. for ever in practice. */
const FOREVER_MS = 2 ** 31 - 1;

type PoolState = 'running' | 'stopping' | 'ended';

/** One start of a pool: a piscina instance, ended once (stop, kill, or its own failure). */
export class PoolIncarnation {
  readonly id: string;
  readonly incarnation: number;
  /** Resolves with why it ended, once its threads are gone. */
  readonly exited: Promise<ExitReason>;
  readonly #spec: PoolSpec;
  readonly #piscina: Piscina;
  #state: PoolState = 'running';
  #reason: ExitReason | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #resolveExited!: (reason: ExitReason) => void;
  #inFlight = 0;
  #completed = 0;
  #failed = 0;
  readonly #utilization: UtilizationMeter;

  constructor(spec: PoolSpec, incarnation: number) {
    this.id = spec.id;
    this.incarnation = incarnation;
    this.#spec = spec;
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    this.#piscina = new Piscina({
      filename: spec.module,
      minThreads: spec.minThreads,
      maxThreads: spec.maxThreads,
      maxQueue: spec.maxQueue,
      idleTimeout: spec.idleTimeoutMs,
      niceIncrement: spec.niceIncrement,
      closeTimeout: typeof spec.shutdown === 'number' ? spec.shutdown : FOREVER_MS,
      // With 'sync', an idle thread parks in Atomics.wait and timers a task started do not fire.
      atomics: 'disabled',
      ...(spec.resourceLimits === undefined ? {} : { resourceLimits: spec.resourceLimits }),
    });
    this.#utilization = new UtilizationMeter(
      () => this.#piscina.threads,
      spec.maxThreads,
      spec.utilizationWindowMs ?? UTILIZATION_WINDOW_MS,
    );
    // Listened to for its whole life: piscina throws an 'error' nobody listens to (the process dies).
    this.#piscina.on('error', (error: unknown) => {
      if (this.#state !== 'running') return;
      this.#end({ kind: 'crash', error: serializeError(error), origin: 'uncaughtException' });
    });
  }

  /** False from the moment it begins to end (stop, kill, failure): it takes no more tasks. */
  get running(): boolean {
    return this.#state === 'running';
  }

  /** One promise step over piscina's own (no async wrapper): the bench holds it to piscina's round trip. */
  run(task: unknown, options: PoolRunOptions = {}): Promise<unknown> {
    if (this.#state !== 'running') return Promise.reject(this.#stoppedError());
    const signal = options.signal;
    this.#inFlight += 1;
    const transferList = (options.transferList ?? NOTHING_TO_TRANSFER) as TransferListItem[];
    return this.#piscina.run(task, signal === undefined ? { transferList } : { signal, transferList }).then(
      (answer: unknown) => {
        this.#inFlight -= 1;
        if (!isPoolAnswer(answer)) {
          throw new NotAPoolTaskError(
            this.id,
            this.#spec.module,
            'its default export is not definePoolTask(fn)',
          );
        }
        this.#completed += 1;
        if (answer.ok) return answer.value;
        this.#failed += 1;
        throw deserializeError(answer.error);
      },
      (error: unknown) => {
        this.#inFlight -= 1;
        throw this.#taskError(error, signal);
      },
    );
  }

  status(): PoolStatus {
    const queueSize = this.#piscina.queueSize;
    return {
      threads: this.#piscina.threads.length,
      queueSize,
      running: Math.max(0, this.#inFlight - queueSize),
      utilization: this.#utilization.last,
      completed: this.#completed,
      failed: this.#failed,
    };
  }

  /**
   * Takes no more tasks, refuses the queued ones (PoolStoppedError), lets the
   * running ones finish within `shutdown` ms, then terminates their threads
   * (those tasks reject PoolStoppedError; the reason is then killed).
   */
  stop(shutdown: Shutdown): Promise<ExitReason> {
    if (this.#state !== 'running') return this.exited;
    if (shutdown === 'brutal_kill') {
      this.kill();
      return this.exited;
    }
    this.#state = 'stopping';
    if (typeof shutdown === 'number') {
      this.#killTimer = setTimeout(() => this.#end({ kind: 'killed' }), shutdown);
    }
    this.#piscina.close({ force: true }).then(
      () => this.#end({ kind: 'shutdown' }),
      (error: unknown) =>
        this.#end({ kind: 'crash', error: serializeError(error), origin: 'uncaughtException' }),
    );
    return this.exited;
  }

  /** Ends it at once: queued and running tasks reject PoolStoppedError. */
  kill(): void {
    this.#end({ kind: 'killed' });
  }

  /**
   * A pool takes tasks, not calls: an actor ref to its name (the system
   * offers every name's holder a channel) gets none.
   */
  accept(port: MessagePort): void {
    port.close();
  }

  /** As `system.exit` ends an actor from outside. */
  exitWith(reason: ExitReason): void {
    this.#end(reason);
  }

  #end(reason: ExitReason): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#reason = reason;
    clearTimeout(this.#killTimer);
    this.#utilization.stop();
    // destroy() rejects what is left and resolves once every thread has exited.
    void this.#piscina.destroy().then(
      () => this.#resolveExited(reason),
      () => this.#resolveExited(reason),
    );
  }

  #stoppedError(): PoolStoppedError {
    const reason = this.#reason;
    return new PoolStoppedError(
      this.id,
      reason === undefined ? 'stopping' : `ended (${describeExit(reason)})`,
      { incarnation: this.incarnation, ...(reason === undefined ? {} : { exit: reason.kind }) },
    );
  }

  /** What piscina's rejection means for the caller. */
  #taskError(error: unknown, signal: AbortSignal | undefined): Error {
    if (signal?.aborted === true) return new PoolTaskAbortedError(this.id, signal.reason);
    if (this.#state !== 'running') return this.#stoppedError();
    // Every other rejection is one of ours too: piscina's own errors carry no code (piscina-errors.ts).
    switch (piscinaFailure(error)) {
      case 'queue-full':
        return new PoolQueueFullError(this.id, this.#spec.maxQueue);
      case 'no-handler':
        return new NotAPoolTaskError(this.id, this.#spec.module, 'it has no default export');
      case 'other':
        return new PoolTaskCrashedError(this.id, error);
    }
  }
}

/**
 * How busy a pool's threads were over the last window: each thread's
 * event-loop utilisation (the time its loop was not waiting: a CPU-bound
 * task, loading its module), measured from the main thread, summed over the
 * threads alive at the window's end and divided by the window times
 * maxThreads. A task still running counts (piscina's own figure waits for
 * it to end); a thread that ended within the window takes its share with it.
 */
class UtilizationMeter {
  last = 0;
  readonly #threads: () => readonly Worker[];
  readonly #capacity: number;
  readonly #timer: NodeJS.Timeout;
  #from = performance.now();
  #seen = new WeakMap<Worker, EventLoopUtilization>();

  constructor(threads: () => readonly Worker[], maxThreads: number, windowMs: number) {
    this.#threads = threads;
    this.#capacity = maxThreads;
    this.#timer = setInterval(() => this.#sample(), windowMs);
    // A measure only: it must not hold the process open.
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sample(): void {
    const now = performance.now();
    let busyMs = 0;
    const seen = new WeakMap<Worker, EventLoopUtilization>();
    for (const thread of this.#threads()) {
      const total = thread.performance.eventLoopUtilization();
      const before = this.#seen.get(thread);
      // A thread new in this window: all its busy time is in it.
      busyMs += before === undefined ? total.active : total.active - before.active;
      seen.set(thread, total);
    }
    this.#seen = seen;
    const elapsedMs = now - this.#from;
    this.#from = now;
    this.last = elapsedMs <= 0 ? 0 : Math.min(1, Math.max(0, busyMs / (elapsedMs * this.#capacity)));
  }
}

/** The module must be a file that exists: a typo fails the start, not every task. */
export async function checkPoolModule(id: string, module: string): Promise<void> {
  let path: string;
  try {
    path = module.startsWith('file:') ? fileURLToPath(module) : module;
  } catch (error) {
    throw new NotAPoolTaskError(id, module, `not a file URL or path (${String(error)})`);
  }
  const found = await stat(path).catch(() => undefined);
  if (found === undefined || !found.isFile()) throw new NotAPoolTaskError(id, module, 'no such file');
}

/** Limits of a PoolRef's wait for a pool between incarnations. */
export interface PoolRefOptions {
  waitMs: number;
  waitLimit: number;
}

interface Waiter {
  start(pool: PoolIncarnation): void;
  fail(error: Error): void;
}

/**
 * The ref behind `system.pool(id)`: runs tasks on the current incarnation,
 * holds them (bounded, with a deadline) while there is none.
 */
export class PoolRefCore implements PoolRef {
  readonly id: string;
  readonly #options: PoolRefOptions;
  #current: PoolIncarnation | undefined;
  #stoppedWhy: string | undefined;
  readonly #waiting = new Set<Waiter>();

  constructor(id: string, options: PoolRefOptions) {
    this.id = id;
    this.#options = options;
  }

  run(task: unknown, options: PoolRunOptions = {}): Promise<unknown> {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new PoolTaskAbortedError(this.id, signal.reason));
    const current = this.#current;
    if (current?.running === true) return current.run(task, options);
    if (this.#stoppedWhy !== undefined) {
      return Promise.reject(new PoolStoppedError(this.id, this.#stoppedWhy, {}));
    }
    if (this.#waiting.size >= this.#options.waitLimit) {
      return Promise.reject(new PoolQueueFullError(this.id, this.#options.waitLimit));
    }
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.#waiting.delete(waiter);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        start: (pool) => {
          done();
          pool.run(task, options).then(resolve, reject);
        },
        fail: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.fail(new PoolTaskAbortedError(this.id, signal?.reason));
      const timer = setTimeout(
        () =>
          waiter.fail(
            new PoolStoppedError(
              this.id,
              `not running, and not restarted within ${this.#options.waitMs} ms`,
              {},
            ),
          ),
        this.#options.waitMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(waiter);
    });
  }

  status(): PoolStatus | undefined {
    return this.#current?.running === true ? this.#current.status() : undefined;
  }

  down(): string | undefined {
    return this.#current?.running === true ? undefined : this.#stoppedWhy;
  }

  /** A new incarnation: the tasks waiting for one start on it, in the order they came. */
  connect(pool: PoolIncarnation): void {
    this.#current = pool;
    this.#stoppedWhy = undefined;
    for (const waiter of [...this.#waiting]) waiter.start(pool);
  }

  /** The incarnation ended: `stopped` when nothing will restart it (its waiting tasks reject now). */
  disconnect(stopped: boolean, why: string): void {
    this.#current = undefined;
    if (!stopped) return;
    this.#stoppedWhy = why;
    for (const waiter of [...this.#waiting]) waiter.fail(new PoolStoppedError(this.id, why, {}));
  }
}
