/**
 * The executor for CPU work (validating, hashing, serializing backups): jobs
 * run on the service's task pool, a supervised pool child of its tree
 * (runtime/pool.ts, kernel/tree.ts), so a 20 MB file is parsed without a
 * moment of the main thread's event loop, and the pool is restarted, stopped
 * and shown like any child.
 *
 * The executor is written against `TaskPool`, the little it needs of a pool
 * (run a task with a transfer list and an abort signal): a `PoolRef`. For
 * each job it makes a MessageChannel, exposes the tracker's callback on one
 * end with comlink and hands the other end to the job (worker.ts), which
 * calls it as `await progress(40, 'validated')`.
 *
 * - Abort: the pool stops a queued task at once, and a running one by
 *   terminating its thread (replaced on the next task), so an aborted job
 *   ends within milliseconds; a CPU job has nothing partial to report.
 * - A thread that crashes mid-job fails that job (PoolTaskFailedError) and
 *   is replaced; queued jobs are unaffected.
 * - The pool restarted or stopped under a job: the job fails with the pool's
 *   PoolStoppedError (PoolClosedError once the executor is closed).
 */
import { MessageChannel } from 'node:worker_threads';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { expose } from 'comlink';
import type { Endpoint } from 'comlink';
import { TetherError } from '../../errors/index.js';
import { PoolClosedError, PoolTaskFailedError, TaskAbortedError } from '../errors.js';
import type { ExecutionControl, Executor, TaskJob } from '../executor.js';
import type { PoolHost, PoolTask } from './messages.js';

/** The service's pool task module (entry.ts): the backup jobs. */
export const POOL_ENTRY = new URL('./entry.js', import.meta.url).href;

/** What the pool executor needs of a pool: a `PoolRef` (`system.pool(id)`) is one. */
export interface TaskPool {
  run(task: PoolTask, options: { signal: AbortSignal; transferList: TransferListItem[] }): Promise<unknown>;
  /** Why the pool refuses tasks at once now; undefined while it takes them (PoolRef.down). */
  down?(): string | undefined;
}

export class PoolExecutor implements Executor {
  readonly #pool: TaskPool;
  #closed = false;

  constructor(pool: TaskPool) {
    this.#pool = pool;
  }

  async execute(job: TaskJob, control: ExecutionControl): Promise<unknown> {
    if (this.#closed) throw new PoolClosedError();
    const { signal, callback } = control;
    if (signal.aborted) throw new TaskAbortedError('aborted before it started');
    const { port1, port2 } = new MessageChannel();
    const host: PoolHost = {
      started: () => callback.started(),
      progress: (percent, message) => callback.progress(Number(percent), String(message)),
    };
    expose(host, port1 as unknown as Endpoint);
    const task: PoolTask = { kind: job.kind, args: job.args, port: port2 };
    try {
      return await this.#pool.run(task, {
        signal,
        transferList: [port2 as MessagePort, ...(job.transfer ?? [])],
      });
    } catch (error) {
      if (signal.aborted) throw new TaskAbortedError('aborted on the pool (its thread was stopped)');
      if (this.#closed) throw new PoolClosedError();
      // The pool's thread dying is this job's failure; anything else (the job's own error with its
      // class and code, the pool stopped or full) is thrown as the pool gave it.
      if (TetherError.is(error, 'TETHER_POOL_TASK_CRASHED')) throw new PoolTaskFailedError(job.kind, error);
      throw error;
    } finally {
      // The job has ended either way: no more progress can come, and the port must not hold the process.
      port1.close();
    }
  }

  /** Why a job would be refused at once now (the pool is down), for the tasks' preconditions. */
  down(): string | undefined {
    return this.#pool.down?.();
  }

  /** Takes nothing more (the pool itself is stopped by its supervisor, with the tree). */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
