/**
 * What crosses between the main thread and a pool worker, in one place:
 * the task piscina carries (a job and the MessagePort its progress goes
 * back on), what the worker answers, and the small API the main thread
 * exposes on that port (through comlink) for the job to call.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from '../../errors/index.js';

/** The job, as piscina hands it to the worker. */
export interface PoolTask {
  kind: string;
  args: unknown;
  /** Where the job's progress goes: comlink-wrapped on the worker side. */
  port: MessagePort;
}

/**
 * The worker's answer. Errors travel serialized (errors/tether-error.ts):
 * structured cloning would keep an Error's message but lose its `code`,
 * `detail` and `cause`, which is what callers decide by.
 */
export type PoolAnswer = { ok: true; value: unknown } | { ok: false; error: SerializedError };

/** Exposed by the main thread on the task's port; each call is a comlink round trip. */
export interface PoolHost {
  /** The job began on a worker (it was waiting for a free one until now). */
  started(): void;
  progress(percent: number, message: string): void;
}
