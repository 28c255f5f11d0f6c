/**
 * Synchronization: brings each new link to the controller from Connected to
 * Synchronized, and keeps it there.
 *
 * For every connection generation g, in order:
 *  1. handshake: wait for the controller's `!SPARK` handshake, sending a
 *     NONE every `handshakePingMs` (the controller answers each with one),
 *     up to `handshakeTimeoutMs`; then disconnect (policy
 *     `recovery.handshakeTimeout`). A controller that answers nothing at all
 *     (no handshake, no NONE) for `silentMs` (the watchdog's idle + timeout)
 *     is disconnected then, as quickly as a silent Synchronized link is.
 *     After listening mode (below) the handshake a new connection is greeted
 *     with is not taken: the controller greets even while it answers
 *     nothing, so the link is held here, pinging, until a NONE is answered
 *     (or handshakeTimeoutMs passes).
 *  2. acknowledge: check the firmware's proto_version and the device id
 *     (`compat.ts`) and ask the kernel for Acknowledged with the result. An
 *     incompatible or wrong controller stays Acknowledged with the error on
 *     record: no sync, no disconnect, so no reconnect loop.
 *  3. sync steps, each through commander from Acknowledged: set the clock
 *     (block 3), load the block store from the datastore, read and resume
 *     the trace (block 2); then ask for Synchronized. Each command step has
 *     its own deadline (`stepTimeoutMs`, shorter than the commander's). A
 *     step that fails disconnects (policy `recovery.syncError`); it never
 *     exits. A failure that repeats on every link is logged once (then once
 *     per 5 minutes); connection backs off between such links. Loading the
 *     block store never fails the sync: without it the service goes on
 *     with an empty store and says so (`#loadBlocks`).
 *  4. while Synchronized: set the clock again every `clockResyncMs`.
 *
 * Events: a handshake that differs from the acknowledged one means the
 * controller reset (its pending requests will never be answered), so the
 * link is dropped and the sequence runs again on the next one; a repeat of
 * the acknowledged handshake is the controller's echo of a NONE or VERSION
 * request and is ignored. Listening mode disconnects (`recovery.listeningMode`),
 * asking connection to wait `listeningRetryMs` before the next link, and is
 * remembered until the controller answers again: the next links are held in
 * Connected (see 1) rather than synchronized against a controller that
 * cannot answer, and a `<!SETUP_MODE>` on them does not disconnect again. A
 * held link is silent on purpose, so the silence rule of step 1 leaves it
 * alone; the handshake wait (`handshakeTimeoutMs`) bounds it, and then a new
 * link is tried after the same short wait. So a long listening mode costs
 * one NONE every `handshakePingMs` and one connection every two minutes,
 * and the service is Synchronized within about `handshakePingMs` of the
 * controller leaving it.
 *
 * Everything a generation starts (timers, the ping loop, the sync steps)
 * belongs to its `Run`, which is cancelled as soon as the kernel's state
 * moves to another generation or to Disconnected. Kernel states and events
 * come on different channels with no order between them, so an event naming
 * a generation newer than the last state seen first catches up with
 * `kernel.state()`, and nothing is done for a generation that is not current.
 *
 * Autoconnecting (`KernelState.autoconnecting`) only decides whether
 * connection opens new links; a link that is open is brought in sync
 * whatever the flag says (it was opened while the flag was on, or by an
 * operator's explicit reconnect), rather than left half-done in Connected.
 */
import type {
  Block,
  Handshake,
  Opcode,
  RequestPayload,
  ResponsePayload,
  TraceEntry,
  ControllerEvent,
} from '../../protocol/index.js';
import {
  RESET_DATA,
  RESET_REASONS,
  SYSINFO_BLOCK_ID,
  TICKS_BLOCK_ID,
  TRACE_READ_RESUME,
  isJsonObject,
} from '../../protocol/index.js';
import type { CommandOptions, KernelState, SynchronizationStatus } from '../../contracts/actors.js';
import type { AckInfo, TransitionRequest } from '../../contracts/phase.js';
import type { ComponentReport } from '../../contracts/component.js';
import { comparePhases } from '../../contracts/phase.js';
import type { ActorLogger } from '../../runtime/actor.js';
import type { TetherConfig } from '../../config/schema.js';
import { TetherError, describe } from '../../errors/index.js';
import { LogLimiter } from '../../runtime/log-limiter.js';
import { assessHandshake, sameHandshake } from './compat.js';
import type { BlockDatastore, LoadResult, StoredBlocks } from './datastore.js';
import { HandshakeTimeoutError, ListeningModeError, SyncStepError } from './errors.js';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import { tracer } from '../../otel/instruments.js';
import { ATTR, SPANS } from '../../otel/names.js';

