/**
 * The watchdog: is the controller still there?
 *
 * An unplugged USB controller gives no close event and writes still succeed;
 * only silence shows it (protocol.md section 6). So while Acknowledged or
 * Synchronized, when nothing has been received for `idleMs` (counted from the
 * later of the last byte received and the moment the phase began), the
 * watchdog sends a NONE through the commander. Any answer counts as
 * activity; no answer within `timeoutMs` (or any failure of the request)
 * makes it ask the kernel to disconnect that generation. A silent controller
 * with no traffic at all is therefore noticed within idleMs + timeoutMs
 * (8 s by default), whether it went silent while synchronized, while being
 * synchronized, or while held Acknowledged (incompatible firmware, wrong
 * device).
 *
 * In Connected it does nothing: synchronization waits for the handshake
 * there, pinging, and drops a link that answers nothing within the same
 * idleMs + timeoutMs (it also holds links there after listening mode, which
 * must not count as silence). One check at a time, one timer at a time;
 * activity only records a timestamp (connection casts it up to four times a
 * second), and the timer, when it fires, works out whether the link was
 * really idle.
 *
 * It also answers `health()` for readiness: healthy means Synchronized.
 */
import type { ActorLogger } from '../../runtime/actor.js';
import type { Phase } from '../../contracts/phase.js';
import type { KernelState } from '../../contracts/actors.js';
import { KernelView } from '../shared/kernel-view.js';
import { realTimers, type Timer, type Timers } from '../shared/timers.js';

// ---------------------------------------------------------------- public API

export interface WatchdogSettings {
  /** watchdog.idleMs: silence that triggers a check. */
  idleMs: number;
  /** watchdog.timeoutMs: how long the check's NONE may take. */
  timeoutMs: number;
}

/** What the watchdog needs from its peers; the actor shell wires these to refs. */
export interface WatchdogDeps {
  /** Sends NONE (through the commander) with this timeout; resolves on any answer the commander accepts. */
  ping(timeoutMs: number): Promise<unknown>;
  kernel: {
    state(): Promise<KernelState>;
    disconnect(generation: number, reason: string): Promise<boolean>;
    /** Facts for status and health (optional, fire-and-forget). */
    report?(facts: Record<string, unknown>): void;
  };
  log: ActorLogger;
  timers?: Timers;
}

export interface WatchdogHealth {
  healthy: boolean;
  phase: Phase['name'];
  lastReceivedAt: number | null;
  lastCheck: string | null;
}

/** The phases whose link the watchdog checks. */
const WATCHED: ReadonlySet<Phase['name']> = new Set(['Acknowledged', 'Synchronized']);

export function silentReason(timeoutMs: number): string {
  return `controller silent: no answer to NONE within ${timeoutMs}ms`;
}

export class Watchdog {
  readonly #deps: WatchdogDeps;
  readonly #timers: Timers;
  readonly #idleMs: number;
  readonly #timeoutMs: number;
  readonly #view: KernelView;

  /**
   * The newest activity seen, with its generation. Activity for a generation
   * newer than the view's is kept (its state is on the way); older is ignored.
   */
  #activity: { generation: number; at: number } | undefined;
  #timer: Timer | undefined;
  /** The check in flight, if any. */
  #check: { generation: number } | undefined;
  /** When the last check of a generation ended, answered or not: the next waits idleMs after it. */
  #lastCheckEnd: { generation: number; at: number } | undefined;
  #lastCheck: string | null = null;
  #stopped = false;

  #checksRun = 0;
  #checksFailed = 0;
  #disconnectsAsked = 0;

