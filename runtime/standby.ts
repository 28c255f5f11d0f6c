/**
 * Warm standby workers. Starting a Worker costs 40-100 ms here, most of it
 * loading the runtime and the actor module; a standby has done that already,
 * so a restart only sends it an identity and runs init. One standby is kept
 * per (module, resource limits), since limits are fixed when a thread starts.
 * The replacement is spawned a little after a standby is taken, so its
 * start-up does not compete with the restart that took it.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { WorkerSlot } from './worker-slot.js';
import type { SlotOptions } from './worker-slot.js';

/** Delay before warming a replacement, to stay out of the way of the restart in progress. */
const REWARM_DELAY_MS = 25;
/**
 * Delay before warming the first standby of a module: a tree starting up
 * spawns one worker per actor, and as many standbys at once would double the
 * threads competing for the cores just when start-up time matters most.
 */
const FIRST_WARM_DELAY_MS = 1500;

export function standbyKey(module: string, resourceLimits: ResourceLimits | undefined): string {
  return resourceLimits === undefined ? module : `${module}\u0000${JSON.stringify(resourceLimits)}`;
}

export class StandbyPool {
  readonly #enabled: boolean;
  readonly #ready = new Map<string, WorkerSlot>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  /** A loaded standby for these options if one is ready, else a fresh slot; a replacement is warmed either way. */
  take(options: SlotOptions): WorkerSlot {
    const key = standbyKey(options.module, options.resourceLimits);
    const standby = this.#ready.get(key);
    this.#ready.delete(key);
    this.#warmLater(key, options, standby === undefined ? FIRST_WARM_DELAY_MS : REWARM_DELAY_MS);
    if (standby !== undefined && standby.alive) return standby;
    if (standby !== undefined) void standby.terminate();
    return new WorkerSlot(options);
  }

  #warmLater(key: string, options: SlotOptions, delayMs: number): void {
    if (!this.#enabled || this.#closed || this.#timers.has(key)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      if (this.#closed || this.#ready.has(key)) return;
      const slot = new WorkerSlot(options);
      this.#ready.set(key, slot);
      // A standby that fails to load or dies is dropped; the next take spawns fresh.
      slot.loaded.catch(() => {
        if (this.#ready.get(key) === slot) this.#ready.delete(key);
        void slot.terminate();
      });
    }, delayMs);
    this.#timers.set(key, timer);
  }

  /** Ends every standby and pending warm-up. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const slots = [...this.#ready.values()];
    this.#ready.clear();
    await Promise.all(slots.map((slot) => slot.terminate()));
  }
}