// ------------------------------------------------------------------ types

export type SyncStep =
  | 'idle'
  | 'handshake'
  | 'listening'
  | 'set-clock'
  | 'load-blocks'
  | 'read-trace'
  | 'synchronized'
  | 'incompatible'
  | 'wrong-device';

export type RecoveryAction = 'disconnect' | 'restart';

export interface SynchronizationConfig {
  /** `device.id`: '' accepts any controller. */
  deviceId: string;
  handshakeTimeoutMs: number;
  handshakePingMs: number;
  skipVersionCheck: boolean;
  clockResyncMs: number;
  /** Deadline of each sync command (`synchronization.stepTimeoutMs`). */
  stepTimeoutMs: number;
  /** A Connected link that answers nothing this long is dropped (watchdog idleMs + timeoutMs). */
  silentMs: number;
  /** After listening mode, connection waits this long before the next link (connection.retry.initialMs). */
  listeningRetryMs: number;
  recovery: { handshakeTimeout: RecoveryAction; syncError: RecoveryAction; listeningMode: RecoveryAction };
}

export function synchronizationConfig(config: TetherConfig): SynchronizationConfig {
  const { recovery } = config;
  return {
    deviceId: config.device.id,
    handshakeTimeoutMs: config.synchronization.handshakeTimeoutMs,
    handshakePingMs: config.synchronization.handshakePingMs,
    skipVersionCheck: config.synchronization.skipVersionCheck,
    clockResyncMs: config.synchronization.clockResyncMs,
    stepTimeoutMs: config.synchronization.stepTimeoutMs,
    silentMs: config.watchdog.idleMs + config.watchdog.timeoutMs,
    listeningRetryMs: config.connection.retry.initialMs,
    recovery: {
      handshakeTimeout: recovery.handshakeTimeout,
      syncError: recovery.syncError,
      listeningMode: recovery.listeningMode,
    },
  };
}

/** What synchronization needs of commander. */
export interface CommanderPort {
  request<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options?: CommandOptions,
  ): Promise<ResponsePayload<O>>;
}

/** What synchronization needs of the kernel (calls over a ref, hence promises). */
export interface KernelPort {
  state(): Promise<KernelState>;
  transition(request: TransitionRequest): Promise<KernelState>;
  disconnect(generation: number, reason: string, retryInMs?: number): Promise<boolean>;
  /** A fact about the controller for its component state (a cast: nothing waits for it). */
  component?(generation: number, report: ComponentReport): void;
}

/** Whatever `setTimeout` returned; only handed back to `clearTimeout`. */
export type TimerHandle = unknown;

/** Time, injectable so the tests step it by hand. */
export interface Timers {
  /** ms since epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SynchronizerDeps {
  commander: CommanderPort;
  kernel: KernelPort;
  datastore: BlockDatastore;
  log: ActorLogger;
  timers: Timers;
  config: SynchronizationConfig;
  /** Ends this incarnation as a crash, for the `restart` recovery policies. Must not return normally into more work. */
  crash(error: Error): void;
}

// -------------------------------------------------------------------- run

/** Everything one connection generation owns; cancelled when the kernel moves on. */
class Run {
  readonly generation: number;
  step: SyncStep = 'handshake';
  /** The handshake acknowledged (or being acknowledged) for this generation. */
  handshake: Handshake | undefined;
  acknowledged = false;
  syncStarted = false;
  synchronized = false;
  cancelled = false;
  readonly timers = new Set<TimerHandle>();
  handshakeTimers: TimerHandle[] = [];
  /** Trace context of the state that started this run (the connection attempt's): parent of its spans. */
  readonly parent: Context;
  handshakeSpan: Span | undefined;
  pings = 0;
  /** A handshake ping of this link was answered. */
  answered = false;
  /** The last handshake that came while held after listening mode (taken once the controller answers). */
  held: Handshake | undefined;

  /** When the kernel took this link (ms since epoch): silence counts from there, not from when we heard. */
  readonly since: number;

  constructor(generation: number, parent: Context, since: number) {
    this.generation = generation;
    this.parent = parent;
    this.since = since;
  }
}

// ------------------------------------------------------------ synchronizer

