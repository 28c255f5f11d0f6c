/**
 * What runs a task. An executor knows nothing of task ids, the tracker or
 * HTTP: it is handed a job (a kind and its arguments, both plain data so the
 * job can cross to a worker thread), an abort signal and a callback, runs the
 * job when it has room, calls the callback as it goes, and settles:
 * resolves with the job's result, or rejects with its error — a
 * `TaskAbortedError` when it stopped because the signal asked it to.
 *
 * Internal work that should not appear in the tracker's lists (a periodic
 * compaction, say) calls an executor directly: that is an untracked task.
 */
export interface TaskJob {
  kind: string;
  args: unknown;
  /** Buffers in `args` to move to the executor's thread rather than copy (a pool executor; others ignore it). */
  transfer?: ArrayBuffer[];
}

export interface TaskCallback {
  /** The executor began the job (it was waiting for room until now). */
  started(): void;
  /** 0..100 and a short message; called as often as the job likes (the tracker bounds what it keeps). */
  progress(percent: number, message: string): void;
}

export interface ExecutionControl {
  signal: AbortSignal;
  callback: TaskCallback;
}

export interface Executor {
  execute(job: TaskJob, control: ExecutionControl): Promise<unknown>;
}
