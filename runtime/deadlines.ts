/**
 * Deadlines for many calls with one timer, instead of a `setTimeout` per
 * call (a Timeout object, a timer-list insert and an async id each, and the
 * same again to clear it: a tenth of a call's cost at 100 in flight).
 *
 * Entries with the same timeout expire in the order they were added, so each
 * distinct timeout keeps a queue in that order and one timer for its oldest
 * live entry. Cancelling only marks an entry; marked entries leave the queue
 * when they reach its head, or all at once when they outnumber the live ones.
 * A queue with nothing live drops its timer at once, so nothing outlives the
 * calls it watches.
 *
 * Reading the clock costs about as much as the rest of the bookkeeping, so
 * entries added in one synchronous stretch (a burst of calls) get their
 * deadline from one reading, taken in a microtask at the end of the stretch:
 * a deadline is never earlier than its timeout after the call was made, and
 * later by at most the rest of that stretch (by which any timer would be late too).
 */
/** What the queue keeps on each entry. */
export interface Timed {
  /** When it expires (monotonic ms, see now()); NaN until the stretch it was added in ends. */
  due: number;
  /** The queue it waits in; undefined once it expired or was cancelled. */
  lane: DeadlineLane | undefined;
}

export interface DeadlineLane {
  readonly timeoutMs: number;
  entries: Timed[];
  head: number;
  /** Entries from this index on have no deadline yet (see stampAll). */
  unstamped: number;
  live: number;
  timer: NodeJS.Timeout | undefined;
}

const TIMER_MAX_MS = 0x7fffffff;

export class Deadlines<T extends Timed> {
  readonly #lanes = new Map<number, DeadlineLane>();
  readonly #onExpire: (entry: T) => void;

  constructor(onExpire: (entry: T) => void) {
    this.#onExpire = onExpire;
  }

  add(entry: T, timeoutMs: number): void {
    let lane = this.#lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = { timeoutMs, entries: [], head: 0, unstamped: 0, live: 0, timer: undefined };
      this.#lanes.set(timeoutMs, lane);
    }
    entry.due = NaN;
    entry.lane = lane;
    if (lane.unstamped === lane.entries.length) toStamp.push(lane);
    lane.entries.push(entry);
    lane.live += 1;
    if (!stampScheduled) {
      stampScheduled = true;
      queueMicrotask(stampAll);
    }
    if (lane.timer === undefined) this.#arm(lane, timeoutMs);
  }

  /** The entry settled before its deadline; no-op if it already left its queue. */
  cancel(entry: T): void {
    const lane = entry.lane;
    if (lane === undefined) return;
    entry.lane = undefined;
    lane.live -= 1;
    if (lane.live === 0) {
      this.#drop(lane);
      return;
    }
    const entries = lane.entries;
    while (entries[lane.head]?.lane === undefined && lane.head < entries.length) lane.head += 1;
    const waiting = entries.length - lane.head;
    if (waiting > 64 && waiting > 2 * lane.live) {
      stamp(lane, now());
      lane.entries = entries.slice(lane.head).filter((e) => e.lane !== undefined);
      lane.head = 0;
      lane.unstamped = lane.entries.length;
    } else if (lane.head > 1024 && lane.head > waiting) {
      stamp(lane, now());
      lane.entries = entries.slice(lane.head);
      lane.head = 0;
      lane.unstamped = lane.entries.length;
    }
  }

  #drop(lane: DeadlineLane): void {
    if (lane.timer !== undefined) clearTimeout(lane.timer);
    this.#lanes.delete(lane.timeoutMs);
    lane.timer = undefined;
    lane.entries = [];
    lane.head = 0;
    lane.unstamped = 0;
  }

  #arm(lane: DeadlineLane, delayMs: number): void {
    // setTimeout takes at most 2^31 - 1 ms (it would fire at 1 ms instead); a later deadline re-arms.
    lane.timer = setTimeout(() => this.#fire(lane), Math.min(Math.max(1, Math.ceil(delayMs)), TIMER_MAX_MS));
  }

  #fire(lane: DeadlineLane): void {
    lane.timer = undefined;
    const time = now();
    // Microtasks run before any timer, so every entry has its deadline by now; this is only in case.
    stamp(lane, time);
    const entries = lane.entries;
    const expired: T[] = [];
    while (lane.head < entries.length) {
      const entry = entries[lane.head] as T;
      if (entry.lane !== undefined) {
        if (entry.due > time) break;
        entry.lane = undefined;
        lane.live -= 1;
        expired.push(entry);
      }
      lane.head += 1;
    }
    if (lane.live === 0) this.#drop(lane);
    else {
      lane.entries = entries.slice(lane.head);
      lane.head = 0;
      lane.unstamped = lane.entries.length;
      this.#arm(lane, (lane.entries[0] as T).due - time);
    }
    // After the queue is consistent: an expiry handler may add or cancel entries.
    for (const entry of expired) this.#onExpire(entry);
  }
}

/** Lanes with entries added in this synchronous stretch, which have no deadline yet. */
let toStamp: DeadlineLane[] = [];
let stampScheduled = false;

function stampAll(): void {
  stampScheduled = false;
  const lanes = toStamp;
  toStamp = [];
  const time = now();
  for (const lane of lanes) stamp(lane, time);
}

function stamp(lane: DeadlineLane, now: number): void {
  const entries = lane.entries;
  const due = now + lane.timeoutMs;
  for (let k = lane.unstamped; k < entries.length; k += 1) (entries[k] as Timed).due = due;
  lane.unstamped = entries.length;
}

/**
 * Monotonic milliseconds. Not performance.now(): node:perf_hooks is not
 * loaded in a worker until something uses it, and loading it costs about
 * 0.5 MB per actor (measured, docs/performance.md); process.hrtime is there already.
 */
function now(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1000 + nanoseconds / 1e6;
}