export class Synchronizer {
  readonly #deps: SynchronizerDeps;
  readonly #config: SynchronizationConfig;
  #known: KernelState | null = null;
  #run: Run | null = null;
  #events: Promise<void> = Promise.resolve();
  #lastError: string | null = null;
  /** The last incompatibility logged as an error, so a controller that keeps reconnecting is not logged every time. */
  #lastAckProblem: string | null = null;
  /** Step failures by step and code: one line each, then one per period, until a link gets Synchronized. */
  #failureLogs = newFailureLogs();
  /** The controller said it is in listening mode, and has not answered anything since. */
  #listening = false;
  #store: StoredBlocks | null = null;
  /** Why the datastore could not be used on the last load, or null when it could. */
  #datastore: SynchronizationStatus['datastore'] = null;
  #closed = false;

  constructor(deps: SynchronizerDeps) {
    this.#deps = deps;
    this.#config = deps.config;
  }

  // ------------------------------------------------------------ public API

  /** Learns the current state from the kernel (after a restart the link may already be open). */
  async start(): Promise<void> {
    await this.#catchUp();
  }

  onKernelState(state: KernelState): void {
    this.#adopt(state);
  }

  /** Events are handled one at a time, in arrival order, even when one has to wait for a catch-up. */
  onEvent(generation: number, event: ControllerEvent): Promise<void> {
    return this.#inTurn(() => this.#handleEvent(generation, event));
  }

