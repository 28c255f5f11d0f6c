/**
 * One incarnation of an actor, seen from the main thread: gives a loaded
 * worker its identity, watches its heartbeat, stops it (gracefully, then by
 * force), and works out why it ended. `exited` resolves exactly once, at
 * the first sign of the end, so a restart need not wait for the thread's
 * teardown (a missed heartbeat excepted: see #terminateHung); `slot.gone`
 * says when the thread itself is gone.
 */
import { ActorInitError, deserializeError, serializeError } from './errors.js';
import type { SerializedError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import type { Logger } from './logger.js';
import type { HostToWorker, WorkerToHost } from './messages.js';
import type { WorkerSlot } from './worker-slot.js';
import type { MessagePort } from 'node:worker_threads';

export interface HeartbeatOptions {
  /** How often to ping (default 1000 ms). */
  intervalMs: number;
  /** How long an answer may take before the actor counts as hung (default 3000 ms). */
  timeoutMs: number;
}

/**
 * The tightest heartbeat allowed, in the API and the configuration alike.
 * A deadline that fires late because the main thread was busy is confirmed
 * only after that thread has taken what arrived (see `#ping`), so a busy
 * main thread cannot trip it; what these floors cover is the actor's own
 * thread waiting for a core on a loaded machine. Measured on 2 cores at a
 * load average of 15, with the main thread blocked 30 ms of every 100 ms:
 * 10/20 ms saw false hangs, 50/100 ms and above none (test/runtime/heartbeat.test.ts
 * holds the floors to it).
 */
export const HEARTBEAT_FLOORS = { intervalMs: 100, timeoutMs: 250 } as const;

/** A heartbeat within the floors; returns the field that is not, if any. */
export function heartbeatBelowFloor(heartbeat: HeartbeatOptions): keyof HeartbeatOptions | undefined {
  if (!(heartbeat.intervalMs >= HEARTBEAT_FLOORS.intervalMs)) return 'intervalMs';
  if (!(heartbeat.timeoutMs >= HEARTBEAT_FLOORS.timeoutMs)) return 'timeoutMs';
  return undefined;
}

/** How a child is stopped: a graceful timeout in ms, then kill; kill at once; or wait as long as it takes. */
export type Shutdown = number | 'brutal_kill' | 'infinity';

export interface IncarnationSpec {
  id: string;
  incarnation: number;
  config: unknown;
  args: readonly unknown[];
  heartbeat: HeartbeatOptions | false;
  startTimeoutMs: number;
  traceparent: string;
}

export interface HostEvents {
  /** The worker asked for a ref to a peer. */
  onWantPeer(peerId: string): void;
  onHeartbeat(rttMs: number): void;
  /** The worker handed over telemetry (spans, metrics) for the main thread's exporter. */
  onTelemetry?(payload: unknown): void;
}

export class ActorHost {
  readonly id: string;
  readonly incarnation: number;
  readonly slot: WorkerSlot;
  readonly exited: Promise<ExitReason>;
  #resolveExit!: (reason: ExitReason) => void;
  #reason: ExitReason | undefined;
  readonly #spec: IncarnationSpec;
  readonly #logger: Logger;
  readonly #events: HostEvents;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** The answer deadline of the last ping. */
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Set when that deadline passed: the check, once the event loop has taken what arrived. */
  #deadlineCheck: NodeJS.Immediate | undefined;
  #awaitingPong = false;
  #pingSeq = 0;
  #pingSentAt = 0;
  /** Set when we asked the worker to stop, so its answer means shutdown. */
  #stopRequested = false;
  /** The term of a `{shutdown, Term}` stop (system.exit), for its exit reason. */
  #stopTerm: unknown;
  #killTimer: NodeJS.Timeout | undefined;
  /** The error event of an out-of-memory or an uncaught error our hooks did not catch. */
  #workerError: SerializedError | undefined;
  /** Set when the heartbeat was missed: the thread is being terminated, its end not yet told. */
  #hungAfterMs: number | undefined;
  #hungGraceTimer: NodeJS.Timeout | undefined;

  constructor(slot: WorkerSlot, spec: IncarnationSpec, logger: Logger, events: HostEvents) {
    this.slot = slot;
    this.id = spec.id;
    this.incarnation = spec.incarnation;
    this.#spec = spec;
    this.#logger = logger;
    this.#events = events;
    slot.actorId = spec.id;
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
    slot.worker.on('message', this.#onMessage);
    slot.worker.on('error', this.#onError);
    void slot.gone.then((code) => this.#onThreadGone(code));
  }

  get running(): boolean {
    return this.#reason === undefined;
  }

  /**
   * Resolves 'ready' once init has run in the worker, or 'ignored' when init
   * returned 'ignore' (the incarnation then ends, reason normal); rejects
   * with ActorInitError (and ends the worker) otherwise.
   */
  async start(): Promise<'ready' | 'ignored'> {
    const { id, startTimeoutMs } = this.#spec;
    let startTimer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      startTimer = setTimeout(
        () => reject(new ActorInitError(id, `no answer within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
    });
    const readiness = new Promise<'ready' | 'ignored'>((resolve, reject) => {
      const onMessage = (message: WorkerToHost): void => {
        if (message.type === 'ready') resolve('ready');
        else if (message.type === 'ignored') resolve('ignored');
        else if (message.type === 'init-failed')
          reject(new ActorInitError(id, 'init threw', { cause: deserializeError(message.error) }));
        else return;
        this.slot.worker.off('message', onMessage);
      };
      this.slot.worker.on('message', onMessage);
      void this.exited.then((reason) =>
        reject(new ActorInitError(id, `exited during init: ${reason.kind}`, { cause: reason })),
      );
    });
    try {
      await Promise.race([this.slot.loaded, deadline]);
      this.#startHeartbeat();
      this.slot.post({
        type: 'init',
        id,
        incarnation: this.incarnation,
        config: this.#spec.config,
        args: this.#spec.args,
        traceparent: this.#spec.traceparent,
      });
      const outcome = await Promise.race([readiness, deadline]);
      if (outcome === 'ignored') this.#finish({ kind: 'normal' });
      return outcome;
    } catch (error) {
      readiness.catch(() => undefined);
      this.#finish({ kind: 'killed' });
      await this.slot.terminate();
      throw error instanceof ActorInitError
        ? error
        : new ActorInitError(id, 'could not load', { cause: error });
    } finally {
      clearTimeout(startTimer);
    }
  }

  /** Serve calls from one more ref holder on this port. */
  accept(port: MessagePort): void {
    this.post({ type: 'accept', port });
  }

  post(message: HostToWorker): void {
    if (this.running) this.slot.post(message);
    // A port for an incarnation that is gone: close it, so its other end learns at once.
    else if (message.type === 'accept' || message.type === 'peer-up') message.port.close();
  }

  /**
   * Stops the incarnation as its shutdown says. Resolves with the exit reason:
   * shutdown when it stopped in time, killed when it had to be terminated,
   * or whatever ended it first.
   */
  stop(shutdown: Shutdown, term?: unknown): Promise<ExitReason> {
    if (!this.running) return this.exited;
    if (shutdown === 'brutal_kill') {
      this.kill();
      return this.exited;
    }
    if (!this.#stopRequested) {
      this.#stopRequested = true;
      this.#stopTerm = term;
      this.slot.post({ type: 'stop', reason: 'shutdown' });
      if (shutdown !== 'infinity') this.#killTimer = setTimeout(() => this.kill(), shutdown);
    }
    return this.exited;
  }

  /** Terminates the thread at once; the reason is killed (unless it had already ended). */
  kill(): void {
    this.#finish({ kind: 'killed' });
  }

  /** Terminates the thread at once with a reason of the caller's (an exit signal from outside). */
  exitWith(reason: ExitReason): void {
    this.#finish(reason);
  }

  // ------------------------------------------------------------ messages

  readonly #onMessage = (message: WorkerToHost): void => {
    // Terminated for a missed heartbeat: what it still says changes nothing.
    if (this.#hungAfterMs !== undefined) return;
    switch (message.type) {
      case 'pong':
        this.#onPong(message.seq);
        return;
      case 'stopped':
        if (this.#stopRequested) this.#finish(shutdownReason(this.#stopTerm));
        return;
      case 'exit-self':
        this.#finish(message.reason === 'normal' ? { kind: 'normal' } : shutdownReason(message.term));
        return;
      case 'crash':
        this.#finish({ kind: 'crash', error: message.error, origin: message.origin });
        return;
      case 'want-peer':
        this.#events.onWantPeer(message.peerId);
        return;
      case 'log':
        this.#log(message.level, message.msg, message.fields);
        return;
      case 'telemetry':
        this.#events.onTelemetry?.(message.payload);
        return;
      default:
        return;
    }
  };

  readonly #onError = (error: Error): void => {
    this.#workerError = serializeError(error);
    if ((error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
      this.#finish({ kind: 'oom', error: this.#workerError });
    }
  };

  #onThreadGone(code: number): void {
    // An out-of-memory during the termination was told by its error event, before this.
    if (this.#hungAfterMs !== undefined) {
      this.#finish({ kind: 'hung', timeoutMs: this.#hungAfterMs });
      return;
    }
    const error = this.#workerError ?? (this.slot.lastError && serializeError(this.slot.lastError));
    if (error !== undefined) {
      this.#finish({ kind: 'crash', error, origin: 'uncaughtException' });
    } else {
      this.#finish({ kind: 'process-exit', code });
    }
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    this.#logger[level]({ ...fields, actor: this.id, incarnation: this.incarnation }, msg);
  }

  // ----------------------------------------------------------- heartbeat

  #startHeartbeat(): void {
    const heartbeat = this.#spec.heartbeat;
    if (heartbeat === false || this.#heartbeatTimer !== undefined) return;
    this.#heartbeatTimer = setTimeout(() => this.#ping(heartbeat), heartbeat.intervalMs);
  }

  #ping(heartbeat: HeartbeatOptions): void {
    this.#heartbeatTimer = undefined;
    if (!this.running) return;
    this.#pingSeq += 1;
    this.#pingSentAt = performance.now();
    this.slot.post({ type: 'ping', seq: this.#pingSeq });
    const seq = this.#pingSeq;
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      // The deadline may fire late, after this thread was busy: the answer may have arrived
      // meanwhile and wait in the queue behind the timers. setImmediate runs after the event
      // loop has taken what arrived, so a busy main thread never reads as a hung actor.
      this.#deadlineCheck = setImmediate(() => {
        this.#deadlineCheck = undefined;
        if (seq !== this.#pingSeq || !this.#awaitingPong || !this.running) return;
        this.#logger.warn({ actor: this.id, timeoutMs: heartbeat.timeoutMs }, 'actor missed its heartbeat');
        this.#terminateHung(heartbeat.timeoutMs);
      });
    }, heartbeat.timeoutMs);
    this.#awaitingPong = true;
  }

  #onPong(seq: number): void {
    const heartbeat = this.#spec.heartbeat;
    if (seq !== this.#pingSeq || heartbeat === false || !this.running) return;
    this.#clearDeadline();
    this.#awaitingPong = false;
    this.#events.onHeartbeat(performance.now() - this.#pingSentAt);
    this.#heartbeatTimer = setTimeout(() => this.#ping(heartbeat), heartbeat.intervalMs);
  }

  #clearDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    clearImmediate(this.#deadlineCheck);
    this.#deadlineTimer = undefined;
    this.#deadlineCheck = undefined;
  }

  /**
   * A missed heartbeat ends the thread, but the reason waits for the thread's
   * end, for as long again as the heartbeat's timeout at most: a worker whose
   * collector works near its heap limit answers no ping either, and when its
   * limit is reached before the termination takes, Node tells that with the
   * ERR_WORKER_OUT_OF_MEMORY error event (#onError): the reason is then oom,
   * not hung. A busy loop ends at once (hung); a thread that will not end
   * (blocked in native code) is told hung at the grace's end all the same.
   */
  #terminateHung(timeoutMs: number): void {
    this.#hungAfterMs = timeoutMs;
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#hungGraceTimer = setTimeout(() => this.#finish({ kind: 'hung', timeoutMs }), timeoutMs);
    void this.slot.terminate();
  }

  // ---------------------------------------------------------------- end

  /** The first reason wins; the thread is ended if it still runs; every timer is released. */
  #finish(reason: ExitReason): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    clearTimeout(this.#heartbeatTimer);
    this.#clearDeadline();
    clearTimeout(this.#killTimer);
    clearTimeout(this.#hungGraceTimer);
    this.#heartbeatTimer = this.#killTimer = this.#hungGraceTimer = undefined;
    this.slot.worker.off('message', this.#onMessage);
    void this.slot.terminate();
    this.#resolveExit(reason);
  }
}

function shutdownReason(term: unknown): ExitReason {
  return term === undefined ? { kind: 'shutdown' } : { kind: 'shutdown', term };
}
