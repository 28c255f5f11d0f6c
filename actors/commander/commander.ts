/**
 * The commander: requests to the controller and their responses.
 *
 * - msgIds run 1..65535 and wrap to 1, skipping any id still pending, so at
 *   most one request per msgId is outstanding (protocol.md section 2). One
 *   counter serves every connection: ids are not reset on reconnect, which
 *   keeps them unique in the logs for longer and costs nothing, since a
 *   response is matched on (generation, msgId) anyway.
 * - A request is refused at once with NotReadyError when the phase is below
 *   what it needs (Synchronized unless `minPhase` says otherwise).
 * - Each request has a timeout (commander.timeoutMs unless given). A response
 *   that matches nothing pending (late, or for an older connection) is logged,
 *   counted and dropped.
 * - A request that times out while Synchronized starts one NONE check (never
 *   two at once). While it runs, new requests (other than `internal` ones,
 *   such as the check itself and the watchdog's) are held back rather than
 *   piled onto a link that may be dead; they go out when the check is
 *   answered. If the check times out too, the commander asks the kernel to
 *   disconnect that generation (and, with recovery.commandTimeout `restart`,
 *   also crashes itself so its supervisor restarts it).
 * - When the kernel's state leaves a request's generation (Disconnected, or a
 *   newer connection), every request of that generation fails at once with
 *   LinkLostError: nobody waits out a timeout for a link that is gone.
 */
import type { ActorLogger } from '../../runtime/actor.js';
import { TetherError } from '../../errors/index.js';
import type { PhaseName } from '../../contracts/phase.js';
import {
  MAX_MSG_ID,
  MIN_MSG_ID,
  encodeRequest,
  parseResponsePayload,
  type Opcode,
  type Request,
  type RequestPayload,
  type ResponseFrame,
  type ResponsePayload,
} from '../../protocol/index.js';
import {
  BadResponseError,
  CommandTimeoutError,
  ControllerError,
  LinkLostError,
  NotReadyError,
  type CommandOptions,
  type KernelState,
} from '../../contracts/actors.js';
import { CommanderBusyError, CommanderRecoveryRestartError } from './errors.js';
import { KernelView, phaseAllows } from '../shared/kernel-view.js';
import { LogLimiter } from '../../runtime/log-limiter.js';
import { realTimers, type Timer, type Timers } from '../shared/timers.js';
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { LATENCY_BUCKETS_MS, meter, telemetryOn, tracer } from '../../otel/instruments.js';
import { ATTR, METRICS, SPANS } from '../../otel/names.js';

// ---------------------------------------------------------------- public API

export const COMMANDER_DEFAULTS = {
  maxPending: 1000,
  checkTimeoutMs: 3000,
  /** Responses that match nothing pending: at most this many log lines per period; the rest are counted. */
  unmatchedLogBurst: 5,
  unmatchedLogIntervalMs: 10_000,
  /** Requests that time out: at most this many log lines in the same period. */
  timeoutLogBurst: 5,
} as const;

export interface CommanderSettings {
  /** Default per-request timeout (commander.timeoutMs). */
  timeoutMs: number;
  /** Timeout of the NONE check run after a command timeout (the watchdog's timeoutMs). */
  checkTimeoutMs?: number;
  /** recovery.commandTimeout: what a failed NONE check leads to. */
  recovery: 'disconnect' | 'restart';
  /** Requests pending at once (sent or held) before new ones are refused; default 1000. */
  maxPending?: number;
  /** The first msgId to use (tests start near the wrap); default 1. */
  firstMsgId?: number;
  /**
   * telemetry.writeSpans: send each write in its command's trace context, so
   * connection makes a span of it. Off, the write carries no context.
   */
  traceWrites?: boolean;
}

/** A request's span with telemetry on: when it started, and whether it was ended. */
interface Traced {
  readonly span: Span;
  readonly started: number;
  ended: boolean;
}

/** What the commander needs from its peers; the actor shell wires these to refs. */
export interface CommanderDeps {
  connection: { write(generation: number, frame: string): void };
  kernel: {
    state(): Promise<KernelState>;
    disconnect(generation: number, reason: string): Promise<boolean>;
  };
  log: ActorLogger;
  timers?: Timers;
  /** Ends this incarnation with `error` (the shell throws it outside any handler). */
  crash(error: Error): void;
}

