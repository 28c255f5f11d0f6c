/** Tracked tasks: the tracker, the executor interface, and the task model. */
export { CommandTracker, TRACKER_DEFAULTS } from './tracker.js';
export type {
  JournalEntry,
  TaskEvent,
  TaskJournal,
  TaskKindSpec,
  TaskLists,
  TrackerOptions,
} from './tracker.js';
export type { ExecutionControl, Executor, TaskCallback, TaskJob } from './executor.js';
export { LocalExecutor } from './local-executor.js';
export type { JobContext, JobHandler } from './local-executor.js';
export { NOT_FOUND, TASK_STATUSES, canMove, isFinished } from './model.js';
export type { TaskProblem, TaskProgress, TaskStatus, TaskView } from './model.js';
export {
  InvalidTaskArgsError,
  TaskAbortedError,
  TrackerClosedError,
  UnknownTaskKindError,
  partialResultOf,
} from './errors.js';
