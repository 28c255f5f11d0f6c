/**
 * An executor that runs jobs on this thread, at most `concurrency` at once,
 * in order of arrival. Its jobs must not block: they await other threads
 * (the commander's calls, a pool) and check their signal between steps.
 */
import { TaskAbortedError } from './errors.js';
import type { ExecutionControl, Executor, TaskJob } from './executor.js';
import { UnknownTaskKindError } from './errors.js';

export interface JobContext {
  signal: AbortSignal;
  progress(percent: number, message: string): void;
}

export type JobHandler = (args: unknown, context: JobContext) => Promise<unknown>;

interface Waiting {
  job: TaskJob;
  control: ExecutionControl;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  onAbort: () => void;
}

export class LocalExecutor implements Executor {
  readonly #handlers: ReadonlyMap<string, JobHandler>;
  readonly #concurrency: number;
  readonly #waiting: Waiting[] = [];
  #running = 0;

  constructor(handlers: Readonly<Record<string, JobHandler>>, options: { concurrency?: number } = {}) {
    this.#handlers = new Map(Object.entries(handlers));
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.#waiting.length, running: this.#running };
  }

  execute(job: TaskJob, control: ExecutionControl): Promise<unknown> {
    if (!this.#handlers.has(job.kind)) {
      return Promise.reject(new UnknownTaskKindError(job.kind, [...this.#handlers.keys()]));
    }
    if (control.signal.aborted) return Promise.reject(new TaskAbortedError('aborted before it started'));
    return new Promise((resolve, reject) => {
      const waiting: Waiting = {
        job,
        control,
        resolve,
        reject,
        // A job aborted while it waits leaves the line at once.
        onAbort: () => {
          const at = this.#waiting.indexOf(waiting);
          if (at < 0) return;
          this.#waiting.splice(at, 1);
          reject(new TaskAbortedError('aborted while queued'));
        },
      };
      control.signal.addEventListener('abort', waiting.onAbort, { once: true });
      this.#waiting.push(waiting);
      // Never start inside the caller's turn: a submitter sees its task QUEUED first.
      queueMicrotask(() => this.#next());
    });
  }

  #next(): void {
    while (this.#running < this.#concurrency && this.#waiting.length > 0) {
      const waiting = this.#waiting.shift()!;
      waiting.control.signal.removeEventListener('abort', waiting.onAbort);
      this.#running += 1;
      void this.#start(waiting).finally(() => {
        this.#running -= 1;
        this.#next();
      });
    }
  }

  async #start({ job, control, resolve, reject }: Waiting): Promise<void> {
    const handler = this.#handlers.get(job.kind)!;
    try {
      control.callback.started();
      resolve(await handler(job.args, { signal: control.signal, progress: control.callback.progress }));
    } catch (error) {
      reject(error);
    }
  }
}
