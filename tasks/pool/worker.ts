/**
 * The pool worker's side: what runs a job inside a piscina worker thread.
 * A job is a plain async function of its arguments and a context whose
 * `progress` is a comlink proxy of the main thread's callback, over the
 * MessagePort handed in with the task — so job code just awaits
 * `progress(40, 'validated')`. What the job returns or throws goes back as a
 * `PoolAnswer` (errors serialized with their code, detail and cause); large
 * results are moved, not copied (`moved`).
 */
import { releaseProxy, wrap } from 'comlink';
import type { Endpoint } from 'comlink';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { serializeError } from '../../errors/index.js';
import { UnknownTaskKindError } from '../errors.js';
import type { PoolAnswer, PoolHost, PoolTask } from './messages.js';

export interface PoolJobContext {
  /** 0..100 and a short message; resolves once the main thread has it. */
  progress(percent: number, message: string): Promise<void>;
}

export type PoolJob = (args: unknown, context: PoolJobContext) => Promise<unknown>;

const MOVED = Symbol('moved');

interface Moved {
  [MOVED]: true;
  value: unknown;
  transfer: ArrayBuffer[];
}

/** A result whose buffers are handed to the main thread rather than copied (a 20 MB backup's blocks). */
export function moved(value: unknown, transfer: ArrayBuffer[]): Moved {
  return { [MOVED]: true, value, transfer };
}

function isMoved(value: unknown): value is Moved {
  return typeof value === 'object' && value !== null && MOVED in value;
}

/** The function piscina calls for each task, over the given jobs. */
export function poolWorker(jobs: Readonly<Record<string, PoolJob>>): (task: PoolTask) => Promise<unknown> {
  return async ({ kind, args, port }: PoolTask): Promise<unknown> => {
    const host = wrap<PoolHost>(port as unknown as Endpoint);
    let answer: PoolAnswer;
    let transfer: ArrayBuffer[] = [];
    try {
      const job = jobs[kind];
      if (job === undefined) throw new UnknownTaskKindError(kind, Object.keys(jobs));
      await host.started();
      const result = await job(args, { progress: (percent, message) => host.progress(percent, message) });
      if (isMoved(result)) {
        answer = { ok: true, value: result.value };
        transfer = result.transfer;
      } else {
        answer = { ok: true, value: result };
      }
    } catch (error) {
      answer = { ok: false, error: serializeError(error) };
    } finally {
      host[releaseProxy]();
      port.close();
    }
    if (transfer.length === 0) return answer;
    // piscina's `move` types its argument by an interface it does not export: this is that shape.
    return move({ [transferableSymbol]: transfer, [valueSymbol]: answer } as unknown as ArrayBuffer);
  };
}
