/**
 * Warm standby workers. Starting a Worker costs 40-100 ms here, most of it
 * loading the runtime and the actor module; a standby has done that already,
 * so a restart only sends it an identity and runs init. One standby is kept
 * per (module, resource limits), since limits are fixed when a thread starts.
 *
 * When a replacement is spawned matters as much as having one. Never while
 * a start of the same key is in progress: a new thread loading competes for
 * the cores with the start it would replace, and a second crash coming
 * before the standby has loaded would then wait for two threads loading at
 * once (slower than one fresh spawn). So the replacement is spawned shortly
 * after the last start of its key has finished, once the restarted actor
 * has had a moment to answer the calls that waited for it; a crash in that
 * moment spawns fresh, which costs what loading the replacement would have.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { WorkerSlot } from './worker-slot.js';
import type { SlotOptions } from './worker-slot.js';

/**
 * Delay before warming the first standby of a module: a tree starting up
 * spawns one worker per actor, and as many standbys at once would double the
 * threads competing for the cores just when start-up time matters most.
 */
const FIRST_WARM_DELAY_MS = 1500;
/**
 * Delay after a start before its replacement loads: spawning a Worker takes
 * the main thread a moment and a core for tens of ms, which the restarted
 * actor's first answers should not wait behind.
 */
const REWARM_DELAY_MS = 10;

export function standbyKey(module: string, resourceLimits: ResourceLimits | undefined): string {
  return resourceLimits === undefined ? module : `${module}\u0000${JSON.stringify(resourceLimits)}`;
}

/** A slot handed out for a start; `started()` says the start is over (ready or failed). */
export interface TakenSlot {
  readonly slot: WorkerSlot;
  started(): void;
}

export class StandbyPool {
  readonly #enabled: boolean;
  readonly #ready = new Map<string, WorkerSlot>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Starts in progress per key: no standby is spawned while one runs. */
  readonly #starting = new Map<string, number>();
  /** Keys that have had a standby: the first one waits out the start-up of the tree. */
  readonly #warmedBefore = new Set<string>();
  #closed = false;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  /** A standby for these options if one is there (loaded or still loading), else a fresh slot. */
  take(options: SlotOptions): TakenSlot {
    const key = standbyKey(options.module, options.resourceLimits);
    const standby = this.#ready.get(key);
    this.#ready.delete(key);
    this.#starting.set(key, (this.#starting.get(key) ?? 0) + 1);
    let slot: WorkerSlot;
    if (standby !== undefined && standby.alive) {
      slot = standby;
    } else {
      if (standby !== undefined) void standby.terminate();
      slot = new WorkerSlot(options);
    }
    let done = false;
    return {
      slot,
      started: () => {
        if (done) return;
        done = true;
        const left = (this.#starting.get(key) ?? 1) - 1;
        if (left > 0) this.#starting.set(key, left);
        else this.#starting.delete(key);
        this.#replenish(key, options);
      },
    };
  }

  #replenish(key: string, options: SlotOptions): void {
    if (!this.#enabled || this.#closed || this.#ready.has(key) || this.#starting.has(key)) return;
    if (this.#timers.has(key)) return;
    const delayMs = this.#warmedBefore.has(key) ? REWARM_DELAY_MS : FIRST_WARM_DELAY_MS;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      // A start begun meanwhile warms one when it is over.
      if (!this.#starting.has(key)) this.#warm(key, options);
    }, delayMs);
    this.#timers.set(key, timer);
  }

  #warm(key: string, options: SlotOptions): void {
    if (this.#closed || this.#ready.has(key)) return;
    this.#warmedBefore.add(key);
    const slot = new WorkerSlot(options, true);
    this.#ready.set(key, slot);
    // A standby that fails to load or dies is dropped; the next take spawns fresh.
    slot.loaded.catch(() => {
      if (this.#ready.get(key) === slot) this.#ready.delete(key);
      void slot.terminate();
    });
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
