/**
 * What a task is, as the tracker reports it: its status, its progress and,
 * at the end, its result.
 *
 *   STAGING -> QUEUED -> IN_PROGRESS -> COMPLETED | FAILED | ABORTED
 *      |          |
 *      |          +-> ABORTED (aborted while queued: at once)
 *      +-> REJECTED (preconditions failed, queue full, unknown kind)
 *
 * `NOT_FOUND` is not a status a task has: it is the answer for an id that
 * is unknown or already forgotten. The table below is the only way a status
 * changes; the tracker refuses anything else (a late callback from an
 * executor cannot move a finished task).
 */
export const TASK_STATUSES = [
  'STAGING',
  'QUEUED',
  'IN_PROGRESS',
  'COMPLETED',
  'FAILED',
  'ABORTED',
  'REJECTED',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The answer for an id the tracker does not know (never submitted, or forgotten). */
export const NOT_FOUND = 'NOT_FOUND';

const NEXT: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  STAGING: ['QUEUED', 'REJECTED'],
  QUEUED: ['IN_PROGRESS', 'ABORTED', 'FAILED'],
  IN_PROGRESS: ['COMPLETED', 'FAILED', 'ABORTED'],
  COMPLETED: [],
  FAILED: [],
  ABORTED: [],
  REJECTED: [],
};

export function canMove(from: TaskStatus, to: TaskStatus): boolean {
  return NEXT[from].includes(to);
}

export function isFinished(status: TaskStatus): boolean {
  return NEXT[status].length === 0;
}

export interface TaskProgress {
  /** 0..100. */
  percent: number;
  /** A short line for people ("block 40 of 200"). */
  message: string;
}

/** Why a task failed, was rejected or aborted: a code people and programs can act on. */
export interface TaskProblem {
  code: string;
  message: string;
}

/** A task as the tracker shows it (HTTP, MQTT, CLI, telemetry). */
export interface TaskView {
  id: string;
  kind: string;
  status: TaskStatus;
  /** Whether the task holds the controller to itself (reboot, firmware update, restore). */
  exclusive: boolean;
  progress: TaskProgress;
  /** Opaque to the tracker: what the task produced (also what an aborted or failed task had done). */
  result: unknown;
  /** Set for FAILED, ABORTED and REJECTED. */
  problem: TaskProblem | null;
  /** ms since the epoch. */
  submittedAt: number;
  startedAt: number | null;
  endedAt: number | null;
}
