/**
 * What the main thread sees, as spans and metrics: the kernel's phase
 * changes and the supervisors' events.
 *
 * A connection attempt is a trace whose root span lives here: it begins
 * when the link goes Disconnected (or the service starts) and ends when it
 * reaches Synchronized, stops at Acknowledged with an incompatible or wrong
 * controller, goes Disconnected again, or has been trying for
 * `attemptMaxMs` (so no span stays open for hours while no controller is
 * there). Each phase change is an event on it. While an attempt is open,
 * main-thread messages that carry no context of their own (the kernel's
 * state casts, the spawn of a new incarnation) carry the attempt's, which
 * is how the actors' discovery, connect, handshake and sync spans join it.
 */
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Attributes, Context, Meter, Span, SpanContext, Tracer } from '@opentelemetry/api';
import type { PhaseSource } from '../contracts/actors.js';
import type { PhaseChange } from '../contracts/phase.js';
import type { PHASES, PhaseName } from '../contracts/phase.js';
import { deserializeError, describeExit } from '../runtime/index.js';
import type { ExitReason } from '../runtime/index.js';
import type { SupervisionEvent } from '../supervisors/index.js';
import { LATENCY_BUCKETS_MS } from './instruments.js';
import { ATTR, EVENTS, METRICS, SPANS, disconnectCategory } from './names.js';
import { traceparentOf } from './traceparent.js';

export interface ObserverDeps {
  tracer: Tracer;
  meter: Meter;
  /** How many commands the commander has pending, asked before it hears of a disconnect. */
  pendingCommands(): Promise<number | undefined>;
  /** An attempt still trying after this long is ended (it stays findable by its trace id). */
  attemptMaxMs?: number;
}

interface Attempt {
  readonly span: Span;
  readonly ctx: Context;
  readonly traceparent: string;
  readonly startedAt: number;
  readonly timer: NodeJS.Timeout;
}

const ALL_PHASES: typeof PHASES = ['Disconnected', 'Connected', 'Acknowledged', 'Synchronized'];
const FAILURES = new Set<ExitReason['kind']>(['crash', 'hung', 'oom']);

export class Observer {
  readonly #deps: ObserverDeps;
  readonly #attemptMaxMs: number;
  #phase: PhaseName = 'Disconnected';
  #attempt: Attempt | undefined;
  /** The last attempt to end, for the link from the disconnect that follows it. */
  #lastAttempt: SpanContext | undefined;
  #attempts = 0;
  readonly #restarts = new Map<string, Span>();
  readonly #backoffs = new Map<string, Span>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #timeToSync;
  readonly #restartCount;
  readonly #disconnects;
  readonly #heartbeat;
  #closed = false;

