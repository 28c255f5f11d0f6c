/**
 * The pool worker's side: what runs a job inside a pool thread (the task
 * pool is a supervised pool child of the service's tree, runtime/pool.ts).
 * A job is a plain async function of its arguments and a context whose
 * `progress` is a comlink proxy of the main thread's callback, over the
 * MessagePort handed in with the task — so job code just awaits
 * `progress(40, 'validated')`. What the job returns or throws goes back
 * through `definePoolTask` (errors keep their class, code, detail and
 * cause); large results are moved, not copied (`moved`).
 */
import { releaseProxy, wrap } from 'comlink';
import type { Endpoint } from 'comlink';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { definePoolTask } from '../../runtime/actor-entry.js';
import type { PoolTaskFunction } from '../../runtime/actor-entry.js';
import { UnknownTaskKindError } from '../errors.js';
import type { PoolHost, PoolTask } from './messages.js';

export interface PoolJobContext {
  /** 0..100 and a short message; resolves once the main thread has it. */
  progress(percent: number, message: string): Promise<void>;
}

export type PoolJob = (args: unknown, context: PoolJobContext) => Promise<unknown>;

/** A result whose buffers are handed to the main thread rather than copied (a 20 MB backup's blocks). */
export function moved(value: unknown, transfer: ArrayBuffer[]): unknown {
  // piscina's `move` types its argument by an interface it does not export: this is that shape.
  return move({ [transferableSymbol]: transfer, [valueSymbol]: value } as unknown as ArrayBuffer);
}

/** The pool task over the given jobs: the default export of a pool module (entry.ts). */
export function poolWorker(jobs: Readonly<Record<string, PoolJob>>): PoolTaskFunction<PoolTask, unknown> {
  return definePoolTask(async ({ kind, args, port }: PoolTask): Promise<unknown> => {
    const host = wrap<PoolHost>(port as unknown as Endpoint);
    try {
      const job = jobs[kind];
      if (job === undefined) throw new UnknownTaskKindError(kind, Object.keys(jobs));
      await host.started();
      return await job(args, { progress: (percent, message) => host.progress(percent, message) });
    } finally {
      host[releaseProxy]();
      port.close();
    }
  });
}
