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
 * Submit and abort are operator actions (kernel/operator.ts: `task-submit`,
 * `task-abort`), the same MQTT requests reach.
 */
import { z } from 'zod';
import { OPERATOR_ACTIONS, runAction } from '../kernel/operator.js';
import { getTask, listTasks } from '../kernel/task-actions.js';
import { BackupNameInvalidError, backupNameProblem } from '../tasks/index.js';
import type { TaskView } from '../tasks/index.js';
import { readBody, readJson } from './body.js';
import { statusOfCode } from './errors.js';
import { httpContext } from './context.js';
import type { Route } from './routes.js';

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
      return {
        status: 200,
        body: await runAction(httpContext(service, request), 'task-abort', { all: true }),
      };
    },
  },
  {
    method: 'POST',
    path: '/api/tasks',
    mutating: true,
    async handle({ service, request }) {
      const body = await readJson(request, OPERATOR_ACTIONS['task-submit'].body);
      const { task } = (await runAction(httpContext(service, request), 'task-submit', body)) as {
        task: TaskView;
      };
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
    async handle({ service, request, params }) {
      const id = params['id'] ?? '';
      return { status: 200, body: await runAction(httpContext(service, request), 'task-abort', { id }) };
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
