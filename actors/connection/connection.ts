/**
 * The connection: find the controller, open a link, feed what it sends to the
 * other actors, write what they send, and notice when it goes.
 *
 * Life cycle, driven by the kernel's state (the kernel owns the phase):
 *
 *   while the kernel says Disconnected and autoconnecting:
 *     discover -> nothing: wait discovery.intervalMs, again
 *              -> candidates: open the first that opens
 *                   none opens: back off (2 s, x1.5, up to 30 s), again
 *                   one opens: ask the kernel for Connected (it gives the generation)
 *   while the link is open: decode; responses -> commander, events ->
 *     synchronization, activity -> watchdog (at most every 250 ms), logs -> our log
 *   the link closes (peer, write failure, closeLink, the kernel went
 *     Disconnected): ask the kernel for Disconnected, then
 *       - it had been Synchronized for retry.resetAfterMs (a good link): retry
 *         at once, and later failures back off from the start again;
 *       - it had not: it counts as a failed attempt, and the next one waits
 *         as after a connect failure (the controller is there, but something
 *         breaks every link: without this, a reconnect loop);
 *       - the kernel's Disconnected says when to retry (`retryInMs`, a
 *         controller in listening mode): then, whatever the backoff says.
 *     A failure repeated attempt after attempt is logged once per backoff
 *     step (and at the longest wait once per 5 minutes), not once per attempt.
 *
 * Messages from different actors have no order between them, so the kernel
 * state is merged by rank (generation, phase, then the kernel's version)
 * rather than taken as it comes, and writes for a generation the kernel has not yet confirmed to us
 * wait (bounded) until it does. Every timer goes through `Timers`, so tests
 * drive the loop with a fake clock; every link goes through `LinkOpener`.
 *
 * The class knows nothing of threads: the actor shell (`actor.ts`) wires it
 * to refs and the logger.
 */
import type { TetherConfig } from '../../config/index.js';
import type { KernelState } from '../../contracts/actors.js';
import { compareKernelStates } from '../../contracts/actors.js';
import type { ConnectionStatus } from '../../contracts/actors.js';
import type { TransitionRequest } from '../../contracts/phase.js';
import type { ActorLogger } from '../../runtime/actor.js';
import { TetherError } from '../../errors/index.js';
import {
  ResponseDecoder,
  type ControllerEvent,
  type Decoded,
  type ResponseFrame,
} from '../../protocol/index.js';
import { openSerialLink, openTcpLink, type Link, type LinkCloseInfo } from './transport/index.js';
import { connectDelay } from './backoff.js';
import { Discovery, type Candidate, type DiscoveryResult } from './discovery/index.js';
import type { UsbScanOptions } from './discovery/index.js';
import { SpanStatusCode, context } from '@opentelemetry/api';
import type { BatchObservableCallback, Context, Observable } from '@opentelemetry/api';
import { meter, telemetryOn, tracer } from '../../otel/instruments.js';
import { LogLimiter, type LogLimit } from '../../runtime/log-limiter.js';
import { ATTR, METRICS, SPANS } from '../../otel/names.js';

// ------------------------------------------------------------------ types

/** The kernel calls connection makes (a ref's `call`, adapted in actor.ts). */
export interface KernelPort {
  transition(request: TransitionRequest): Promise<KernelState>;
  state(): Promise<KernelState>;
  requestRediscoveryExit(reason: string): Promise<boolean>;
}

/** Where decoded traffic goes; casts, so each returns nothing and never throws. */
export interface ConnectionPeers {
  kernel: KernelPort;
  onResponse(generation: number, frame: ResponseFrame): void;
  onEvent(generation: number, event: ControllerEvent): void;
  onActivity(generation: number, at: number): void;
  /** A frame answered `msgId` but could not be accepted (bad fields, nested too deep). */
  onBadResponse(generation: number, msgId: number, reason: string): void;
}

export type TimerHandle = unknown;

export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type LinkOpener = (
  candidate: Candidate,
  options: { timeoutMs: number; signal: AbortSignal },
) => Promise<Link>;

export const openCandidate: LinkOpener = (candidate, { timeoutMs, signal }) =>
  candidate.kind === 'tcp'
    ? openTcpLink({ host: candidate.host, port: candidate.port, connectTimeoutMs: timeoutMs, signal })
    : openSerialLink({ path: candidate.path, baudRate: candidate.baudRate, openTimeoutMs: timeoutMs });

