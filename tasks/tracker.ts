/**
 * The command tracker: owns task ids, statuses, progress and results, apart
 * from the executors that run the work (executor.ts). Submitting returns at
 * once with the task's view; the work runs on the executor of its kind and
 * reports through the callback the tracker hands it.
 *
 * - Lists of queued, executing and finished tasks are kept as they change
 *   (three maps in order of arrival), so every query is a copy, not a scan.
 * - A task whose preconditions fail, that would wait behind another exclusive
 *   task, or that finds the queue full is REJECTED at once, never queued to
 *   fail later.
 * - Abort: a queued task is ABORTED at once; a running one when its job
 *   reaches a safe point and settles (the job sees the signal).
 * - Every task settles: a job that outruns its kind's time limit is aborted
 *   and FAILED, so nothing stays IN_PROGRESS forever.
 * - Finished tasks are kept for a bounded time and count.
 * - Unfinished tasks are written to a journal; after a restart they are
 *   reported FAILED (`service restarted`), since no task survives one.
 */
import { randomUUID } from 'node:crypto';
import { TetherError } from '../errors/index.js';
import { InvalidTaskArgsError, TrackerClosedError, UnknownTaskKindError, partialResultOf } from './errors.js';
import type { Executor } from './executor.js';
import { NOT_FOUND, canMove, isFinished } from './model.js';
import type { TaskProblem, TaskStatus, TaskView } from './model.js';

export interface TaskKindSpec {
  kind: string;
  executor: Executor;
  /** Holds the controller to itself: rejected while another exclusive task is queued or running. */
  exclusive: boolean;
  /** Checks and converts the arguments; throws (any error: its message is kept) when they are not valid. */
  parseArgs(args: unknown): unknown;
  /** A reason to reject the task now (wrong phase, autoconnecting off), or undefined. */
  precondition?(): TaskProblem | undefined;
  /** The longest a started task of this kind may run before it is aborted and FAILED. */
  timeoutMs: number;
}

/** A task as the journal keeps it: enough to report it after a restart. */
export interface JournalEntry {
  id: string;
  kind: string;
  submittedAt: number;
}

/** Where unfinished tasks are written, so a restart can report them. */
export interface TaskJournal {
  load(): Promise<JournalEntry[]>;
  /** Replaces what is kept; may be asynchronous, the tracker does not wait. */
  save(entries: JournalEntry[]): void;
}

export interface TrackerOptions {
  kinds: readonly TaskKindSpec[];
  /** Tasks waiting for their executor, all kinds together. */
  maxQueued?: number;
  /** Finished tasks kept at most this long (ms) ... */
  retainMs?: number;
  /** ... and at most this many. */
  retainCount?: number;
  journal?: TaskJournal;
  now?: () => number;
}

export const TRACKER_DEFAULTS = { maxQueued: 16, retainMs: 3_600_000, retainCount: 200 } as const;

export type TaskChange = 'status' | 'progress';

export interface TaskEvent {
  change: TaskChange;
  task: TaskView;
}

export interface TaskLists {
  queued: TaskView[];
  executing: TaskView[];
  finished: TaskView[];
}

const MAX_MESSAGE = 200;

/**
 * Progress events go out when the whole percent changes, or this long after
 * the last one: a restore of 2,000 blocks reports each block to the task,
 * and its subscribers (event streams, telemetry) hear about a hundred.
 */
const PROGRESS_EVENT_MS = 250;

interface Entry {
  view: TaskView;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  settled: Promise<void>;
  /** The last progress published: its whole percent and when. */
  published: { percent: number; at: number } | undefined;
}

export class CommandTracker {
  readonly #kinds: ReadonlyMap<string, TaskKindSpec>;
  readonly #maxQueued: number;
  readonly #retainMs: number;
  readonly #retainCount: number;
  readonly #journal: TaskJournal | undefined;
  readonly #now: () => number;
  readonly #queued = new Map<string, Entry>();
  readonly #executing = new Map<string, Entry>();
  readonly #finished = new Map<string, TaskView>();
  readonly #listeners = new Set<(event: TaskEvent) => void>();
  #closed = false;
  #journalDue = false;

  constructor(options: TrackerOptions) {
    this.#kinds = new Map(options.kinds.map((spec) => [spec.kind, spec]));
    this.#maxQueued = options.maxQueued ?? TRACKER_DEFAULTS.maxQueued;
    this.#retainMs = options.retainMs ?? TRACKER_DEFAULTS.retainMs;
    this.#retainCount = options.retainCount ?? TRACKER_DEFAULTS.retainCount;
    this.#journal = options.journal;
    this.#now = options.now ?? Date.now;
  }

