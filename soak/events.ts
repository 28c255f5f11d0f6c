/**
 * The soak's reader of `/api/events`: the phase as the service announces
 * it, each transition checked as it arrives (phases.ts), and the
 * supervision events (exits, restarts, backoffs) kept for the fault driver.
 * A stream that ends while the soak still runs is a broken invariant (the
 * service dropped its only client), and it is opened again.
 */
import { request as httpRequest } from 'node:http';
import type { ClientRequest } from 'node:http';
import type { PhaseName } from '../contracts/phase.js';
import { checkTransition } from './phases.js';
import type { PhaseEvent, PhasePoint } from './phases.js';

export interface SupervisionNotice {
  type: string;
  childId?: string;
  supervisor?: string;
  reason?: { kind?: string };
  delayMs?: number;
  /** performance.now() when it arrived. */
  seenAt: number;
}

export interface EventWatchOptions {
  base: string;
  token: string;
  onViolation: (why: string) => void;
}

export class EventWatch {
  readonly #options: EventWatchOptions;
  #point: PhasePoint | undefined;
  #request: ClientRequest | undefined;
  #closed = false;
  #transitions = 0;
  #highestGeneration = 0;
  /** performance.now() of the last phase change. */
  #changedAt = performance.now();
  readonly #listeners = new Set<() => void>();
  readonly #supervision: SupervisionNotice[] = [];
  #streamsOpened = 0;

  constructor(options: EventWatchOptions) {
    this.#options = options;
  }

  get phase(): PhaseName | undefined {
    return this.#point?.phase;
  }

  get generation(): number {
    return this.#point?.generation ?? 0;
  }

  get transitions(): number {
    return this.#transitions;
  }

  get streamsOpened(): number {
    return this.#streamsOpened;
  }

  get changedAt(): number {
    return this.#changedAt;
  }

  /** Supervision events seen at or after `since` (performance.now()). */
  supervisionSince(since: number): SupervisionNotice[] {
    return this.#supervision.filter((n) => n.seenAt >= since);
  }

  /** Called on every event (phase or supervision), for waiters. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Opens the stream; resolves once its first (`state`) event arrived. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let first = true;
      const url = new URL('/api/events', this.#options.base);
      const req = httpRequest(url, { headers: { authorization: `Bearer ${this.#options.token}` } }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`/api/events answered ${res.statusCode}`));
          res.resume();
          return;
        }
        this.#streamsOpened += 1;
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event === undefined || data === undefined) continue;
            this.#event(event, JSON.parse(data) as Record<string, unknown>);
            if (first && event === 'state') {
              first = false;
              resolve();
            }
          }
        });
        res.on('close', () => this.#ended());
      });
      req.on('error', (error) => {
        if (first) reject(error);
        else this.#ended();
      });
      req.end();
      this.#request = req;
    });
  }

  close(): void {
    this.#closed = true;
    this.#request?.destroy();
  }

  #ended(): void {
    if (this.#closed) return;
    this.#options.onViolation('the event stream ended while the service was running');
    this.#closed = true;
    // Reopen after a moment; the check starts afresh from the new stream's state.
    setTimeout(() => {
      this.#closed = false;
      this.#point = undefined;
      this.open().catch((error: unknown) =>
        this.#options.onViolation(`the event stream could not be opened again: ${String(error)}`),
      );
    }, 200);
  }

  #event(event: string, data: Record<string, unknown>): void {
    if (event === 'state') {
      const generation = Number(data['generation']);
      if (generation < this.#highestGeneration) {
        this.#options.onViolation(`generation ${generation} after ${this.#highestGeneration}`);
      }
      this.#point = { phase: data['phase'] as PhaseName, generation };
      this.#highestGeneration = Math.max(this.#highestGeneration, generation);
    } else if (event === 'phase') {
      const change = data as unknown as PhaseEvent;
      const checked = checkTransition(this.#point, change);
      if (!checked.ok) this.#options.onViolation(`illegal phase transition: ${checked.why}`);
      // Across a reopened stream too: a generation never goes back.
      else if (checked.now.generation < this.#highestGeneration) {
        this.#options.onViolation(
          `generation went back: ${checked.now.generation} after ${this.#highestGeneration}`,
        );
      }
      this.#highestGeneration = Math.max(this.#highestGeneration, checked.now.generation);
      this.#point = checked.now;
      this.#transitions += 1;
      this.#changedAt = performance.now();
    } else if (event === 'supervision') {
      this.#supervision.push({ ...(data as Omit<SupervisionNotice, 'seenAt'>), seenAt: performance.now() });
      // Keep the last few hundred: the driver looks back one episode at a time.
      if (this.#supervision.length > 500) this.#supervision.splice(0, this.#supervision.length - 500);
    }
    for (const listener of [...this.#listeners]) listener();
  }
}