export type ConnectionSettings = Pick<TetherConfig, 'discovery' | 'device' | 'simulator' | 'connection'> & {
  telemetry?: Pick<TetherConfig['telemetry'], 'writeSpans'>;
};

export interface DiscoverySource {
  discover(): Promise<DiscoveryResult>;
  /** Releases what discovery holds (the mDNS socket); a round in progress returns at once. */
  close?(): Promise<void>;
}

export interface ConnectionOptions {
  config: ConnectionSettings;
  peers: ConnectionPeers;
  log: ActorLogger;
  timers?: Timers;
  openLink?: LinkOpener;
  /** Roots for USB discovery (tests use a fake tree). */
  usb?: UsbScanOptions;
  /** Replaces discovery by the configured mode (tests). */
  discovery?: DiscoverySource;
}

// -------------------------------------------------------------- constants

export const CONNECTION_LIMITS = {
  /** watchdog.onActivity at most this often. */
  activityIntervalMs: 250,
  /** Decode errors are logged at most once in this period (each is counted). */
  decodeLogIntervalMs: 10_000,
  /** Controller log annotations: at most this many lines per level in each period; the rest are counted. */
  controllerLogBurst: 10,
  controllerLogIntervalMs: 10_000,
  /** Bytes held while the kernel confirms a new link's generation. */
  pendingRxBytes: 64 * 1024,
  /** Writes held for a generation the kernel has not yet confirmed to us. */
  pendingWrites: 64,
  /** How long terminate waits for an attempt or report in flight. */
  terminateWaitMs: 1000,
  /** A link failure that repeats at the same backoff step is logged once in this period. */
  linkFailureLogIntervalMs: 300_000,
} as const;