  constructor(settings: WatchdogSettings, deps: WatchdogDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? realTimers;
    this.#idleMs = settings.idleMs;
    this.#timeoutMs = settings.timeoutMs;
    this.#view = new KernelView(
      () => deps.kernel.state(),
      () => this.#reschedule(),
    );
  }

  onKernelState(state: KernelState): void {
    this.#view.apply(state);
  }

  /** Something arrived on the link of `generation` at `at` (ms since epoch). */
  onActivity(generation: number, at: number): void {
    const seen = this.#activity;
    if (generation < this.#view.phase.generation) return;
    if (
      seen !== undefined &&
      (generation < seen.generation || (generation === seen.generation && at <= seen.at))
    ) {
      return;
    }
    this.#activity = { generation, at };
  }

  /** Catches up with the kernel (at start: a restarted watchdog has missed casts). */
  refreshState(): Promise<boolean> {
    return this.#view.refresh();
  }

  health(): WatchdogHealth {
    const phase = this.#view.phase;
    return {
      healthy: phase.name === 'Synchronized',
      phase: phase.name,
      lastReceivedAt: this.#lastReceivedAt(phase.generation),
      lastCheck: this.#lastCheck,
    };
  }

  get stats(): { checksRun: number; checksFailed: number; disconnectsAsked: number; checking: boolean } {
    return {
      checksRun: this.#checksRun,
      checksFailed: this.#checksFailed,
      disconnectsAsked: this.#disconnectsAsked,
      checking: this.#check !== undefined,
    };
  }

  terminate(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  // ------------------------------------------------------------ timing

  #lastReceivedAt(generation: number): number | null {
    const seen = this.#activity;
    return seen !== undefined && seen.generation === generation ? seen.at : null;
  }

  /**
   * Since when the link of a watched phase counts as idle: the later of
   * the start of the phase, the last activity, and the end of the last check
   * (so a failed check is not repeated at once while its disconnect is on the way).
   */
  #idleSince(phase: Phase): number {
    const checkEnd = this.#lastCheckEnd;
    return Math.max(
      phase.since,
      this.#lastReceivedAt(phase.generation) ?? -Infinity,
      checkEnd !== undefined && checkEnd.generation === phase.generation ? checkEnd.at : -Infinity,
    );
  }

  #reschedule(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    const phase = this.#view.phase;
    if (this.#stopped || !WATCHED.has(phase.name)) return;
    if (this.#check !== undefined && this.#check.generation === phase.generation) return;
    const dueIn = this.#idleSince(phase) + this.#idleMs - this.#timers.now();
    this.#timer = this.#timers.schedule(Math.max(0, dueIn), () => this.#onTimer());
  }

  #onTimer(): void {
    this.#timer = undefined;
    const phase = this.#view.phase;
    if (this.#stopped || !WATCHED.has(phase.name)) return;
    // Activity since the timer was set postpones the check.
    if (this.#idleSince(phase) + this.#idleMs > this.#timers.now()) {
      this.#reschedule();
      return;
    }
    this.#runCheck(phase.generation);
  }

  // ------------------------------------------------------------ checks

  #runCheck(generation: number): void {
    const check = { generation };
    this.#check = check;
    this.#checksRun += 1;
    const started = this.#timers.now();
    this.#deps.log.debug('link idle: sending NONE', { generation, idleMs: this.#idleMs });
    this.#deps.ping(this.#timeoutMs).then(
      () => this.#onCheckDone(check, started, undefined),
      (error: unknown) => this.#onCheckDone(check, started, error ?? new Error('ping failed')),
    );
  }

  #onCheckDone(check: { generation: number }, started: number, error: unknown): void {
    if (this.#check === check) this.#check = undefined;
    if (this.#stopped) return;
    const now = this.#timers.now();
    this.#lastCheckEnd = { generation: check.generation, at: now };
    const at = new Date(now).toISOString();
    if (error === undefined) {
      // An answer is activity, whether or not connection's own cast has come yet.
      this.onActivity(check.generation, now);
      this.#lastCheck = `${at} NONE answered in ${now - started} ms`;
    } else {
      this.#checksFailed += 1;
      const code = (error as { code?: unknown }).code;
      const why = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
      const phase = this.#view.phase;
      if (phase.generation === check.generation && phase.name !== 'Disconnected') {
        const reason = silentReason(this.#timeoutMs);
        this.#lastCheck = `${at} NONE failed (${why}): disconnect asked`;
        this.#disconnectsAsked += 1;
        this.#deps.log.warn('controller silent: asking the kernel to disconnect', {
          generation: check.generation,
          error: why,
          timeoutMs: this.#timeoutMs,
        });
        this.#deps.kernel.disconnect(check.generation, reason).then(
          (accepted) =>
            this.#deps.log.info('disconnect requested', { generation: check.generation, accepted }),
          (cause: unknown) =>
            this.#deps.log.error('the kernel did not take the disconnect request', {
              generation: check.generation,
              error: cause instanceof Error ? cause.message : String(cause),
            }),
        );
      } else {
        // The link went away while the check ran: nothing left to disconnect.
        this.#lastCheck = `${at} NONE failed (${why}) after the link was gone`;
      }
    }
    this.#report();
    this.#reschedule();
  }

  #report(): void {
    this.#deps.kernel.report?.({ ...this.health(), ...this.stats });
  }
}
