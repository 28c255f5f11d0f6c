/**
 * The kernel's side of the rediscovery backoff, in one object: load the
 * persisted exits at start, track how long the service has gone without a
 * connection, answer the connection actor's exit request, record the exit,
 * and forget the streak after a connection.
 *
 * The connection actor asks (`requestRediscoveryExit`) each time USB has
 * been quiet for `discovery.usb.giveUpMs`; the gate grants it only once the
 * service has gone without a connection for the current discovery window
 * (which grows with each recent exit, see rediscovery-state.ts). Until then
 * it declines, and the actor asks again one give-up period later.
 */
import type { Logger } from '../runtime/logger.js';
import {
  discoveryWindowMs,
  loadRediscoveryState,
  recentExits,
  recordRediscoveryExit,
  REDISCOVERY_DEFAULTS,
  resetRediscoveryState,
  type RediscoveryBackoffOptions,
  type RediscoveryState,
} from './rediscovery-state.js';
import type { StateFileProblem } from './state-file.js';

export interface RediscoveryClock {
  /** Wall clock, ms since the epoch: what is persisted. */
  wall(): number;
  /** Monotonic ms: how long this run has been quiet (immune to clock steps). */
  monotonic(): number;
}

export interface RediscoveryGateOptions {
  stateDir: string;
  /** The configured give-up time, `discovery.usb.giveUpMs`: the first window. */
  baseMs: number;
  backoff?: Partial<RediscoveryBackoffOptions>;
  clock?: RediscoveryClock;
  logger?: Logger;
}

export interface RediscoveryDecision {
  exit: boolean;
  /** How long this run has gone without a connection. */
  quietMs: number;
  /** How long it must, before it may exit. */
  windowMs: number;
}

const SYSTEM_CLOCK: RediscoveryClock = { wall: () => Date.now(), monotonic: () => performance.now() };

export class RediscoveryGate {
  readonly #options: RediscoveryGateOptions;
  readonly #clock: RediscoveryClock;
  #state: RediscoveryState = { exits: [] };
  #quietSince: number;

  constructor(options: RediscoveryGateOptions) {
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#quietSince = this.#clock.monotonic();
  }

  /** Reads the persisted exits; call once at start. Never throws; a bad file is returned as `problem`. */
  async load(): Promise<{ windowMs: number; recentExits: number; problem?: StateFileProblem }> {
    const loaded = await loadRediscoveryState(this.#options.stateDir, {
      ...(this.#options.logger && { logger: this.#options.logger }),
      now: () => this.#clock.wall(),
    });
    this.#state = loaded.state;
    const windowMs = this.windowMs();
    const forgetAfterMs = this.#options.backoff?.forgetAfterMs ?? REDISCOVERY_DEFAULTS.forgetAfterMs;
    const count = recentExits(this.#state, this.#clock.wall(), forgetAfterMs).length;
    return loaded.problem
      ? { windowMs, recentExits: count, problem: loaded.problem }
      : { windowMs, recentExits: count };
  }

  /** The current discovery window. */
  windowMs(): number {
    return discoveryWindowMs(this.#options.baseMs, this.#state, this.#clock.wall(), this.#options.backoff);
  }

  /** A controller answered: the streak is over. Writes the file only when there was a streak. */
  async onConnected(): Promise<void> {
    this.#quietSince = this.#clock.monotonic();
    if (this.#state.exits.length === 0) return;
    this.#state = { exits: [] };
    try {
      await resetRediscoveryState(this.#options.stateDir);
    } catch (error) {
      this.#options.logger?.warn({ error: describe(error) }, 'could not reset the rediscovery state');
    }
  }

  /** The link went back to Disconnected: quiet time counts from now. */
  onDisconnected(): void {
    this.#quietSince = this.#clock.monotonic();
  }

  /** Synchronous, for the kernel's `requestRediscoveryExit` handler (the policy is the kernel's, checked first). */
  decide(): RediscoveryDecision {
    const quietMs = this.#clock.monotonic() - this.#quietSince;
    const windowMs = this.windowMs();
    return { exit: quietMs >= windowMs, quietMs, windowMs };
  }

  /** Persists this exit; call just before exiting with code 75. Never throws (a failure is logged). */
  async recordExit(): Promise<void> {
    try {
      this.#state = await recordRediscoveryExit(this.#options.stateDir, this.#clock.wall(), {
        ...this.#options.backoff,
        ...(this.#options.logger && { logger: this.#options.logger }),
      });
    } catch (error) {
      this.#options.logger?.warn({ error: describe(error) }, 'could not record the rediscovery exit');
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