const LOG_METHOD = { DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** A link and what belongs to it. `generation` is undefined until the kernel accepts Connected. */
interface Current {
  readonly link: Link;
  readonly candidate: Candidate;
  generation: number | undefined;
  /** Set by onClose; the close is handled once the generation is known. */
  closed: LinkCloseInfo | undefined;
  /** Why we (or the kernel) closed it, for the Disconnected reason. */
  closeReason: string | undefined;
  pendingRx: Buffer[];
  pendingRxBytes: number;
  pendingWrites: { generation: number; frame: string }[];
  /** closeLink requests naming a generation newer than we know, applied if it turns out to be this link's. */
  pendingCloses: Map<number, string>;
  lastActivityCast: number;
  /** When we learnt the kernel had taken this link to Synchronized (our clock). */
  synchronizedAt: number | undefined;
  /** When to try again, as the kernel's Disconnected for this link said (listening mode). */
  retryInMs: number | undefined;
  readonly detach: (() => void)[];
}

// ------------------------------------------------------------------ class

export class Connection {
  readonly #config: ConnectionSettings;
  readonly #peers: ConnectionPeers;
  readonly #log: ActorLogger;
  readonly #timers: Timers;
  readonly #openLink: LinkOpener;
  readonly #discovery: DiscoverySource;
  readonly #includesUsb: boolean;
  readonly #decoder: ResponseDecoder;
  readonly #abort = new AbortController();

  #state: KernelState | undefined;
  #current: Current | undefined;
  /** The generation of the link decoded output belongs to. */
  #rxGeneration = 0;
  /** Highest generation we have been given; a write naming a higher one may be for a link being confirmed. */
  #lastGeneration = 0;
  /** Failed attempts since the last good link: connects that failed, and links that failed before they were good. */
  #failures = 0;
  /** The wait before the next attempt, decided when the last link closed. */
  #holdOff = 0;
  #timer: TimerHandle | undefined;
  #attempt: Promise<void> | undefined;
  #report: Promise<void> | undefined;
  /** A close the kernel has not acknowledged yet (a report failed); retried by kick. */
  #unreported: { generation: number; reason: string } | undefined;
  #terminated = false;
  #activity = 'starting';

  #usbQuietSince: number;
  #framesIn = 0;
  #framesOut = 0;
  #droppedWrites = 0;
  #droppedRxBytes = 0;
  #lastReceivedAt: number | null = null;
  /** Log lines the controller's bytes cause: decode errors, its own log annotations. */
  readonly #logLimits = new LogLimiter<string>(limitOf);
  /** Link failures by backoff step; a fresh one after each good link, so a new run of failures is heard. */
  #failureLogs = newFailureLogs();
  /** Parent of the next attempt's spans: the trace the kernel's last Disconnected state came with. */
  #attemptContext: Context = context.active();
  #stopMetrics: (() => void) | undefined;

  constructor(options: ConnectionOptions) {
    this.#config = options.config;
    this.#peers = options.peers;
    this.#log = options.log;
    this.#timers = options.timers ?? realTimers;
    this.#openLink = options.openLink ?? openCandidate;
    const discovery = new Discovery(options.config, options.log, options.usb);
    this.#discovery = options.discovery ?? discovery;
    this.#includesUsb = discovery.includesUsb;
    this.#decoder = new ResponseDecoder((out) => this.#decoded(out));
    this.#usbQuietSince = this.#timers.now();
    if (telemetryOn()) this.#stopMetrics = this.#observeCounters();
  }

  // ------------------------------------------------------------ public API

  /**
   * Learns the kernel state and starts the loop. A state other than
   * Disconnected at start belongs to a link of an earlier incarnation of
   * this actor (links live and die with it), so it is reported closed.
   */
  async start(): Promise<void> {
    let state: KernelState;
    try {
      state = await this.#peers.kernel.state();
    } catch (error) {
      this.#log.warn('cannot read the kernel state; trying again', { error: describe(error) });
      this.#schedule(this.#config.discovery.intervalMs, 'waiting for the kernel', () => void this.start());
      return;
    }
    this.#applyState(state);
    if (state.phase.name !== 'Disconnected') {
      this.#unreported = {
        generation: state.phase.generation,
        reason: 'the connection actor restarted; its link is gone',
      };
    }
    this.#kick();
  }

  /** The kernel's cast on every accepted transition. */
  onKernelState(state: KernelState): void {
    // The kernel's casts carry the open attempt's trace context (none when no attempt is open):
    // the attempt's spans and log lines take it from here, even when the state itself reached
    // us first as a reply.
    if (state.phase.name === 'Disconnected' && telemetryOn()) this.#attemptContext = context.active();
    if (!this.#applyState(state)) return;
    const current = this.#current;
    const phase = state.phase;
    if (current !== undefined) this.#noteLinkPhase(current, phase);
    if (
      current !== undefined &&
      current.generation !== undefined &&
      phase.generation >= current.generation &&
      (phase.name === 'Disconnected' || phase.generation > current.generation)
    ) {
      // The kernel moved on without us (the watchdog asked for a disconnect): drop the link.
      current.closeReason ??=
        phase.name === 'Disconnected' ? phase.reason : 'the kernel moved to a newer link';
      void current.link.close();
    }
    this.#kick();
  }

  write(generation: number, frame: string): void {
    const current = this.#current;
    if (current === undefined || current.closed !== undefined || this.#terminated) {
      this.#drop(generation, 'no open link');
      return;
    }
    if (current.generation === undefined) {
      // The kernel may have told the writer about the new generation before it told us.
      if (
        generation > this.#lastGeneration &&
        current.pendingWrites.length < CONNECTION_LIMITS.pendingWrites
      ) {
        current.pendingWrites.push({ generation, frame });
      } else {
        this.#drop(generation, 'link not confirmed yet');
      }
      return;
    }
    if (generation !== current.generation) {
      this.#drop(generation, `stale generation (current ${current.generation})`);
      return;
    }
    this.#send(current, frame);
  }

  closeLink(generation: number, reason: string): void {
    const current = this.#current;
    if (current === undefined) return;
    if (current.generation === undefined) {
      // The kernel may name the new link's generation before its answer to us arrives: hold it.
      if (generation > this.#lastGeneration && current.pendingCloses.size < CONNECTION_LIMITS.pendingWrites) {
        current.pendingCloses.set(generation, reason);
      }
      return;
    }
    if (current.generation !== generation) return;
    current.closeReason ??= reason;
    void current.link.close();
  }

  status(): ConnectionStatus {
    const current = this.#current;
    const counters = this.#decoder.counters;
    return {
      generation: current?.generation ?? this.#state?.phase.generation ?? this.#lastGeneration,
      address: current?.link.address ?? null,
      kind: current?.link.kind ?? null,
      lastReceivedAt: this.#lastReceivedAt,
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      badFrames: {
        framing: counters.framingErrors,
        crc: counters.crcErrors,
        badJson: counters.badJson,
        badFields: counters.badFields,
        rawBracket: counters.rawBracket,
        badEvents: counters.badEvents,
      },
      activity: this.#activity,
    };
  }

  /** Counters beyond the contract's status, for tests and the kernel's report. */
  get counters(): { droppedWrites: number; droppedRxBytes: number; failures: number } {
    return {
      droppedWrites: this.#droppedWrites,
      droppedRxBytes: this.#droppedRxBytes,
      failures: this.#failures,
    };
  }

  /** Closes the link and releases every timer; waits (bounded) for an attempt in flight. */
  async terminate(): Promise<void> {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#activity = 'stopped';
    this.#stopMetrics?.();
    this.#clearTimer();
    this.#abort.abort(new Error('connection actor stopping'));
    // First, so a discovery round waiting for mDNS answers ends now rather than at its deadline.
    const discoveryClosed = this.#discovery.close?.().catch(() => undefined);
    const current = this.#current;
    this.#current = undefined;
    if (current !== undefined) {
      for (const detach of current.detach) detach();
      await current.link.close();
      // Tell the kernel now rather than leave the next incarnation to find a stale Connected.
      if (current.generation !== undefined) {
        const told = this.#peers.kernel
          .transition({
            to: 'Disconnected',
            generation: current.generation,
            reason: 'connection actor stopped',
          })
          .then(
            () => undefined,
            () => undefined,
          );
        await this.#bounded(told);
      }
    }
    const inFlight = [this.#attempt, this.#report, discoveryClosed].filter(
      (p): p is Promise<void> => p !== undefined,
    );
    if (inFlight.length > 0) await this.#bounded(Promise.all(inFlight).then(() => undefined));
  }

  // ------------------------------------------------------------ the loop

  /**
   * A log line of the connection attempt, in its trace (trace_id and span_id): the actor's
   * context is synchronous (see actor.ts), so it does not follow the attempt across its awaits.
   */
  #attemptLog(
    level: 'debug' | 'info' | 'warn' | 'error',
    msg: string,
    fields: Record<string, unknown>,
  ): void {
    context.with(this.#attemptContext, () => this.#log[level](msg, fields));
  }

  #mayConnect(): boolean {
    const state = this.#state;
    return (
      !this.#terminated && state !== undefined && state.phase.name === 'Disconnected' && state.autoconnecting
    );
  }

  /** Starts whatever should happen next, if nothing is already under way. */
  #kick(): void {
    if (this.#terminated || this.#attempt !== undefined || this.#report !== undefined) return;
    // A pending timer is the next step already decided (a backoff, or a wait for the kernel).
    if (this.#timer !== undefined) return;
    if (this.#unreported !== undefined) {
      const { generation, reason } = this.#unreported;
      this.#report = this.#reportClosed(generation, reason).finally(() => {
        this.#report = undefined;
        this.#kick();
      });
      return;
    }
    if (this.#current !== undefined) return;
    if (!this.#mayConnect()) {
      const state = this.#state;
      if (state !== undefined && !state.autoconnecting) this.#activity = 'autoconnect paused';
      return;
    }
    if (this.#holdOff > 0) {
      const wait = this.#holdOff;
      this.#holdOff = 0;
      this.#schedule(wait, this.#activity);
      return;
    }
    this.#attempt = context
      .with(this.#attemptContext, () => this.#runAttempt())
      .catch((error: unknown) => {
        // Nothing in an attempt should throw; if something does, back off rather than spin.
        this.#attemptLog('error', 'connection attempt failed unexpectedly', { error: describe(error) });
        this.#failures += 1;
        this.#schedule(connectDelay(this.#config.connection.retry, this.#failures), 'retrying');
      })
      .finally(() => {
        this.#attempt = undefined;
        // Every path that leaves more to do has set a timer, a link or a close to report.
        this.#kick();
      });
  }

  async #runAttempt(): Promise<void> {
    this.#activity = `discovering (${this.#config.discovery.mode})`;
    const discovery = tracer.startSpan(
      SPANS.discovery,
      { attributes: { [ATTR.discoveryMode]: this.#config.discovery.mode } },
      this.#attemptContext,
    );
    let found: DiscoveryResult;
    try {
      found = await this.#discovery.discover();
      discovery.setAttribute(ATTR.discoveryCandidates, found.candidates.length);
    } catch (error) {
      discovery.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
      throw error;
    } finally {
      discovery.end();
    }
    if (this.#terminated) return;
    await this.#watchUsbQuiet(found);
    if (!this.#mayConnect()) return;
    if (found.candidates.length === 0) {
      const wait = this.#config.discovery.intervalMs;
      this.#schedule(wait, `nothing found (${this.#config.discovery.mode}); discovering again in ${wait} ms`);
      return;
    }

    let opened: { link: Link; candidate: Candidate } | undefined;
    const errors: string[] = [];
    for (const candidate of found.candidates) {
      this.#activity = `connecting to ${candidate.address}`;
      const connect = tracer.startSpan(
        SPANS.connect,
        { attributes: { [ATTR.address]: candidate.address, [ATTR.transport]: candidate.kind } },
        this.#attemptContext,
      );
      try {
        const link = await this.#openLink(candidate, {
          timeoutMs: this.#config.connection.connectTimeoutMs,
          signal: this.#abort.signal,
        });
        opened = { link, candidate };
        connect.end();
        break;
      } catch (error) {
        errors.push(`${candidate.address}: ${describe(error)}`);
        connect.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
        connect.end();
      }
      if (this.#terminated) return;
    }
    if (opened === undefined) {
      this.#failures += 1;
      const wait = connectDelay(this.#config.connection.retry, this.#failures);
      this.#attemptLog('info', 'could not connect', { errors, attempt: this.#failures, retryInMs: wait });
      this.#schedule(wait, `connect failed (${errors.join('; ')}); retrying in ${wait} ms`);
      return;
    }
    if (this.#terminated || !this.#mayConnect()) {
      // Someone else moved the kernel, or autoconnect was paused, while we opened: keep no link.
      await opened.link.close();
      return;
    }
    await this.#confirm(this.#adopt(opened.link, opened.candidate));
  }

  /** Listens on a freshly opened link, holding its bytes until the kernel gives the generation. */
  #adopt(link: Link, candidate: Candidate): Current {
    const current: Current = {
      link,
      candidate,
      generation: undefined,
      closed: undefined,
      closeReason: undefined,
      pendingRx: [],
      pendingRxBytes: 0,
      pendingWrites: [],
      pendingCloses: new Map(),
      lastActivityCast: -Infinity,
      synchronizedAt: undefined,
      retryInMs: undefined,
      detach: [],
    };
    current.detach.push(
      link.onData((chunk) => this.#onData(current, chunk)),
      link.onError((error) => this.#log.debug('link error', { address: link.address, error: error.message })),
      link.onClose((info) => {
        current.closed = info;
        if (current.generation !== undefined) this.#onClosed(current);
      }),
    );
    this.#current = current;
    return current;
  }

  async #confirm(current: Current): Promise<void> {
    const { link } = current;
    this.#activity = `connected to ${link.address}; waiting for the kernel`;
    let state: KernelState;
    try {
      state = await this.#peers.kernel.transition({
        to: 'Connected',
        connection: { kind: link.kind, address: link.address },
      });
    } catch (error) {
      if (this.#current === current) this.#current = undefined;
      for (const detach of current.detach) detach();
      await link.close();
      if (this.#terminated) return;
      this.#failures += 1;
      const wait = connectDelay(this.#config.connection.retry, this.#failures);
      this.#attemptLog('warn', 'the kernel refused the connection', {
        address: link.address,
        error: describe(error),
      });
      this.#schedule(wait, `the kernel refused ${link.address}; retrying in ${wait} ms`);
      if (isIllegalTransition(error)) await this.#refreshState();
      return;
    }
    const generation = state.phase.generation;
    current.generation = generation;
    this.#lastGeneration = Math.max(this.#lastGeneration, generation);
    this.#applyState(state);
    if (this.#terminated) {
      // Stopped while the kernel was answering: the link is gone, so say so rather than leave Connected behind.
      await this.#peers.kernel
        .transition({ to: 'Disconnected', generation, reason: 'connection actor stopped' })
        .catch(() => undefined);
      return;
    }
    if (this.#current !== current) return;
    // Not a good link yet: the failure count goes back to 0 only once it has been Synchronized a while.
    this.#usbQuietSince = this.#timers.now();
    this.#activity = `connected to ${link.address} (generation ${generation})`;
    // In a run of failing links, each "connected" is news only to someone debugging.
    this.#attemptLog(this.#failures === 0 ? 'info' : 'debug', 'connected', {
      address: link.address,
      kind: link.kind,
      generation,
    });

    this.#decoder.reset();
    const held = current.pendingRx;
    current.pendingRx = [];
    current.pendingRxBytes = 0;
    for (const chunk of held) this.#receive(current, generation, chunk);
    const writes = current.pendingWrites;
    current.pendingWrites = [];
    for (const write of writes) this.write(write.generation, write.frame);

    const closeAsked = current.pendingCloses.get(generation);
    current.pendingCloses.clear();
    if (closeAsked !== undefined && current.closed === undefined) {
      current.closeReason ??= closeAsked;
      void link.close();
    }
    if (current.closed !== undefined) {
      this.#onClosed(current);
      return;
    }
    // A cast of a newer state may have come before this reply: act on it now.
    const known = this.#state?.phase;
    if (known !== undefined) this.#noteLinkPhase(current, known);
    if (known !== undefined && known.generation === generation && known.name === 'Disconnected') {
      current.closeReason ??= known.reason;
      void link.close();
    }
  }

  /** What the kernel says of a link's generation that matters when it closes. */
  #noteLinkPhase(current: Current, phase: KernelState['phase']): void {
    if (current.generation === undefined || phase.generation !== current.generation) return;
    if (phase.name === 'Synchronized') current.synchronizedAt ??= this.#timers.now();
    if (phase.name === 'Disconnected' && phase.retryInMs !== undefined) current.retryInMs = phase.retryInMs;
  }

  /**
   * A confirmed link closed: report it, then go back to discovery at once
   * (a good link) or after a wait (one that failed before it was good, or
   * one the kernel said to retry later).
   */
  #onClosed(current: Current): void {
    if (this.#current !== current || current.generation === undefined) return;
    this.#current = undefined;
    for (const detach of current.detach) detach();
    const generation = current.generation;
    const info = current.closed;
    const reason = current.closeReason ?? describeClose(info);
    const now = this.#timers.now();
    const retry = this.#config.connection.retry;
    const good = current.synchronizedAt !== undefined && now - current.synchronizedAt >= retry.resetAfterMs;
    if (good) {
      this.#failures = 0;
      this.#failureLogs = newFailureLogs();
    }
    let wait: number;
    if (current.retryInMs !== undefined) {
      // Not the link's fault (listening mode): no step up the backoff.
      wait = current.retryInMs;
    } else if (good) {
      // The controller was there and working a moment ago: the first retry is immediate.
      wait = 0;
    } else {
      this.#failures += 1;
      wait = connectDelay(retry, this.#failures);
    }
    this.#logClose(current, reason, good, wait);
    this.#activity =
      wait === 0
        ? `link closed (${reason}); reconnecting`
        : `link closed (${reason}); reconnecting in ${wait} ms`;
    this.#usbQuietSince = now;
    if (this.#terminated) return;
    this.#holdOff = wait;
    this.#unreported = { generation, reason };
    this.#kick();
  }

  /** A good link's close is news; a failure that repeats is logged once per backoff step. */
  #logClose(current: Current, reason: string, good: boolean, wait: number): void {
    const fields = { address: current.link.address, generation: current.generation, reason };
    if (good) {
      this.#log.info('link closed', { ...fields, retryInMs: wait });
      return;
    }
    const kind = current.retryInMs !== undefined ? `retry-asked:${wait}` : `link-failed:${wait}`;
    const suppressed = this.#failureLogs.admit(kind, this.#timers.now());
    if (suppressed === undefined) {
      this.#log.debug('link closed', { ...fields, retryInMs: wait, attempt: this.#failures });
      return;
    }
    const asked = current.retryInMs !== undefined;
    const message = asked
      ? 'link closed; retrying when the kernel asked'
      : 'the link failed before it was Synchronized for long; backing off as after a failed connect';
    this.#log[asked ? 'info' : 'warn'](message, {
      ...fields,
      retryInMs: wait,
      attempt: this.#failures,
      suppressedSinceLast: suppressed,
    });
  }

  async #reportClosed(generation: number, reason: string): Promise<void> {
    try {
      this.#applyState(await this.#peers.kernel.transition({ to: 'Disconnected', generation, reason }));
      this.#unreported = undefined;
      return;
    } catch (error) {
      // Illegal: the kernel already moved (e.g. it disconnected us first); fine, catch up.
      if (!isIllegalTransition(error)) {
        this.#log.warn('could not report the closed link to the kernel', {
          generation,
          error: describe(error),
        });
      }
    }
    if (await this.#refreshState()) {
      const phase = this.#state?.phase;
      if (phase !== undefined && (phase.generation > generation || phase.name === 'Disconnected')) {
        this.#unreported = undefined;
        return;
      }
    }
    if (this.#terminated) return;
    // The kernel did not answer: try again later rather than spin.
    const wait = this.#config.discovery.intervalMs;
    this.#schedule(wait, `waiting for the kernel to take the disconnect; again in ${wait} ms`);
  }

  #schedule(ms: number, activity: string, then: () => void = () => this.#kick()): void {
    this.#clearTimer();
    this.#activity = activity;
    if (this.#terminated) return;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      then();
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // ------------------------------------------------------- kernel state

  /** Keeps the newest state (compareKernelStates); an older one arriving late is ignored. Returns whether it was taken. */
  #applyState(state: KernelState): boolean {
    if (this.#state !== undefined && compareKernelStates(state, this.#state) < 0) return false;
    this.#state = state;
    return true;
  }

  async #refreshState(): Promise<boolean> {
    try {
      this.#applyState(await this.#peers.kernel.state());
      return true;
    } catch (error) {
      this.#log.warn('cannot read the kernel state', { error: describe(error) });
      return false;
    }
  }

  // ---------------------------------------------------------- rediscovery

  /**
   * USB that finds nothing for giveUpMs (since start, the last connect or
   * the last close) asks the kernel for the rediscovery exit; the kernel
   * applies the policy. Asked once per period.
   */
  async #watchUsbQuiet(found: DiscoveryResult): Promise<void> {
    if (!this.#includesUsb || !found.usbSearched) return;
    const now = this.#timers.now();
    if (found.candidates.some((c) => c.kind === 'serial')) {
      this.#usbQuietSince = now;
      return;
    }
    const quietMs = now - this.#usbQuietSince;
    if (quietMs < this.#config.discovery.usb.giveUpMs) return;
    this.#usbQuietSince = now;
    const reason = `USB discovery found no controller for ${Math.round(quietMs / 1000)} s`;
    try {
      const exiting = await this.#peers.kernel.requestRediscoveryExit(reason);
      this.#attemptLog(
        'info',
        exiting ? 'the kernel is exiting for USB rediscovery' : 'USB rediscovery exit declined',
        {
          reason,
        },
      );
      if (exiting) this.#activity = 'exiting for USB rediscovery';
    } catch (error) {
      this.#attemptLog('warn', 'could not ask for the USB rediscovery exit', { error: describe(error) });
    }
  }

  // ------------------------------------------------------------- traffic

  #onData(current: Current, chunk: Buffer): void {
    if (this.#current !== current) return;
    if (current.generation === undefined) {
      if (current.pendingRxBytes + chunk.length > CONNECTION_LIMITS.pendingRxBytes) {
        this.#droppedRxBytes += chunk.length;
        return;
      }
      current.pendingRx.push(chunk);
      current.pendingRxBytes += chunk.length;
      return;
    }
    // Outside any trace context (the actor's is synchronous): the casts it causes carry none.
    this.#receive(current, current.generation, chunk);
  }

  #receive(current: Current, generation: number, chunk: Buffer): void {
    const now = this.#timers.now();
    this.#lastReceivedAt = now;
    if (now - current.lastActivityCast >= CONNECTION_LIMITS.activityIntervalMs) {
      current.lastActivityCast = now;
      this.#peers.onActivity(generation, now);
    }
    this.#rxGeneration = generation;
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      this.#log.error('a decoded message could not be delivered', { error: describe(error) });
    }
  }

  #decoded(out: Decoded<ResponseFrame>): void {
    const generation = this.#rxGeneration;
    switch (out.kind) {
      case 'frame':
        this.#framesIn += 1;
        this.#peers.onResponse(generation, out.frame);
        return;
      case 'event':
        this.#peers.onEvent(generation, out.event);
        return;
      case 'log': {
        const suppressed = this.#logLimits.admit(`log:${out.level}`, this.#timers.now());
        if (suppressed === undefined) return;
        this.#log[LOG_METHOD[out.level]](`controller: ${out.text}`, {
          source: 'controller',
          generation,
          ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}),
        });
        return;
      }
      case 'error': {
        // A bad frame whose msgId is readable answers its request: fail that one now, not at its timeout.
        if (out.msgId !== undefined) this.#peers.onBadResponse(generation, out.msgId, out.reason);
        // Counted by the decoder; logged at most once per period so line noise cannot flood the log.
        const suppressed = this.#logLimits.admit('decode', this.#timers.now());
        if (suppressed === undefined) return;
        this.#log.warn('bad data from the controller', {
          error: out.error,
          reason: out.reason,
          sample: out.sample,
          generation,
          suppressedSinceLast: suppressed,
        });
        return;
      }
    }
  }

  #send(current: Current, frame: string): void {
    // Part of the command's trace: the write arrives in the commander's span context.
    const span =
      telemetryOn() && this.#config.telemetry?.writeSpans === true
        ? tracer.startSpan(SPANS.write, {
            attributes: { [ATTR.generation]: current.generation ?? 0, [ATTR.frameBytes]: frame.length },
          })
        : undefined;
    current.link.write(frame).then(
      () => {
        this.#framesOut += 1;
        span?.end();
      },
      (error: unknown) => {
        span?.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
        span?.end();
        if (this.#current !== current || current.closed !== undefined) return;
        this.#log.warn('write failed; closing the link', {
          address: current.link.address,
          error: describe(error),
        });
        current.closeReason ??= `write failed: ${describe(error)}`;
        void current.link.close();
      },
    );
  }

  #drop(generation: number, why: string): void {
    this.#droppedWrites += 1;
    this.#log.debug('write dropped', { generation, why });
  }

  /** Frame counters as observable counters: read at collection, nothing on the hot path. */
  #observeCounters(): () => void {
    const m = meter();
    const framesIn = m.createObservableCounter(METRICS.framesIn, { description: 'Response frames received' });
    const framesOut = m.createObservableCounter(METRICS.framesOut, { description: 'Request frames written' });
    const bad = m.createObservableCounter(METRICS.badFrames, {
      description: 'Bad input from the controller, by kind',
    });
    const observed: Observable[] = [framesIn, framesOut, bad];
    const callback: BatchObservableCallback = (result) => {
      result.observe(framesIn, this.#framesIn);
      result.observe(framesOut, this.#framesOut);
      const counters = this.#decoder.counters;
      const kinds: Record<string, number> = {
        framing: counters.framingErrors,
        crc: counters.crcErrors,
        bad_json: counters.badJson,
        bad_fields: counters.badFields,
        raw_bracket: counters.rawBracket,
        bad_events: counters.badEvents,
      };
      for (const [kind, count] of Object.entries(kinds))
        result.observe(bad, count, { [ATTR.frameError]: kind });
    };
    m.addBatchObservableCallback(callback, observed);
    return () => m.removeBatchObservableCallback(callback, observed);
  }

  async #bounded(promise: Promise<void>): Promise<void> {
    let handle: TimerHandle | undefined;
    // A real timer even under a fake clock: terminate must end whatever the test does with time.
    const timeout = new Promise<void>((resolve) => {
      handle = setTimeout(resolve, CONNECTION_LIMITS.terminateWaitMs);
    });
    try {
      await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(handle as NodeJS.Timeout);
    }
  }
}

// ---------------------------------------------------------------- helpers

/** Decode errors: one line per period. Controller logs (`log:LEVEL`): a few per level per period. */
function limitOf(kind: string): LogLimit {
  return kind === 'decode'
    ? { periodMs: CONNECTION_LIMITS.decodeLogIntervalMs, burst: 1 }
    : { periodMs: CONNECTION_LIMITS.controllerLogIntervalMs, burst: CONNECTION_LIMITS.controllerLogBurst };
}

/** A link failure, by backoff step: one line per step, and at the longest wait one per period. */
function newFailureLogs(): LogLimiter<string> {
  return new LogLimiter({ periodMs: CONNECTION_LIMITS.linkFailureLogIntervalMs, burst: 1 });
}

function isIllegalTransition(error: unknown): boolean {
  return TetherError.is(error, 'TETHER_ILLEGAL_TRANSITION');
}

function describe(error: unknown): string {
  if (TetherError.is(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function describeClose(info: LinkCloseInfo | undefined): string {
  if (info === undefined) return 'closed';
  switch (info.reason) {
    case 'local':
      return 'closed by the service';
    case 'remote':
      return 'closed by the controller';
    case 'error':
      return `I/O error: ${info.error?.message ?? 'unknown'}`;
  }
}