  /** Runs `work` after every event already queued, and before any queued later. */
  #inTurn(work: () => Promise<void>): Promise<void> {
    const next = this.#events.then(work);
    this.#events = next.catch(() => undefined);
    return next;
  }

  status(): SynchronizationStatus {
    return { step: this.#run?.step ?? 'idle', lastError: this.#lastError, datastore: this.#datastore };
  }

  /** The block store loaded for the current controller, if any. */
  get store(): StoredBlocks | null {
    return this.#store;
  }

  /** Clears every timer; nothing runs afterwards. Pending commander calls settle on their own. */
  close(): void {
    this.#closed = true;
    this.#endRun();
  }

  // ------------------------------------------------------------ kernel state

  #adopt(state: KernelState): void {
    if (this.#closed) return;
    if (this.#known !== null && comparePhases(state.phase, this.#known.phase) < 0) return; // older news
    this.#known = state;
    const phase = state.phase;
    if (phase.name === 'Disconnected') {
      this.#endRun();
      return;
    }
    let run = this.#run;
    if (run === null || run.generation !== phase.generation) {
      this.#endRun();
      run = new Run(phase.generation, context.active(), phase.since);
      this.#run = run;
      if (phase.name === 'Connected') this.#startHandshake(run);
    }
    // A state further on than this run got by itself: our own transition's
    // reply, or (after a restart of this actor) a link already acknowledged.
    if (phase.name === 'Acknowledged' || phase.name === 'Synchronized') {
      run.handshake ??= phase.ack.handshake;
      this.#onAcknowledged(run, phase.ack, phase.name === 'Acknowledged');
    }
    if (phase.name === 'Synchronized') this.#onSynchronized(run, phase.sync);
  }

  async #catchUp(): Promise<void> {
    try {
      this.#adopt(await this.#deps.kernel.state());
    } catch (error) {
      this.#deps.log.warn('could not read the kernel state', { error: describe(error) });
    }
  }

  #isCurrent(run: Run): boolean {
    return !this.#closed && !run.cancelled && this.#run === run;
  }

  #endRun(): void {
    const run = this.#run;
    if (run === null) return;
    run.cancelled = true;
    this.#endHandshakeSpan(run, undefined, 'cancelled');
    for (const handle of run.timers) this.#deps.timers.clearTimeout(handle);
    run.timers.clear();
    this.#run = null;
  }

  /** A timer owned by `run`: cleared with it, and never firing into a cancelled run. */
  #after(run: Run, ms: number, fn: () => void): TimerHandle {
    const handle = this.#deps.timers.setTimeout(() => {
      run.timers.delete(handle);
      if (this.#isCurrent(run)) fn();
    }, ms);
    run.timers.add(handle);
    return handle;
  }

  #clearTimer(run: Run, handle: TimerHandle): void {
    this.#deps.timers.clearTimeout(handle);
    run.timers.delete(handle);
  }

  // --------------------------------------------------------------- handshake

  #startHandshake(run: Run): void {
    run.step = 'handshake';
    const { handshakePingMs, handshakeTimeoutMs } = this.#config;
    const span = tracer.startSpan(
      SPANS.handshake,
      { attributes: { [ATTR.generation]: run.generation } },
      run.parent,
    );
    run.handshakeSpan = span;
    const inSpan = span.isRecording() ? trace.setSpan(run.parent, span) : run.parent;
    const ping = (): void => {
      if (run.handshake !== undefined) return;
      run.pings += 1;
      // Not awaited: a NONE that is slow to answer must not hold back the next one.
      context
        .with(inSpan, () =>
          // Internal: its failure is ours to judge (logged below), not a timeout for the commander's log.
          this.#deps.commander.request('NONE', undefined, { minPhase: 'Connected', internal: true }),
        )
        .then(
          () => this.#onPingAnswered(run),
          (error: unknown) => {
            this.#deps.log.debug('handshake ping failed', {
              generation: run.generation,
              error: describe(error),
            });
          },
        );
      run.handshakeTimers.push(this.#after(run, handshakePingMs, ping));
    };
    // The first ping goes out on the next turn, not now: when this run was
    // created to handle a handshake that already arrived, that handshake is
    // processed first and no ping is needed at all.
    run.handshakeTimers.push(this.#after(run, 0, ping));
    // Nothing at all from the controller: dropped as quickly as the watchdog drops a silent
    // Synchronized link. Counted from the kernel's Connected: this actor may hear of the link late
    // (it starts after connection, and a busy machine delays the cast). A ping period at least, so
    // a link found late (after a restart of this actor) still gets its chance to answer.
    const { silentMs } = this.#config;
    const silentFor = Math.max(0, this.#deps.timers.now() - run.since);
    const silenceDueIn = Math.max(Math.min(silentMs, handshakePingMs), silentMs - silentFor);
    run.handshakeTimers.push(
      this.#after(run, silenceDueIn, () => {
        // A link held after listening mode is silent on purpose; the handshake wait below bounds it.
        if (run.handshake !== undefined || run.answered || this.#listening) return;
        const error = new HandshakeTimeoutError(run.generation, silentMs);
        this.#lastError = error.message;
        this.#endHandshakeSpan(run, error.message, 'silent');
        const reason = `controller silent: no handshake and no answer within ${silentMs} ms`;
        this.#deps.log.warn(`${reason}: disconnecting`, { generation: run.generation, silentMs });
        void this.#disconnect(run, reason);
      }),
    );
    run.handshakeTimers.push(
      this.#after(run, handshakeTimeoutMs, () => {
        if (run.handshake !== undefined) return;
        if (this.#listening) {
          // Held all this time, still in listening mode: a fresh link, after the same short wait.
          const error = new ListeningModeError(run.generation);
          this.#lastError = error.message;
          this.#endHandshakeSpan(run, error.message, 'listening');
          const reason = 'controller still in listening mode';
          this.#deps.log.info(`${reason} after ${handshakeTimeoutMs} ms: reconnecting`, {
            generation: run.generation,
            retryInMs: this.#config.listeningRetryMs,
          });
          void this.#recover(run, this.#config.recovery.listeningMode, reason, error, {
            retryInMs: this.#config.listeningRetryMs,
          });
          return;
        }
        const error = new HandshakeTimeoutError(run.generation, handshakeTimeoutMs);
        this.#lastError = error.message;
        this.#endHandshakeSpan(run, error.message, 'timeout');
        this.#deps.log.warn('no handshake from the controller: disconnecting', {
          generation: run.generation,
          timeoutMs: handshakeTimeoutMs,
        });
        void this.#recover(run, this.#config.recovery.handshakeTimeout, error.message, error);
      }),
    );
  }

  /**
   * A handshake ping was answered: the controller is there and answering. If
   * it was held after listening mode, it has left it: take the handshake it
   * sent (the one after this answer may have come first, or be on its way).
   */
  #onPingAnswered(run: Run): void {
    run.answered = true;
    if (!this.#isCurrent(run) || run.handshake !== undefined || !this.#listening) return;
    this.#listening = false;
    this.#deps.log.info('the controller answers again: it has left listening mode', {
      generation: run.generation,
    });
    const held = run.held;
    if (held !== undefined) void this.#inTurn(() => this.#onHandshake(run, held));
  }

  /** Ends the handshake span once, with what was learnt; `error` makes it status ERROR. */
  #endHandshakeSpan(run: Run, error: string | undefined, outcome: string): void {
    const span = run.handshakeSpan;
    if (span === undefined) return;
    run.handshakeSpan = undefined;
    span.setAttributes({ [ATTR.handshakeAttempts]: run.pings, [ATTR.attemptOutcome]: outcome });
    const handshake = run.handshake;
    if (handshake !== undefined) {
      span.setAttributes({
        [ATTR.firmwareVersion]: handshake.firmwareVersion,
        [ATTR.protocolVersion]: handshake.protoVersion,
        [ATTR.deviceId]: handshake.deviceId,
        [ATTR.resetReason]: handshake.resetReason,
      });
    }
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
  }

  #stopHandshakeTimers(run: Run): void {
    for (const handle of run.handshakeTimers) this.#clearTimer(run, handle);
    run.handshakeTimers = [];
  }

  // ------------------------------------------------------------------ events

  async #handleEvent(generation: number, event: ControllerEvent): Promise<void> {
    if (this.#closed) return;
    const known = this.#known?.phase.generation;
    if (known !== undefined && generation < known) {
      this.#deps.log.debug('event for an old connection ignored', {
        generation,
        current: known,
        event: event.type,
      });
      return;
    }
    if (known === undefined || generation > known) await this.#catchUp();
    const run = this.#run;
    if (run === null || run.generation !== generation || !this.#isCurrent(run)) {
      this.#deps.log.debug('event for a connection that is not open ignored', {
        generation,
        event: event.type,
      });
      return;
    }
    switch (event.type) {
      case 'handshake':
        await this.#onHandshake(run, event.handshake);
        return;
      case 'setupMode': {
        if (this.#listening && run.handshake === undefined) {
          // Already known, and this link is held until the controller answers: nothing new to do.
          this.#deps.log.debug('the controller says again it is in listening mode', { generation });
          return;
        }
        this.#listening = true;
        const error = new ListeningModeError(run.generation);
        this.#lastError = error.message;
        this.#deps.log.warn('the controller entered listening (setup) mode: disconnecting', {
          generation,
          retryInMs: this.#config.listeningRetryMs,
        });
        await this.#recover(run, this.#config.recovery.listeningMode, 'controller in listening mode', error, {
          retryInMs: this.#config.listeningRetryMs,
        });
        return;
      }
      case 'firmwareUpdater':
        this.#report(generation, {
          kind: 'updater',
          firmwareVersion: event.firmwareVersion,
          protoVersion: event.protoVersion,
        });
        this.#deps.log.warn(
          'the controller entered its firmware updater; the connection will close when it ends',
          {
            generation,
            firmwareVersion: event.firmwareVersion,
            protoVersion: event.protoVersion,
          },
        );
        return;
      case 'cboxError': {
        const code = event.code.toString(16).toUpperCase().padStart(2, '0');
        this.#report(generation, { kind: 'internalError', code });
        this.#deps.log.warn('the controller reported an internal error', { generation, code });
        return;
      }
      case 'unknown':
        this.#deps.log.debug('unknown controller event', { generation, text: event.text });
        return;
    }
  }

  async #onHandshake(run: Run, handshake: Handshake): Promise<void> {
    if (run.handshake === undefined && this.#listening) {
      // A controller in listening mode greets each new connection and then answers nothing:
      // wait for an answer to a ping before taking it (see #onPingAnswered).
      if (run.held === undefined) {
        this.#deps.log.info(
          'the controller was in listening mode: holding this link until it answers a NONE',
          { generation: run.generation, pingMs: this.#config.handshakePingMs },
        );
      }
      run.held = handshake;
      run.step = 'listening';
      return;
    }
    if (run.handshake === undefined) {
      run.handshake = handshake;
      this.#report(run.generation, {
        kind: 'handshake',
        resetReason: handshake.resetReason,
        resetData: handshake.resetData,
        firmwareVersion: handshake.firmwareVersion,
        protoVersion: handshake.protoVersion,
      });
      this.#stopHandshakeTimers(run);
      const ack = assessHandshake(handshake, this.#config);
      run.handshakeSpan?.setAttributes({
        ...(ack.firmwareError === undefined ? {} : { [ATTR.firmwareError]: ack.firmwareError }),
        ...(ack.identityError === undefined ? {} : { [ATTR.identityError]: ack.identityError }),
      });
      let state: KernelState;
      try {
        state = await this.#deps.kernel.transition({ to: 'Acknowledged', generation: run.generation, ack });
      } catch (error) {
        this.#endHandshakeSpan(run, describe(error), 'refused');
        await this.#stepFailed(run, 'acknowledge', error);
        return;
      }
      this.#endHandshakeSpan(
        run,
        ack.firmwareError ?? ack.identityError,
        ack.firmwareError === undefined && ack.identityError === undefined ? 'acknowledged' : 'incompatible',
      );
      this.#adopt(state);
      return;
    }
    if (sameHandshake(run.handshake, handshake)) {
      this.#deps.log.debug('handshake repeated (answer to a NONE or VERSION)', {
        generation: run.generation,
      });
      return;
    }
    const reason = `controller reset: ${resetName(handshake)}`;
    this.#deps.log.warn(`${reason}: disconnecting (its pending requests will not be answered)`, {
      generation: run.generation,
      resetReason: handshake.resetReason,
      resetData: handshake.resetData,
    });
    await this.#disconnect(run, reason);
  }

  // ------------------------------------------------------------------- sync

  /** Once per generation, from our own transition's reply or from the kernel's cast, whichever comes first. */
  #onAcknowledged(run: Run, ack: AckInfo, startSync: boolean): void {
    if (run.acknowledged) return;
    run.acknowledged = true;
    this.#stopHandshakeTimers(run);
    const ackError = ack.firmwareError ?? ack.identityError;
    this.#endHandshakeSpan(run, ackError, ackError === undefined ? 'acknowledged' : 'incompatible');
    const problem = ackProblem(ack, this.#config.deviceId);
    if (problem !== null) {
      run.step = problem.step;
      this.#lastError = problem.message;
      // Logged as an error once, not on every reconnect of the same controller.
      const level = problem.message === this.#lastAckProblem ? 'info' : 'error';
      this.#deps.log[level](`${problem.message}; staying Acknowledged (no sync, no reconnect)`, {
        generation: run.generation,
        ...problem.fields,
      });
      this.#lastAckProblem = problem.message;
      return;
    }
    this.#lastAckProblem = null;
    if (startSync) void this.#synchronize(run);
  }

  async #synchronize(run: Run): Promise<void> {
    if (run.syncStarted) return;
    run.syncStarted = true;
    const { commander, datastore, timers, kernel } = this.#deps;
    // Each command has its own short deadline: a controller that stops answering mid-sync is
    // noticed in seconds, not after the commander's timeout for ordinary commands.
    const options: CommandOptions = { minPhase: 'Acknowledged', timeoutMs: this.#config.stepTimeoutMs };
    let step = 'set-clock';
    // Each step is a span in the attempt's trace; its commands are the step's children.
    const traced = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const span = tracer.startSpan(
        name,
        { attributes: { [ATTR.syncStep]: step, [ATTR.generation]: run.generation } },
        run.parent,
      );
      try {
        return await (span.isRecording() ? context.with(trace.setSpan(run.parent, span), work) : work());
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
        throw error;
      } finally {
        span.end();
      }
    };
    try {
      run.step = 'set-clock';
      const clockSetTo = Math.floor(timers.now() / 1000);
      const ticks = await traced(SPANS.syncSetClock, () =>
        commander.request(
          'BLOCK_WRITE',
          { id: TICKS_BLOCK_ID, type: 'Ticks', data: { secondsSinceEpoch: clockSetTo } },
          options,
        ),
      );
      this.#reportUptime(run.generation, ticks);
      if (!this.#isCurrent(run)) return;

      step = run.step = 'load-blocks';
      const deviceId = run.handshake?.deviceId ?? '';
      const store = await traced(SPANS.syncLoadBlocks, () => this.#loadBlocks(datastore, deviceId));
      if (!this.#isCurrent(run)) return;
      this.#store = store;

      step = run.step = 'read-trace';
      const traceEntries = await traced(SPANS.syncReadTrace, async () =>
        traceOf(
          await commander.request(
            'BLOCK_WRITE',
            { id: SYSINFO_BLOCK_ID, type: 'SysInfo', data: { command: TRACE_READ_RESUME } },
            options,
          ),
        ),
      );
      if (!this.#isCurrent(run)) return;

      step = 'synchronize';
      const sync = { clockSetTo, storedBlocks: store.blocks.length, trace: traceEntries };
      this.#adopt(
        await traced(SPANS.syncSynchronize, () =>
          kernel.transition({ to: 'Synchronized', generation: run.generation, sync }),
        ),
      );
    } catch (error) {
      await this.#stepFailed(run, step, error);
    }
  }

  /**
   * The load-blocks step. It never fails the sync: the store is the
   * service's memory of the controller, not something the controller needs,
   * so a store that cannot be used (a directory in the file's place, a state
   * directory that is a file, a hung mount) is reported — in the log once
   * per distinct problem, and in `status().datastore` while it lasts — and
   * synchronization goes on with an empty store. Failing the step instead
   * would disconnect, reconnect and fail again, for as long as the file is
   * there. A file the datastore set aside (corrupt, oversized, unreadable,
   * not a regular file) is logged once: it is gone from the path afterwards.
   */
  async #loadBlocks(datastore: BlockDatastore, deviceId: string): Promise<StoredBlocks> {
    let loaded: LoadResult;
    try {
      loaded = await datastore.load(deviceId);
    } catch (error) {
      const code = TetherError.is(error) ? error.code : 'TETHER_DATASTORE';
      const path =
        TetherError.is(error) && typeof error.detail['path'] === 'string' ? error.detail['path'] : '';
      const problem = { code, message: describe(error), path };
      const repeated = this.#datastore?.code === code && this.#datastore.path === path;
      this.#datastore = problem;
      this.#deps.log[repeated ? 'debug' : 'error'](
        'the block store cannot be used: synchronizing without it (no blocks remembered for this controller)',
        problem,
      );
      return { deviceId: deviceId.toLowerCase(), blocks: [], savedAt: null };
    }
    if (this.#datastore !== null) {
      this.#deps.log.info('the block store can be used again', { path: loaded.path });
      this.#datastore = null;
    }
    if (loaded.recovered !== undefined) {
      this.#deps.log.warn(
        'the block store file could not be used: set aside and replaced by an empty store',
        {
          path: loaded.path,
          code: loaded.recovered.code,
          setAsideAs: loaded.recovered.setAsideAs,
          reason: loaded.recovered.reason,
        },
      );
    }
    return loaded.store;
  }

  async #stepFailed(run: Run, step: string, error: unknown): Promise<void> {
    // The link may have gone under us (commander then fails with LINK_LOST or
    // NOT_READY before the kernel's Disconnected reaches us): catch up first,
    // and recover only if this generation is still the current one.
    if (this.#isCurrent(run)) await this.#catchUp();
    if (!this.#isCurrent(run)) return;
    const failure = new SyncStepError(step, run.generation, error);
    this.#lastError = failure.message;
    // The same failure on every link (a controller that answers BUSY, a state directory that
    // cannot be used) is logged once, then once per period; connection backs off meanwhile.
    const code = TetherError.is(error) ? error.code : 'error';
    const suppressed = this.#failureLogs.admit(`${step}:${code}`, this.#deps.timers.now());
    this.#deps.log[suppressed === undefined ? 'debug' : 'error'](
      'synchronization step failed: disconnecting',
      {
        generation: run.generation,
        step,
        error: describe(error),
        ...(suppressed === undefined ? {} : { suppressedSinceLast: suppressed }),
      },
    );
    await this.#recover(run, this.#config.recovery.syncError, failure.message, failure);
  }

  #onSynchronized(run: Run, sync: { clockSetTo: number; storedBlocks: number; trace: TraceEntry[] }): void {
    if (run.synchronized) return;
    run.synchronized = true;
    run.step = 'synchronized';
    this.#listening = false;
    this.#failureLogs = newFailureLogs();
    this.#deps.log.info('controller synchronized', {
      generation: run.generation,
      clockSetTo: sync.clockSetTo,
      storedBlocks: sync.storedBlocks,
      traceEntries: sync.trace.length,
    });
    this.#scheduleResync(run);
  }

  /** One timer at a time, re-armed after each attempt settles, so attempts never pile up on a slow link. */
  #scheduleResync(run: Run): void {
    this.#after(run, this.#config.clockResyncMs, () => {
      const secondsSinceEpoch = Math.floor(this.#deps.timers.now() / 1000);
      this.#deps.commander
        .request(
          'BLOCK_WRITE',
          { id: TICKS_BLOCK_ID, type: 'Ticks', data: { secondsSinceEpoch } },
          { minPhase: 'Synchronized' },
        )
        .then(
          (ticks) => {
            this.#reportUptime(run.generation, ticks);
            this.#deps.log.debug('controller clock set again', { secondsSinceEpoch });
          },
          (error: unknown) => {
            // A dead link is the commander's timeout check's business; here it is only news.
            if (!this.#isCurrent(run)) return;
            this.#lastError = `clock re-sync failed: ${describe(error)}`;
            this.#deps.log.warn('clock re-sync failed', {
              generation: run.generation,
              error: describe(error),
            });
          },
        )
        .finally(() => {
          if (this.#isCurrent(run)) this.#scheduleResync(run);
        });
    });
  }

  // ------------------------------------------------------- component state

  #report(generation: number, report: ComponentReport): void {
    try {
      this.#deps.kernel.component?.(generation, report);
    } catch (error) {
      this.#deps.log.debug('could not report a component fact', { error: describe(error) });
    }
  }

  /** The Ticks block as the controller answered a clock write: its time since boot, when it says. */
  #reportUptime(generation: number, ticks: Block | undefined): void {
    const millis = ticks?.data.millisSinceBoot;
    if (typeof millis === 'number' && Number.isFinite(millis) && millis >= 0) {
      this.#report(generation, { kind: 'uptime', millisSinceBoot: millis });
    }
  }

  // --------------------------------------------------------------- recovery

  /**
   * Recovery by policy. `disconnect` closes the link (connection reconnects
   * and the sequence starts over). `restart` does that too and then crashes
   * this actor, so its supervisor restarts it with fresh state and counts the
   * failure against its intensity: a failure that keeps recurring then
   * escalates instead of looping quietly. Disconnecting first matters: the
   * new incarnation would otherwise adopt the same half-synchronized link.
   */
  async #recover(
    run: Run,
    action: RecoveryAction,
    reason: string,
    error: Error,
    options: { retryInMs?: number } = {},
  ): Promise<void> {
    await this.#disconnect(run, reason, options.retryInMs);
    if (action === 'restart' && !this.#closed) {
      this.close();
      this.#deps.crash(error);
    }
  }

  async #disconnect(run: Run, reason: string, retryInMs?: number): Promise<void> {
    try {
      await this.#deps.kernel.disconnect(run.generation, reason, retryInMs);
    } catch (error) {
      this.#deps.log.warn('the kernel did not take the disconnect request', {
        generation: run.generation,
        reason,
        error: describe(error),
      });
    }
  }
}

