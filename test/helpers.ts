/**
 * Shared test plumbing: a runtime per test that must leave no worker behind,
 * and waiting on supervision events with a deadline (never a bare sleep).
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ActorSystem, liveWorkerCount } from '../runtime/index.js';
import type { SystemOptions } from '../runtime/index.js';
import type { SupervisionEvent, SupervisionEvents } from '../supervisors/index.js';
import type { WorkerChildSpec } from '../supervisors/index.js';
import { PROBE_MODULE } from './fixtures/probe.js';
import { Recorder } from './recorder.js';
import type { ProbeConfig } from './fixtures/probe.js';

export const silentLogger = pino({ level: 'silent' });

/** Runs `body` with a fresh runtime, then shuts it down and asserts no worker thread is left. */
export async function withSystem<T>(
  body: (system: ActorSystem) => Promise<T>,
  options: SystemOptions = {},
): Promise<T> {
  const system = new ActorSystem({ logger: silentLogger, ...options });
  try {
    return await body(system);
  } finally {
    await system.shutdown();
    assert.equal(liveWorkerCount(), 0, 'a worker thread was left running');
  }
}

/** A probe worker child spec with short, test-friendly timings. */
export function probe(
  id: string,
  extra: Partial<WorkerChildSpec> & { config?: ProbeConfig } = {},
): WorkerChildSpec {
  return { id, kind: 'worker', module: PROBE_MODULE, shutdown: 2000, ...extra };
}

/** Records every event of a tree, and lets a test wait for one with a deadline. */
export class EventLog {
  readonly #seen = new Recorder<SupervisionEvent>();

  constructor(bus: SupervisionEvents) {
    bus.subscribe((event) => this.#seen.push(event));
  }

  get events(): readonly SupervisionEvent[] {
    return this.#seen.items;
  }

  of<T extends SupervisionEvent['type']>(type: T): Extract<SupervisionEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<SupervisionEvent, { type: T }> => e.type === type);
  }

  /** Resolves with the `count`-th event of `type` (already seen or to come) that matches; rejects at the deadline. */
  waitFor<T extends SupervisionEvent['type']>(
    type: T,
    match: (event: Extract<SupervisionEvent, { type: T }>) => boolean = () => true,
    timeoutMs = 10_000,
    count = 1,
  ): Promise<Extract<SupervisionEvent, { type: T }>> {
    const isIt = (e: SupervisionEvent): e is Extract<SupervisionEvent, { type: T }> => e.type === type;
    return this.#seen.waitFor((e) => isIt(e) && match(e), {
      timeoutMs,
      count,
      what: `${count}x ${type} event`,
      summary: () => this.summary(),
    }) as Promise<Extract<SupervisionEvent, { type: T }>>;
  }

  summary(): string {
    return this.events.map((e) => `${e.type}(${'childId' in e ? e.childId : e.supervisor})`).join(', ');
  }
}

/** Resolves as `promise` does, or rejects when `timeoutMs` passes first. */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls a condition until it holds, with a deadline (for state that has no event). */
export async function eventually(
  condition: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