  /** The kinds this tracker takes. */
  get kinds(): string[] {
    return [...this.#kinds.keys()];
  }

  /**
   * Reports the tasks the journal shows as unfinished (a previous run ended
   * with them) as FAILED: no task survives a service restart. Call once,
   * before the first submit.
   */
  async recover(): Promise<TaskView[]> {
    if (this.#journal === undefined) return [];
    const entries = await this.#journal.load();
    const now = this.#now();
    const recovered = entries.map((entry) => {
      const view: TaskView = {
        id: entry.id,
        kind: entry.kind,
        status: 'FAILED',
        exclusive: this.#kinds.get(entry.kind)?.exclusive ?? false,
        progress: { percent: 0, message: '' },
        result: null,
        problem: { code: 'TETHER_SERVICE_RESTARTED', message: 'service restarted' },
        submittedAt: entry.submittedAt,
        startedAt: null,
        endedAt: now,
      };
      this.#keepFinished(view);
      return view;
    });
    if (recovered.length > 0) this.#saveJournal();
    return recovered.map(copy);
  }

  /**
   * Takes a task: QUEUED, or REJECTED with the reason. Throws (nothing is
   * recorded) only for a request that is not a task at all: an unknown kind
   * or arguments its kind does not take, or a closed tracker.
   */
  submit(kind: string, args: unknown): TaskView {
    if (this.#closed) throw new TrackerClosedError();
    const spec = this.#kinds.get(kind);
    if (spec === undefined) throw new UnknownTaskKindError(kind, this.kinds);
    let parsed: unknown;
    try {
      parsed = spec.parseArgs(args);
    } catch (error) {
      throw new InvalidTaskArgsError(kind, error instanceof Error ? error.message : String(error));
    }
    const now = this.#now();
    const view: TaskView = {
      id: randomUUID(),
      kind,
      status: 'STAGING',
      exclusive: spec.exclusive,
      progress: { percent: 0, message: '' },
      result: null,
      problem: null,
      submittedAt: now,
      startedAt: null,
      endedAt: null,
    };
    const refusal = this.#refusal(spec);
    if (refusal !== undefined) {
      view.status = 'REJECTED';
      view.problem = refusal;
      view.endedAt = now;
      this.#keepFinished(view);
      this.#emit('status', view);
      return copy(view);
    }
    const controller = new AbortController();
    const entry: Entry = {
      view,
      controller,
      timer: undefined,
      settled: Promise.resolve(),
      published: undefined,
    };
    this.#move(entry, 'QUEUED');
    entry.settled = this.#run(entry, spec, parsed);
    return copy(view);
  }

  get(id: string): TaskView | typeof NOT_FOUND {
    this.#prune();
    const view = this.#queued.get(id)?.view ?? this.#executing.get(id)?.view ?? this.#finished.get(id);
    return view === undefined ? NOT_FOUND : copy(view);
  }

  list(): TaskLists {
    this.#prune();
    return {
      queued: [...this.#queued.values()].map((entry) => copy(entry.view)),
      executing: [...this.#executing.values()].map((entry) => copy(entry.view)),
      finished: [...this.#finished.values()].map(copy),
    };
  }

  /**
   * Aborts one task: a queued one is ABORTED now; a running one is asked to
   * stop (its signal) and becomes ABORTED when its job settles. A finished
   * task is left as it is. Returns the task as it is after the request.
   */
  abort(id: string, why = 'an operator aborted it'): TaskView | typeof NOT_FOUND {
    const queued = this.#queued.get(id);
    if (queued !== undefined) {
      queued.controller.abort(new Error(why));
      this.#finish(queued, 'ABORTED', null, { code: 'TETHER_TASK_ABORTED', message: why });
      return copy(queued.view);
    }
    const running = this.#executing.get(id);
    if (running !== undefined) {
      running.controller.abort(new Error(why));
      return copy(running.view);
    }
    return this.get(id);
  }

  /** Aborts every queued and running task; returns them as they are after the request. */
  abortAll(why = 'an operator aborted every task'): TaskView[] {
    const ids = [...this.#queued.keys(), ...this.#executing.keys()];
    return ids.map((id) => this.abort(id, why)).filter((view): view is TaskView => view !== NOT_FOUND);
  }

  subscribe(listener: (event: TaskEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Takes nothing more, aborts what is queued or running, and waits (at most
   * `boundMs`) for running jobs to settle. A job still running then is
   * reported FAILED: the service is stopping without it.
   */
  async close(boundMs = 2000): Promise<void> {
    this.#closed = true;
    const running = [...this.#executing.values()];
    this.abortAll('the service is stopping');
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, boundMs);
    });
    await Promise.race([Promise.all(running.map((entry) => entry.settled)), bound]);
    clearTimeout(timer);
    for (const entry of [...this.#executing.values()]) {
      this.#finish(entry, 'FAILED', null, {
        code: 'TETHER_TRACKER_CLOSED',
        message: 'the service stopped before the task ended',
      });
    }
  }

  // ------------------------------------------------------------ running

  async #run(entry: Entry, spec: TaskKindSpec, args: unknown): Promise<void> {
    const { view, controller } = entry;
    try {
      const result = await spec.executor.execute(
        { kind: spec.kind, args },
        {
          signal: controller.signal,
          callback: {
            started: () => {
              if (view.status !== 'QUEUED') return;
              this.#move(entry, 'IN_PROGRESS');
              // The limit counts from the start: waiting in the queue is not the job's fault.
              entry.timer = setTimeout(() => {
                controller.abort(new Error(`ran longer than ${spec.timeoutMs} ms`));
                this.#finish(entry, 'FAILED', null, {
                  code: 'TETHER_TASK_TIMEOUT',
                  message: `the task ran longer than its limit of ${spec.timeoutMs} ms`,
                });
              }, spec.timeoutMs);
            },
            progress: (percent, message) => this.#progress(entry, percent, message),
          },
        },
      );
      this.#finish(entry, 'COMPLETED', result, null);
    } catch (error) {
      const partial = partialResultOf(error);
      const problem = problemOf(error);
      if (controller.signal.aborted || problem.code === 'TETHER_TASK_ABORTED') {
        this.#finish(entry, 'ABORTED', partial, problem);
      } else {
        this.#finish(entry, 'FAILED', partial, problem);
      }
    }
  }

  #progress(entry: Entry, percent: number, message: string): void {
    if (entry.view.status !== 'IN_PROGRESS') return;
    const clamped = Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : 0;
    entry.view.progress = { percent: clamped, message: String(message).slice(0, MAX_MESSAGE) };
    const whole = Math.floor(clamped);
    const now = performance.now();
    const last = entry.published;
    if (last !== undefined && last.percent === whole && now - last.at < PROGRESS_EVENT_MS) return;
    entry.published = { percent: whole, at: now };
    this.#emit('progress', entry.view);
  }

  #refusal(spec: TaskKindSpec): TaskProblem | undefined {
    const reason = spec.precondition?.();
    if (reason !== undefined) return reason;
    if (spec.exclusive) {
      const holder = [...this.#executing.values(), ...this.#queued.values()].find(
        (entry) => entry.view.exclusive,
      );
      if (holder !== undefined) {
        return {
          code: 'TETHER_TASK_EXCLUSIVE_BUSY',
          message: `task ${holder.view.id} (${holder.view.kind}) holds the controller`,
        };
      }
    }
    if (this.#queued.size >= this.#maxQueued) {
      return { code: 'TETHER_TASK_QUEUE_FULL', message: `${this.#maxQueued} tasks are already queued` };
    }
    return undefined;
  }

  // ------------------------------------------------------------ status changes

  #move(entry: Entry, to: 'QUEUED' | 'IN_PROGRESS'): void {
    const { view } = entry;
    if (!canMove(view.status, to)) return;
    view.status = to;
    if (to === 'QUEUED') {
      this.#queued.set(view.id, entry);
    } else {
      this.#queued.delete(view.id);
      this.#executing.set(view.id, entry);
      view.startedAt = this.#now();
    }
    this.#saveJournal();
    this.#emit('status', view);
  }