// ---------------------------------------------------------------- helpers

/** How often a repeated step failure is logged again. */
const STEP_FAILURE_LOG_INTERVAL_MS = 300_000;

function newFailureLogs(): LogLimiter<string> {
  return new LogLimiter({ periodMs: STEP_FAILURE_LOG_INTERVAL_MS, burst: 1 });
}

function ackProblem(
  ack: AckInfo,
  deviceId: string,
): { step: SyncStep; message: string; fields: Record<string, unknown> } | null {
  const { handshake } = ack;
  if (ack.firmwareError !== undefined) {
    return {
      step: 'incompatible',
      message: `incompatible controller firmware: proto_version ${handshake.protoVersion} is not supported by this build`,
      fields: {
        firmwareError: ack.firmwareError,
        protoVersion: handshake.protoVersion,
        firmwareVersion: handshake.firmwareVersion,
        hint: 'update the firmware, or set synchronization.skipVersionCheck for development',
      },
    };
  }
  if (ack.identityError !== undefined) {
    return {
      step: 'wrong-device',
      message: `wrong controller: device id ${handshake.deviceId} is not the configured ${deviceId}`,
      fields: { identityError: ack.identityError, deviceId: handshake.deviceId, expected: deviceId },
    };
  }
  return null;
}

function resetName(handshake: Handshake): string {
  const reason = (RESET_REASONS as Record<string, string>)[handshake.resetReason.toUpperCase()];
  const data = (RESET_DATA as Record<string, string>)[handshake.resetData.toUpperCase()];
  return `${reason ?? `reason 0x${handshake.resetReason}`} (${data ?? `data 0x${handshake.resetData}`})`;
}

/** The trace in SysInfo's answer to TRACE_READ_RESUME; a malformed one fails the step. */
function traceOf(block: Block): TraceEntry[] {
  const trace = block.data.trace;
  if (!Array.isArray(trace)) throw new TypeError('SysInfo response has no data.trace array');
  return trace.map((entry, index) => {
    if (
      !isJsonObject(entry) ||
      typeof entry.action !== 'string' ||
      !Number.isInteger(entry.id) ||
      typeof entry.type !== 'string'
    ) {
      throw new TypeError(`SysInfo data.trace[${index}] is not {action, id, type}`);
    }
    return { action: entry.action, id: entry.id as number, type: entry.type };
  });
}
