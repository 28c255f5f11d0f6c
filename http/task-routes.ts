/**
 * Tasks and backups over HTTP (docs/http-api.md, "Tasks"):
 *
 *   POST   /api/tasks                 {"kind", "args"?}: 202 with the task and a Location; a task refused
 *                                     at once (wrong phase, queue full, ...) answers with its refusal's
 *                                     status and code, the task in detail.task
 *   GET    /api/tasks                 {queued, executing, finished}
 *   GET    /api/tasks/{id}            the task; 404 TETHER_TASK_NOT_FOUND (status NOT_FOUND) when unknown
 *   DELETE /api/tasks/{id}            abort it: ABORTED now if queued, at its next safe point if running
 *   POST   /api/tasks/abort           abort every queued and running task
 *   GET    /api/backups               the files in the backups directory
 *   GET    /api/backups/{name}        one, as it is (application/json)
 *   PUT    /api/backups/{name}        store one (its bytes as the body, JSON, at most tasks.backup.maxBytes)
 *
 * The operator actions (submit, abort) are the kernel's plain functions
 * (kernel/task-actions.ts), the same any other surface calls.
 */
import { z } from 'zod';
import { abortAllTasks, abortTask, getTask, listTasks, submitTask } from '../kernel/task-actions.js';
import { BackupNameInvalidError, backupNameProblem } from '../tasks/index.js';
import { readBody, readJson } from './body.js';
import { statusOfCode } from './errors.js';
import type { Route } from './routes.js';

const SubmitBody = z.strictObject({
  kind: z.string().min(1).max(64),
  args: z.unknown().optional(),
});

function checkedBackupName(name: string): string {
  const problem = backupNameProblem(name);
  if (problem !== undefined) throw new BackupNameInvalidError(name, problem);
  return name;
}

export const TASK_ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/api/tasks/abort',
    mutating: true,
    async handle({ service, request }) {
      await readJson(request, z.strictObject({}));
      return { status: 200, body: { tasks: abortAllTasks(service.tasks) } };
    },
  },
  {
    method: 'POST',
    path: '/api/tasks',
    mutating: true,
    async handle({ service, request }) {
      const { kind, args } = await readJson(request, SubmitBody);
      const task = submitTask(service.tasks, kind, args);
      const location = `/api/tasks/${task.id}`;
      if (task.status === 'REJECTED' && task.problem !== null) {
        return {
          status: statusOfCode(task.problem.code),
          headers: { location },
          body: { error: { code: task.problem.code, message: task.problem.message, detail: { task } } },
        };
      }
      return { status: 202, headers: { location }, body: { task } };
    },
  },
  {
    method: 'GET',
    path: '/api/tasks',
    mutating: false,
    async handle({ service }) {
      return { status: 200, body: listTasks(service.tasks) };
    },
  },
  {
    method: 'GET',
    path: '/api/tasks/{id}',
    mutating: false,
    async handle({ service, params }) {
      return { status: 200, body: { task: getTask(service.tasks, params['id'] ?? '') } };
    },
  },
  {
    method: 'DELETE',
    path: '/api/tasks/{id}',
    mutating: true,
    async handle({ service, params }) {
      return { status: 200, body: { task: abortTask(service.tasks, params['id'] ?? '') } };
    },
  },
  {
    method: 'GET',
    path: '/api/backups',
    mutating: false,
    async handle({ service }) {
      return { status: 200, body: { backups: await service.tasks.backups.list() } };
    },
  },
  {
    method: 'GET',
    path: '/api/backups/{name}',
    mutating: false,
    async handle({ service, params }) {
      const bytes = await service.tasks.backups.fetch(checkedBackupName(params['name'] ?? ''));
      return { status: 200, body: null, raw: { bytes, contentType: 'application/json; charset=utf-8' } };
    },
  },
  {
    method: 'PUT',
    path: '/api/backups/{name}',
    mutating: true,
    async handle({ service, request, params }) {
      const name = checkedBackupName(params['name'] ?? '');
      const bytes = await readBody(request, service.config.tasks.backup.maxBytes);
      const stored = await service.tasks.backups.store(name, bytes);
      return {
        status: 201,
        headers: { location: `/api/backups/${name}` },
        body: { name, bytes: stored.bytes, sha256: stored.sha256 },
      };
    },
  },
];
