/**
 * Operator actions on tasks, as plain functions of the service: the HTTP
 * API calls these, and so can any other surface (the MQTT command table),
 * so every surface takes the same path and gets the same errors.
 *
 * Submitting never throws for a task that is refused by its preconditions:
 * it returns the task REJECTED with the reason (and it can be looked up).
 * It throws, recording nothing, for a request that is not a task: an
 * unknown kind, arguments the kind does not take, or a stopping service.
 */
import type { TaskLists, TaskView } from '../tasks/index.js';
import { NOT_FOUND, TaskNotFoundError } from '../tasks/index.js';
import type { ServiceTasks } from './tasks.js';

export function submitTask(tasks: ServiceTasks, kind: string, args: unknown): TaskView {
  return tasks.tracker.submit(kind, args);
}

export function listTasks(tasks: ServiceTasks): TaskLists {
  return tasks.tracker.list();
}

/** The task, or TaskNotFoundError (status NOT_FOUND) for an id that is unknown or forgotten. */
export function getTask(tasks: ServiceTasks, id: string): TaskView {
  const task = tasks.tracker.get(id);
  if (task === NOT_FOUND) throw new TaskNotFoundError(id);
  return task;
}

/**
 * Aborts one task: a queued one is ABORTED at once, a running one stops at
 * its next safe point (the returned view is still IN_PROGRESS then). A
 * finished task is returned as it is.
 */
export function abortTask(tasks: ServiceTasks, id: string, why = 'an operator aborted it'): TaskView {
  const task = tasks.tracker.abort(id, why);
  if (task === NOT_FOUND) throw new TaskNotFoundError(id);
  return task;
}

/** Aborts every queued and running task. */
export function abortAllTasks(tasks: ServiceTasks, why = 'an operator aborted every task'): TaskView[] {
  return tasks.tracker.abortAll(why);
}
