/** Shared plumbing of the task tests: backup files made to order, and waiting for a task's status. */
import { NOT_FOUND } from '../../tasks/index.js';
import type { CommandTracker, TaskView } from '../../tasks/index.js';
import { SIM_IDENTITY } from '../../sim/index.js';
import type { ApiAnswer, CallOptions } from '../http/fixture.js';

export const DEVICE_ID = SIM_IDENTITY.deviceId;

export interface BackupOptions {
  deviceId?: string;
  protoVersion?: string;
  /** Extra bytes of data per block (a bigger file). */
  pad?: number;
  firstId?: number;
}

/** A backup file of `count` blocks named `sensor-<n>`, as the service writes them. */
export function backupText(count: number, options: BackupOptions = {}): string {
  const header = {
    format: 'tether-backup',
    formatVersion: 1,
    createdAt: '2026-03-24T12:00:00.000Z',
    device: {
      ...SIM_IDENTITY,
      deviceId: options.deviceId ?? DEVICE_ID,
      protoVersion: options.protoVersion ?? SIM_IDENTITY.protoVersion,
    },
    blockCount: count,
  };
  const first = options.firstId ?? 100;
  const lines = Array.from({ length: count }, (_, n) =>
    JSON.stringify({
      id: first + n,
      name: `sensor-${n}`,
      type: 'TempSensor',
      data: { value: n, offset: 0.5, ...(options.pad ? { note: 'x'.repeat(options.pad) } : {}) },
    }),
  );
  return `${JSON.stringify(header).slice(0, -1)},"blocks":[\n${lines.join(',\n')}\n]}\n`;
}

/** Resolves with the task once it has `status` (rejects at the deadline with what it is instead). */
export function statusOf(
  tracker: CommandTracker,
  id: string,
  status: string,
  timeoutMs = 20_000,
): Promise<TaskView> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const now = tracker.get(id);
      if (now === NOT_FOUND || now.status !== status) return false;
      clearTimeout(timer);
      stop();
      resolve(now);
      return true;
    };
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(
          `task ${id} did not reach ${status} within ${timeoutMs} ms: ${JSON.stringify(tracker.get(id))}`,
        ),
      );
    }, timeoutMs);
    const stop = tracker.subscribe(() => void check());
    check();
  });
}

/** Resolves once the task reports progress of at least `percent`. */
export function progressOf(
  tracker: CommandTracker,
  id: string,
  percent: number,
  timeoutMs = 20_000,
): Promise<TaskView> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const now = tracker.get(id);
      if (now === NOT_FOUND || now.progress.percent < percent) return;
      clearTimeout(timer);
      stop();
      resolve(now);
    };
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(
          `task ${id} did not reach ${percent}% within ${timeoutMs} ms: ${JSON.stringify(tracker.get(id))}`,
        ),
      );
    }, timeoutMs);
    const stop = tracker.subscribe(check);
    check();
  });
}

type Call = (method: string, path: string, options?: CallOptions) => Promise<ApiAnswer>;

/** Stores a backup on the service (PUT /api/backups/{name}). */
export async function upload(call: Call, name: string, text: string): Promise<ApiAnswer> {
  return call('PUT', `/api/backups/${name}`, { raw: text });
}

/** Submits a task over HTTP and returns its view (whatever status it got). */
export async function submit(
  call: Call,
  kind: string,
  args?: unknown,
): Promise<{ answer: ApiAnswer; task: TaskView }> {
  const answer = await call('POST', '/api/tasks', {
    body: { kind, ...(args === undefined ? {} : { args }) },
  });
  const task =
    (answer.json['task'] as TaskView | undefined) ??
    ((answer.json['error'] as { detail: { task: TaskView } }).detail.task as TaskView);
  return { answer, task };
}