  /** The one way a task ends; a second end (a late callback, a timeout racing the job) is ignored. */
  #finish(entry: Entry, to: TaskStatus, result: unknown, problem: TaskProblem | null): void {
    const { view } = entry;
    if (isFinished(view.status) || !canMove(view.status, to)) return;
    clearTimeout(entry.timer);
    view.status = to;
    view.result = result ?? null;
    view.problem = problem;
    view.endedAt = this.#now();
    if (to === 'COMPLETED') view.progress = { percent: 100, message: view.progress.message };
    this.#queued.delete(view.id);
    this.#executing.delete(view.id);
    this.#keepFinished(view);
    this.#saveJournal();
    this.#emit('status', view);
  }

  #keepFinished(view: TaskView): void {
    this.#finished.set(view.id, view);
    this.#prune();
  }

  /** Forgets the oldest finished tasks past the count, and those older than the retention time. */
  #prune(): void {
    const oldest = this.#now() - this.#retainMs;
    for (const [id, view] of this.#finished) {
      if (this.#finished.size <= this.#retainCount && (view.endedAt ?? 0) >= oldest) break;
      this.#finished.delete(id);
    }
  }

  /**
   * Saves the unfinished tasks once per turn of the event loop, however many
   * changed in it: a burst of submissions costs one list, not one per task.
   */
  #saveJournal(): void {
    if (this.#journal === undefined || this.#journalDue) return;
    this.#journalDue = true;
    queueMicrotask(() => {
      this.#journalDue = false;
      const entries = [...this.#queued.values(), ...this.#executing.values()].map(({ view }) => ({
        id: view.id,
        kind: view.kind,
        submittedAt: view.submittedAt,
      }));
      this.#journal?.save(entries);
    });
  }

  #emit(change: TaskChange, view: TaskView): void {
    if (this.#listeners.size === 0) return;
    const event: TaskEvent = { change, task: copy(view) };
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's fault is its own: the task goes on.
      }
    }
  }
}

function problemOf(error: unknown): TaskProblem {
  if (TetherError.is(error)) return { code: error.code, message: error.message };
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return { code: typeof code === 'string' ? code : 'TETHER_INTERNAL', message };
}

function copy(view: TaskView): TaskView {
  return { ...view, progress: { ...view.progress }, problem: view.problem && { ...view.problem } };
}
