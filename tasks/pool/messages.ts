/**
 * What crosses between the main thread and a pool worker, in one place:
 * the task the pool carries (a job and the MessagePort its progress goes
 * back on) and the small API the main thread exposes on that port (through
 * comlink) for the job to call. Answers and errors go back through the
 * runtime's pool envelope (runtime/pool-messages.ts).
 */
import type { MessagePort } from 'node:worker_threads';

/** The job, as piscina hands it to the worker. */
export interface PoolTask {
  kind: string;
  args: unknown;
  /** Where the job's progress goes: comlink-wrapped on the worker side. */
  port: MessagePort;
}

/** Exposed by the main thread on the task's port; each call is a comlink round trip. */
export interface PoolHost {
  /** The job began on a worker (it was waiting for a free one until now). */
  started(): void;
  progress(percent: number, message: string): void;
}