export interface CommanderStatus {
  pending: number;
  sent: number;
  timedOut: number;
  lateResponses: number;
}

export const CHECK_FAILED_REASON = 'command timeout and NONE check failed';

interface Pending {
  readonly opcode: Opcode;
  readonly payload: unknown;
  readonly generation: number;
  readonly timeoutMs: number;
  readonly internal: boolean;
  /** 0 while held back (not sent yet). */
  msgId: number;
  timer: Timer | undefined;
  /** The request's span when telemetry is on: the write to connection goes out in its context. */
  readonly span: Span | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export class Commander {
  readonly #deps: CommanderDeps;
  readonly #timers: Timers;
  readonly #timeoutMs: number;
  readonly #checkTimeoutMs: number;
  readonly #recovery: 'disconnect' | 'restart';
  readonly #maxPending: number;
  readonly #view: KernelView;

  /** Sent and awaiting a response, by msgId. */
  readonly #sent = new Map<number, Pending>();
  /** Held back while a NONE check runs, in arrival order. */
  #held: Pending[] = [];
  #nextMsgId: number;
  /** The generation whose NONE check is running, if one is. */
  #check: { generation: number } | undefined;
  #stopped = false;
  readonly #traceWrites: boolean;

  /** A controller can send answers nobody asked for as fast as it likes: their log lines are limited. */
  readonly #unmatchedLog = new LogLimiter({
    periodMs: COMMANDER_DEFAULTS.unmatchedLogIntervalMs,
    burst: COMMANDER_DEFAULTS.unmatchedLogBurst,
  });
  readonly #timeoutLog = new LogLimiter({
    periodMs: COMMANDER_DEFAULTS.unmatchedLogIntervalMs,
    burst: COMMANDER_DEFAULTS.timeoutLogBurst,
  });
  #sentCount = 0;
  #timedOut = 0;
  #lateResponses = 0;
  #checksRun = 0;
  #checksFailed = 0;
  readonly #latency = meter().createHistogram(METRICS.commandDuration, {
    unit: 'ms',
    description: 'Command latency, request to response, by opcode and result',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });

  constructor(settings: CommanderSettings, deps: CommanderDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? realTimers;
    this.#timeoutMs = settings.timeoutMs;
    this.#traceWrites = settings.traceWrites ?? false;
    this.#checkTimeoutMs = settings.checkTimeoutMs ?? COMMANDER_DEFAULTS.checkTimeoutMs;
    this.#recovery = settings.recovery;
    this.#maxPending = settings.maxPending ?? COMMANDER_DEFAULTS.maxPending;
    // The id search in #takeMsgId ends only if some id is always free.
    if (!(this.#maxPending >= 1 && this.#maxPending < MAX_MSG_ID)) {
      throw new RangeError(`maxPending must be 1..${MAX_MSG_ID - 1}, got ${this.#maxPending}`);
    }
    this.#nextMsgId = settings.firstMsgId ?? MIN_MSG_ID;
    this.#view = new KernelView(
      () => deps.kernel.state(),
      (state, previous) => this.#onStateChange(state, previous),
    );
  }

  /**
   * Resolves with the controller's OK payload; rejects with a command error.
   * With telemetry on, each request is a span (a child of the caller's) and
   * its latency is recorded by opcode and result.
   */
  request<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options: CommandOptions = {},
  ): Promise<ResponsePayload<O>> {
    if (!telemetryOn()) return this.#request(opcode, payload, options, undefined);
    const span = tracer.startSpan(SPANS.command, {
      kind: SpanKind.CLIENT,
      attributes: { [ATTR.opcode]: opcode },
    });
    // Ended where the request settles (see #request), not by a `then` on it: one promise less per command.
    return this.#request(opcode, payload, options, { span, started: performance.now(), ended: false });
  }

  /** Ends a request's span and records its latency, once (a failure passes two places that end it). */
  #ended(traced: Traced, opcode: Opcode, error: unknown): void {
    if (traced.ended) return;
    traced.ended = true;
    const { span, started } = traced;
    const latencyMs = performance.now() - started;
    const result = error === undefined ? 'ok' : TetherError.is(error) ? error.code : 'error';
    span.setAttribute(ATTR.result, result).setAttribute(ATTR.latencyMs, latencyMs);
    if (error !== undefined) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    span.end();
    // The SDK hashes the attributes on every record (1–2 µs here, bench/otel-parts.bench.ts);
    // open-telemetry/opentelemetry-js#6100 (pull request #6515) makes that cheaper upstream.
    this.#latency.record(latencyMs, { [ATTR.opcode]: opcode, [ATTR.result]: result });
  }

  async #request<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options: CommandOptions,
    traced: Traced | undefined,
  ): Promise<ResponsePayload<O>> {
    try {
      return await this.#enqueue(opcode, payload, options, traced);
    } catch (error) {
      // Refused before it was queued (not ready, busy, stopping): its span ends here. A queued
      // request that failed has been ended where it was rejected; #ended does nothing twice.
      if (traced !== undefined) this.#ended(traced, opcode, error);
      throw error;
    }
  }

  /** A request queued (its promise settles with the response, ending its span); throws when it cannot be. */
  async #enqueue<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options: CommandOptions,
    traced: Traced | undefined,
  ): Promise<ResponsePayload<O>> {
    const needs: PhaseName = options.minPhase ?? 'Synchronized';
    if (!this.#stopped && !phaseAllows(this.#view.phase, needs)) {
      // The kernel's cast of a newer phase may still be on its way (the caller
      // saw it first, on another channel): catch up once before refusing.
      await this.#view.refresh();
    }
    if (this.#stopped) throw new LinkLostError(opcode, 0, 'the commander is stopping');
    const phase = this.#view.phase;
    if (!phaseAllows(phase, needs)) throw new NotReadyError(opcode, phase.name, needs);
    if (this.#sent.size + this.#held.length >= this.#maxPending) {
      throw new CommanderBusyError(opcode, this.#maxPending);
    }
    const internal = options.internal ?? false;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise<ResponsePayload<O>>((resolve, reject) => {
      const pending: Pending = {
        opcode,
        payload,
        generation: phase.generation,
        timeoutMs,
        internal,
        msgId: 0,
        timer: undefined,
        span: traced?.span,
        ...(traced === undefined
          ? { resolve: resolve as (value: unknown) => void, reject }
          : {
              // Settled first: whatever telemetry does, the caller gets its answer.
              resolve: (value: unknown): void => {
                resolve(value as ResponsePayload<O>);
                this.#ended(traced, opcode, undefined);
              },
              reject: (error: Error): void => {
                reject(error);
                this.#ended(traced, opcode, error);
              },
            }),
      };
      // The timeout covers any time held back as well: the caller's deadline is the caller's.
      pending.timer = this.#timers.schedule(timeoutMs, () => this.#expire(pending));
      if (this.#check !== undefined && !internal) this.#held.push(pending);
      else this.#send(pending);
    });
  }

  /** A decoded response from connection for the link of `generation`. */
  onResponse(generation: number, frame: ResponseFrame): void {
    const pending = this.#sent.get(frame.msgId);
    if (pending === undefined || pending.generation !== generation) {
      this.#lateResponses += 1;
      const suppressed = this.#unmatchedLog.admit('unmatched', this.#timers.now());
      if (suppressed === undefined) return;
      this.#deps.log.warn('response matches no pending request (late or for an older connection): dropped', {
        msgId: frame.msgId,
        generation,
        error: frame.error,
        suppressedSinceLast: suppressed,
      });
      return;
    }
    this.#remove(pending);
    if (frame.error !== 'OK') {
      pending.reject(new ControllerError(pending.opcode, pending.msgId, frame.error));
      return;
    }
    let value: unknown;
    try {
      value = parseResponsePayload(pending.opcode, frame.payload);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      pending.reject(new BadResponseError(pending.opcode, pending.msgId, why));
      return;
    }
    pending.resolve(value);
  }

  /**
   * A frame for `msgId` that could not be accepted (connection's decoder said
   * why). It is that request's answer, so the request fails now; one that
   * matches nothing was already counted and logged as bad data.
   */
  onBadResponse(generation: number, msgId: number, reason: string): void {
    const pending = this.#sent.get(msgId);
    if (pending === undefined || pending.generation !== generation) return;
    this.#remove(pending);
    pending.reject(new BadResponseError(pending.opcode, pending.msgId, reason));
  }

  onKernelState(state: KernelState): void {
    this.#view.apply(state);
  }

  /** Catches up with the kernel (at start: a restarted commander may have missed casts). */
  refreshState(): Promise<boolean> {
    return this.#view.refresh();
  }

  status(): CommanderStatus {
    return {
      pending: this.#sent.size + this.#held.length,
      sent: this.#sentCount,
      timedOut: this.#timedOut,
      lateResponses: this.#lateResponses,
    };
  }

  /** status() plus the NONE checks, for tests and reports. */
  get stats(): CommanderStatus & { checksRun: number; checksFailed: number; checkRunning: boolean } {
    return {
      ...this.status(),
      checksRun: this.#checksRun,
      checksFailed: this.#checksFailed,
      checkRunning: this.#check !== undefined,
    };
  }

  /** Fails everything pending and releases every timer; later requests fail at once. */
  terminate(why = 'the commander is stopping'): void {
    this.#stopped = true;
    this.#check = undefined;
    this.#failWhere(() => true, why);
  }

  // ---------------------------------------------------------- sending

  #send(pending: Pending): void {
    const msgId = this.#takeMsgId();
    let frame: string;
    try {
      // The cast is safe: `request` typed the payload by opcode, Request<O> only re-states that.
      const request = { msgId, opcode: pending.opcode, payload: pending.payload } as Request;
      frame = encodeRequest(request).toString('utf8');
    } catch (error) {
      this.#remove(pending);
      pending.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    pending.msgId = msgId;
    this.#sent.set(msgId, pending);
    this.#sentCount += 1;
    const span = pending.span;
    if (span === undefined || !span.isRecording()) {
      this.#deps.connection.write(pending.generation, frame);
      return;
    }
    span
      .setAttribute(ATTR.msgId, msgId)
      .setAttribute(ATTR.generation, pending.generation)
      .setAttribute(ATTR.frameBytes, frame.length);
    if (!this.#traceWrites) {
      this.#deps.connection.write(pending.generation, frame);
      return;
    }
    // The write carries this request's traceparent, so connection's write span is its child.
    context.with(trace.setSpan(context.active(), span), () =>
      this.#deps.connection.write(pending.generation, frame),
    );
  }

  /** The next msgId, wrapping 65535 -> 1, skipping ids still pending (one is always free: see maxPending). */
  #takeMsgId(): number {
    for (;;) {
      const id = this.#nextMsgId;
      this.#nextMsgId = id >= MAX_MSG_ID ? MIN_MSG_ID : id + 1;
      if (!this.#sent.has(id)) return id;
    }
  }

  /** Forgets a request (sent or held) and stops its timer; the caller settles it. */
  #remove(pending: Pending): void {
    pending.timer?.cancel();
    pending.timer = undefined;
    if (pending.msgId !== 0) {
      if (this.#sent.get(pending.msgId) === pending) this.#sent.delete(pending.msgId);
    } else {
      const at = this.#held.indexOf(pending);
      if (at >= 0) this.#held.splice(at, 1);
    }
  }

  #failWhere(match: (pending: Pending) => boolean, why: string): void {
    const doomed = [...this.#sent.values(), ...this.#held].filter(match);
    for (const pending of doomed) {
      this.#remove(pending);
      pending.span?.setAttribute(ATTR.disconnectReason, why);
      pending.reject(new LinkLostError(pending.opcode, pending.msgId, why));
    }
  }

  // --------------------------------------------------- timeouts and checks

  #expire(pending: Pending): void {
    pending.timer = undefined;
    const wasSent = pending.msgId !== 0;
    this.#remove(pending);
    this.#timedOut += 1;
    const fields = {
      opcode: pending.opcode,
      msgId: pending.msgId,
      generation: pending.generation,
      timeoutMs: pending.timeoutMs,
    };
    // An internal request's timeout is its sender's to report (the watchdog's check, a handshake
    // ping); the others are news, but a silent controller under load must not flood the log.
    const suppressed = pending.internal ? undefined : this.#timeoutLog.admit('timeout', this.#timers.now());
    if (suppressed === undefined) this.#deps.log.debug('request timed out', fields);
    else this.#deps.log.warn('request timed out', { ...fields, suppressedSinceLast: suppressed });
    pending.reject(new CommandTimeoutError(pending.opcode, pending.msgId, pending.timeoutMs));
    // Internal requests (the check itself, the watchdog's NONE) are judged by whoever sent them;
    // a held request timing out means a check is already running.
    if (!pending.internal && wasSent) this.#maybeStartCheck(pending.generation);
  }

  #maybeStartCheck(generation: number): void {
    const phase = this.#view.phase;
    if (this.#stopped || this.#check !== undefined) return;
    if (phase.name !== 'Synchronized' || phase.generation !== generation) return;
    this.#check = { generation };
    this.#checksRun += 1;
    this.#deps.log.info('a request timed out while Synchronized: checking the link with NONE', {
      generation,
      timeoutMs: this.#checkTimeoutMs,
    });
    this.request('NONE', undefined, {
      minPhase: 'Connected',
      timeoutMs: this.#checkTimeoutMs,
      internal: true,
    }).then(
      () => this.#onCheckDone(generation, undefined),
      (error: unknown) => this.#onCheckDone(generation, error),
    );
  }

  #onCheckDone(generation: number, error: unknown): void {
    this.#check = undefined;
    if (this.#stopped) return;
    // Any answer, even an error code, shows the controller is there; only silence condemns the link.
    if (!TetherError.is(error, 'TETHER_COMMAND_TIMEOUT')) {
      if (error === undefined || TetherError.is(error, 'TETHER_CONTROLLER_ERROR')) {
        this.#deps.log.info('NONE check answered: the link is alive', { generation });
      }
      // Otherwise (link lost, not ready) the state change already failed what was held for that link.
      this.#releaseHeld();
      return;
    }
    this.#checksFailed += 1;
    const phase = this.#view.phase;
    if (phase.name === 'Disconnected' || phase.generation !== generation) {
      this.#releaseHeld();
      return;
    }
    this.#deps.log.warn('NONE check got no answer either: asking the kernel to disconnect', {
      generation,
      recovery: this.#recovery,
    });
    this.#failWhere((p) => p.msgId === 0, CHECK_FAILED_REASON);
    const asked = this.#deps.kernel.disconnect(generation, CHECK_FAILED_REASON).then(
      (accepted) => this.#deps.log.info('disconnect requested', { generation, accepted }),
      (cause: unknown) =>
        this.#deps.log.error('the kernel did not take the disconnect request', {
          generation,
          error: cause instanceof Error ? cause.message : String(cause),
        }),
    );
    if (this.#recovery === 'restart') {
      // `restart`: the link is closed as with `disconnect`, and the commander
      // also ends this incarnation so its supervisor starts a fresh one (and,
      // rest_for_one, synchronization after it). Only after the disconnect
      // request settled, so it is not lost with the worker.
      void asked.finally(() => {
        if (!this.#stopped) this.#deps.crash(new CommanderRecoveryRestartError(generation));
      });
    }
  }

  /** Sends what was held back during a check (those of a link that is gone were failed already). */
  #releaseHeld(): void {
    const held = this.#held;
    this.#held = [];
    for (const pending of held) this.#send(pending);
  }

  // ------------------------------------------------------------ phases

  #onStateChange(state: KernelState, previous: KernelState): void {
    const phase = state.phase;
    if (phase.name !== 'Disconnected' && phase.generation === previous.phase.generation) return;
    const why = phase.name === 'Disconnected' ? phase.reason : `connection ${phase.generation} replaced it`;
    this.#failWhere((p) => p.generation !== phase.generation || phase.name === 'Disconnected', why);
  }
}
