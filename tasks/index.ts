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
  FirmwareMismatchError,
  InvalidTaskArgsError,
  PoolClosedError,
  PoolTaskFailedError,
  TaskAbortedError,
  TaskNotFoundError,
  TaskStateTimeoutError,
  TrackerClosedError,
  UnexpectedResetError,
  UnknownTaskKindError,
  partialResultOf,
  withPartial,
} from './errors.js';
export { FileTaskJournal, JOURNAL_FILE } from './journal.js';
export { LifeGuard } from './lifeguard.js';
export type { StateLimits } from './lifeguard.js';
export { PoolExecutor, POOL_ENTRY } from './pool/executor.js';
export type { TaskPool } from './pool/executor.js';
export { serviceTaskKinds, TASK_KINDS } from './kinds/index.js';
export type { ServiceTaskKinds, TaskKind } from './kinds/index.js';
export type { ControllerPort, KernelPort, TaskDeps } from './kinds/deps.js';
export { backupPath } from './kinds/backup.js';
export {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BackupNameInvalidError,
  BackupNotFoundError,
  backupNameProblem,
} from './backup/format.js';
export type { WriteResult } from './pool/backup-jobs.js';