  constructor(deps: ObserverDeps) {
    this.#deps = deps;
    this.#attemptMaxMs = deps.attemptMaxMs ?? 5 * 60_000;
    const meter: Meter = deps.meter;
    meter
      .createObservableGauge(METRICS.phase, {
        description: 'The link phase: 1 for the current one, 0 for the others',
      })
      .addCallback((result) => {
        for (const phase of ALL_PHASES)
          result.observe(phase === this.#phase ? 1 : 0, { [ATTR.phase]: phase });
      });
    this.#timeToSync = meter.createHistogram(METRICS.timeToSynchronized, {
      unit: 's',
      description: 'From the start of a connection attempt to Synchronized',
      advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] },
    });
    this.#restartCount = meter.createCounter(METRICS.restarts, {
      description: 'Restarts by child and exit reason',
    });
    this.#disconnects = meter.createCounter(METRICS.disconnects, {
      description: 'Disconnects by reason category',
    });
    this.#heartbeat = meter.createHistogram(METRICS.heartbeat, {
      unit: 'ms',
      description: 'Heartbeat round trip to each actor',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
    });
  }

  /** Subscribes to the kernel and the supervision events; the first attempt starts now. */
  observe(
    kernel: PhaseSource,
    events: { subscribe(listener: (event: SupervisionEvent) => void): () => void },
  ): void {
    this.#phase = kernel.state.phase.name;
    if (this.#phase === 'Disconnected') this.#startAttempt(Date.now());
    this.#unsubscribe.push(
      kernel.onPhaseChange((change) => this.onPhaseChange(change)),
      events.subscribe((event) => this.onSupervision(event)),
    );
  }

  /** The context main-thread messages carry when the code sending them has none: the open attempt's. */
  fallbackTraceparent(): string {
    return this.#attempt?.traceparent ?? '';
  }

  onHeartbeat(actorId: string, rttMs: number): void {
    this.#heartbeat.record(rttMs, { [ATTR.actorId]: actorId });
  }

  // ---------------------------------------------------------------- phases

  onPhaseChange(change: PhaseChange): void {
    if (this.#closed) return;
    const { from, to } = change;
    this.#phase = to.name;
    const event: Attributes = {
      [ATTR.phaseFrom]: from.name,
      [ATTR.phaseTo]: to.name,
      [ATTR.phaseReason]: change.reason,
      [ATTR.generation]: to.generation,
      [ATTR.previousPhaseMs]: change.durationMs,
    };
    switch (to.name) {
      case 'Disconnected': {
        const category = disconnectCategory(to.reason);
        this.#disconnects.add(1, { [ATTR.disconnectCategory]: category });
        const ended = this.#attempt;
        if (ended !== undefined) {
          ended.span.addEvent(EVENTS.phase, event, to.since);
          const expected = category === 'service_stopping' || category === 'requested';
          this.#endAttempt(ended, 'disconnected', to.since, expected ? undefined : to.reason);
        }
        const attempt = this.#startAttempt(to.since);
        attempt.span.addEvent(EVENTS.phase, event, to.since);
        this.#disconnectSpan(change, category, attempt);
        return;
      }
      case 'Connected': {
        const attempt = this.#attempt ?? this.#startAttempt(to.since);
        attempt.span.addEvent(EVENTS.phase, event, to.since);
        attempt.span.setAttributes({
          [ATTR.generation]: to.generation,
          [ATTR.address]: to.connection.address,
          [ATTR.transport]: to.connection.kind,
        });
        return;
      }
      case 'Acknowledged': {
        const attempt = this.#attempt;
        if (attempt === undefined) return;
        attempt.span.addEvent(EVENTS.phase, event, to.since);
        const { handshake, firmwareError, identityError } = to.ack;
        attempt.span.setAttributes({
          [ATTR.deviceId]: handshake.deviceId,
          [ATTR.firmwareVersion]: handshake.firmwareVersion,
          [ATTR.protocolVersion]: handshake.protoVersion,
        });
        if (firmwareError !== undefined) {
          this.#endAttempt(attempt, 'incompatible', to.since, 'incompatible controller firmware');
        } else if (identityError !== undefined) {
          this.#endAttempt(attempt, 'wrong_device', to.since, 'wrong controller');
        }
        return;
      }
      case 'Synchronized': {
        const attempt = this.#attempt;
        if (attempt === undefined) return;
        attempt.span.addEvent(EVENTS.phase, event, to.since);
        this.#timeToSync.record(Math.max(0, to.since - attempt.startedAt) / 1000);
        this.#endAttempt(attempt, 'synchronized', to.since, undefined);
        return;
      }
    }
  }

  #startAttempt(at: number): Attempt {
    this.#attempts += 1;
    const span = this.#deps.tracer.startSpan(
      SPANS.attempt,
      { root: true, startTime: at, attributes: { [ATTR.attemptNumber]: this.#attempts } },
      context.active(),
    );
    const ctx = trace.setSpan(context.active(), span);
    const timer = setTimeout(() => {
      if (this.#attempt === attempt) this.#endAttempt(attempt, 'still_trying', Date.now(), undefined);
    }, this.#attemptMaxMs).unref();
    const attempt: Attempt = { span, ctx, traceparent: traceparentOf(ctx), startedAt: at, timer };
    this.#attempt = attempt;
    return attempt;
  }

  #endAttempt(attempt: Attempt, outcome: string, at: number, error: string | undefined): void {
    clearTimeout(attempt.timer);
    attempt.span.setAttribute(ATTR.attemptOutcome, outcome);
    if (error !== undefined) attempt.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    attempt.span.end(at);
    this.#lastAttempt = attempt.span.spanContext();
    if (this.#attempt === attempt) this.#attempt = undefined;
  }

  /**
   * The disconnect, as a span in the new attempt (which it explains), linked
   * to the attempt it ended. The commander is asked how many commands it has
   * pending before the kernel's cast tells it (same channel, so in order):
   * those are the commands this disconnect fails.
   */
  #disconnectSpan(change: PhaseChange, category: string, attempt: Attempt): void {
    if (change.to.name !== 'Disconnected') return;
    const ended = this.#lastAttempt;
    const span = this.#deps.tracer.startSpan(
      SPANS.disconnect,
      {
        startTime: change.to.since,
        attributes: {
          [ATTR.disconnectReason]: change.to.reason,
          [ATTR.disconnectCategory]: category,
          [ATTR.generation]: change.to.generation,
          [ATTR.phaseFrom]: change.from.name,
          [ATTR.previousPhaseMs]: change.durationMs,
        },
        links:
          ended === undefined
            ? []
            : [{ context: ended, attributes: { 'tether.link.type': 'ended_attempt' } }],
      },
      attempt.ctx,
    );
    if (category !== 'service_stopping')
      span.setStatus({ code: SpanStatusCode.ERROR, message: change.to.reason });
    this.#deps.pendingCommands().then(
      (pending) => {
        if (pending !== undefined) span.setAttribute(ATTR.failedCommands, pending);
        span.end();
      },
      () => span.end(),
    );
  }

  // ------------------------------------------------------------ supervision

  onSupervision(event: SupervisionEvent): void {
    if (this.#closed) return;
    const { tracer } = this.#deps;
    switch (event.type) {
      case 'child-exited': {
        const key = `${event.supervisor}/${event.childId}`;
        this.#restarts.get(key)?.end(event.at);
        this.#restarts.delete(key);
        // A child that stays stopped (temporary, or transient ending normally) is not restarted: no span.
        if (!event.restarting) return;
        const span = tracer.startSpan(
          SPANS.restart,
          {
            root: true,
            startTime: event.at,
            attributes: {
              [ATTR.supervisor]: event.supervisor,
              [ATTR.childId]: event.childId,
              [ATTR.exitReason]: event.reason.kind,
              [ATTR.exitDetail]: describeExit(event.reason),
            },
            links: this.#attempt === undefined ? [] : [{ context: this.#attempt.span.spanContext() }],
          },
          context.active(),
        );
        const reason = event.reason;
        if (FAILURES.has(reason.kind)) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: describeExit(reason) });
          if (reason.kind === 'crash' || reason.kind === 'oom')
            span.recordException(deserializeError(reason.error), event.at);
        }
        this.#restarts.set(key, span);
        return;
      }
      case 'child-restarted': {
        const key = `${event.supervisor}/${event.childId}`;
        const span = this.#restarts.get(key);
        this.#restarts.delete(key);
        this.#restartCount.add(1, {
          [ATTR.childId]: event.childId,
          [ATTR.exitReason]: event.cause.kind,
          [ATTR.supervisor]: event.supervisor,
        });
        if (span === undefined) return;
        span.setAttributes({ [ATTR.strategy]: event.strategy, [ATTR.restartedChildren]: event.group });
        span.end(event.at);
        return;
      }
      case 'give-up': {
        const restart = this.#restarts.get(`${event.supervisor}/${event.childId}`);
        this.#restarts.delete(`${event.supervisor}/${event.childId}`);
        restart?.setAttribute(ATTR.attemptOutcome, 'gave_up');
        restart?.end(event.at);
        const span = tracer.startSpan(
          SPANS.giveUp,
          {
            root: true,
            startTime: event.at,
            attributes: {
              [ATTR.supervisor]: event.supervisor,
              [ATTR.childId]: event.childId,
              [ATTR.intensity]: event.intensity,
              [ATTR.periodMs]: event.periodMs,
            },
            links: restart === undefined ? [] : [{ context: restart.spanContext() }],
          },
          context.active(),
        );
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'restart intensity spent' });
        span.end(event.at);
        return;
      }
      case 'backoff': {
        const key = `${event.supervisor}/${event.childId ?? '*'}`;
        this.#backoffs.get(key)?.end(event.at);
        const restart =
          event.childId === undefined
            ? undefined
            : this.#restarts.get(`${event.supervisor}/${event.childId}`);
        const parent = restart === undefined ? context.active() : trace.setSpan(context.active(), restart);
        const span = tracer.startSpan(
          SPANS.backoff,
          {
            startTime: event.at,
            attributes: {
              [ATTR.supervisor]: event.supervisor,
              ...(event.childId === undefined ? {} : { [ATTR.childId]: event.childId }),
              [ATTR.delayMs]: event.delayMs,
              [ATTR.backoffAttempt]: event.attempt,
            },
          },
          parent,
        );
        this.#backoffs.set(key, span);
        return;
      }
      case 'child-started': {
        // A backoff ends when what it delayed starts.
        for (const key of [`${event.supervisor}/${event.childId}`, `${event.supervisor}/*`]) {
          this.#backoffs.get(key)?.end(event.at);
          this.#backoffs.delete(key);
        }
        return;
      }
      case 'supervisor-stopped': {
        for (const map of [this.#restarts, this.#backoffs]) {
          for (const [key, span] of map) {
            if (!key.startsWith(`${event.supervisor}/`)) continue;
            span.end(event.at);
            map.delete(key);
          }
        }
        return;
      }
      default:
        return;
    }
  }

  /** Ends whatever is open (the service is stopping) and unsubscribes. */
  close(): void {
    if (this.#closed) return;
    const attempt = this.#attempt;
    if (attempt !== undefined) this.#endAttempt(attempt, 'service_stopped', Date.now(), undefined);
    for (const span of [...this.#restarts.values(), ...this.#backoffs.values()]) span.end();
    this.#restarts.clear();
    this.#backoffs.clear();
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#closed = true;
  }
}
