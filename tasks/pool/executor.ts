/**
 * The executor for CPU work (validating, hashing, serializing backups): jobs
 * run on a pool of worker threads, so a 20 MB file is parsed without a
 * moment of the main thread's event loop.
 *
 * The executor is written against `TaskPool`, the little it needs of a pool
 * (run a task with a transfer list and an abort signal, close), so the
 * supervised pool child of the runtime can take the place of `PiscinaPool`
 * without a change here. For each job it makes a MessageChannel, exposes the
 * tracker's callback on one end with comlink and hands the other end to the
 * job (worker.ts), which calls it as `await progress(40, 'validated')`.
 *
 * - Abort: piscina stops a queued task at once, and a running one by
 *   terminating its worker (replaced on the next task), so an aborted job
 *   ends within milliseconds; a CPU job has nothing partial to report.
 * - A worker that crashes mid-job fails that job (PoolTaskFailedError) and
 *   is replaced; queued jobs are unaffected.
 * - atomics 'disabled': with piscina's default 'sync', an idle worker parks
 *   in Atomics.wait and timers a job started (the state-file reader's time
 *   bound) would not fire.
 */
import { MessageChannel } from 'node:worker_threads';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { expose } from 'comlink';
import type { Endpoint } from 'comlink';
import { Piscina } from 'piscina';
import { TetherError, deserializeError } from '../../errors/index.js';
import { PoolClosedError, PoolTaskFailedError, TaskAbortedError } from '../errors.js';
import type { ExecutionControl, Executor, TaskJob } from '../executor.js';
import type { PoolAnswer, PoolHost, PoolTask } from './messages.js';

/** The service's pool worker module (entry.ts): the backup jobs. */
export const POOL_ENTRY = new URL('./entry.js', import.meta.url).href;

/** What the pool executor needs of a pool of worker threads. */
export interface TaskPool {
  run(task: PoolTask, options: { signal: AbortSignal; transferList: TransferListItem[] }): Promise<unknown>;
  /** Stops every worker; queued and running tasks reject. */
  close(): Promise<void>;
}

export interface PiscinaPoolOptions {
  /** The worker module (default: the backup jobs, entry.ts). */
  filename: string;
  maxThreads: number;
  /** An idle worker is stopped after this long (a pool costs nothing while unused). */
  idleTimeoutMs: number;
  /** Heap limit of each worker (resourceLimits.maxOldGenerationSizeMb). */
  memoryLimitMb: number;
  /**
   * Lower each worker thread's scheduling priority by this much (piscina's
   * niceIncrement, Linux nice through @napi-rs/nice): on a machine short of
   * cores, CPU work waits for the main thread rather than the other way round.
   */
  niceIncrement?: number;
}

export class PiscinaPool implements TaskPool {
  readonly #piscina: Piscina;

  constructor(options: PiscinaPoolOptions) {
    this.#piscina = new Piscina({
      filename: options.filename,
      minThreads: 0,
      maxThreads: Math.max(1, options.maxThreads),
      idleTimeout: options.idleTimeoutMs,
      atomics: 'disabled',
      resourceLimits: { maxOldGenerationSizeMb: options.memoryLimitMb },
      niceIncrement: options.niceIncrement ?? 0,
    });
  }

  /** Worker threads alive now. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  run(task: PoolTask, options: { signal: AbortSignal; transferList: TransferListItem[] }): Promise<unknown> {
    return this.#piscina.run(task, options) as Promise<unknown>;
  }

  async close(): Promise<void> {
    await this.#piscina.destroy();
  }
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
    let answer: PoolAnswer;
    try {
      answer = (await this.#pool.run(task, {
        signal,
        transferList: [port2 as MessagePort, ...(job.transfer ?? [])],
      })) as PoolAnswer;
    } catch (error) {
      if (signal.aborted) throw new TaskAbortedError('aborted on the pool (its worker was stopped)');
      if (this.#closed) throw new PoolClosedError();
      throw TetherError.is(error) ? error : new PoolTaskFailedError(job.kind, error);
    } finally {
      // The job has ended either way: no more progress can come, and the port must not hold the process.
      port1.close();
    }
    if (!answer.ok) throw deserializeError(answer.error);
    return answer.value;
  }

  /** Takes nothing more and stops the pool's workers. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool.close();
  }
}
