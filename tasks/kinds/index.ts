/**
 * The task kinds of the service and the executors they run on:
 *
 * | kind            | executor              | exclusive | needs                       |
 * |-----------------|-----------------------|-----------|-----------------------------|
 * | backup.save     | controller (main)     | no        | Synchronized, pool up       |
 * | backup.load     | controller (main)     | yes       | Synchronized, pool up       |
 * | reboot          | controller (main)     | yes       | Synchronized, autoconnecting|
 * | firmware.update | controller (main)     | yes       | Synchronized, autoconnecting|
 * | backup.validate | pool (piscina)        | no        | pool up                     |
 *
 * The controller executor runs one task at a time in the main thread: its
 * jobs only await the commander (a worker) and the pool, one request at a
 * time, so the main thread's event loop stays free (docs/performance.md,
 * "Tasks"). Exclusive kinds are refused while another exclusive task is
 * queued or running; a save queues behind whatever runs.
 */
import { z } from 'zod';
import { LocalExecutor } from '../local-executor.js';
import type { TaskKindSpec } from '../tracker.js';
import { LoadArgs, SaveArgs, ValidateArgsSchema, backupPath, loadBackup, saveBackup } from './backup.js';
import type { ValidateArgs } from '../pool/backup-jobs.js';
import type { TaskDeps } from './deps.js';
import { controllerReady, poolReady } from './deps.js';
import { FirmwareUpdateArgs, RebootArgs, firmwareUpdate, reboot } from './restart.js';

export const TASK_KINDS = [
  'backup.save',
  'backup.load',
  'backup.validate',
  'reboot',
  'firmware.update',
] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** The arguments as `schema` takes them, or an error whose message says what is wrong, one line per issue. */
function parse<S extends z.ZodType>(schema: S, args: unknown): z.output<S> {
  const parsed = schema.safeParse(args);
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error).replace(/\n/g, '; '));
  return parsed.data;
}

export interface ServiceTaskKinds {
  kinds: TaskKindSpec[];
  /** The main-thread executor of controller work (one task at a time). */
  controller: LocalExecutor;
}

export function serviceTaskKinds(deps: TaskDeps): ServiceTaskKinds {
  const { kernel, settings } = deps;
  const controller = new LocalExecutor(
    {
      'backup.save': (args, context) => saveBackup(deps, args as z.output<typeof SaveArgs>, context),
      'backup.load': (args, context) => loadBackup(deps, args as z.output<typeof LoadArgs>, context),
      reboot: (_args, context) => reboot(deps, context),
      'firmware.update': (args, context) =>
        firmwareUpdate(deps, args as z.output<typeof FirmwareUpdateArgs>, context),
    },
    { concurrency: 1 },
  );
  const kinds: TaskKindSpec[] = [
    {
      kind: 'backup.save',
      executor: controller,
      exclusive: false,
      parseArgs: (args) => parse(SaveArgs, args ?? {}),
      precondition: () => controllerReady(kernel, 'backup.save', false) ?? poolReady(deps, 'backup.save'),
      timeoutMs: settings.kinds.backupSave.timeoutMs,
    },
    {
      kind: 'backup.load',
      executor: controller,
      exclusive: true,
      parseArgs: (args) => parse(LoadArgs, args),
      precondition: () => controllerReady(kernel, 'backup.load', false) ?? poolReady(deps, 'backup.load'),
      timeoutMs: settings.kinds.backupLoad.timeoutMs,
    },
    {
      kind: 'reboot',
      executor: controller,
      exclusive: true,
      parseArgs: (args) => parse(RebootArgs, args ?? {}),
      precondition: () => controllerReady(kernel, 'reboot', true),
      timeoutMs: settings.kinds.reboot.timeoutMs,
    },
    {
      kind: 'firmware.update',
      executor: controller,
      exclusive: true,
      parseArgs: (args) => parse(FirmwareUpdateArgs, args ?? {}),
      precondition: () => controllerReady(kernel, 'firmware.update', true),
      timeoutMs: settings.kinds.firmwareUpdate.timeoutMs,
    },
    {
      // CPU only: straight onto the pool, its arguments those of the pool job.
      kind: 'backup.validate',
      executor: deps.pool,
      exclusive: false,
      precondition: () => poolReady(deps, 'backup.validate'),
      parseArgs: (args): ValidateArgs => {
        const { name, force } = parse(ValidateArgsSchema, args);
        const { phase } = kernel.state;
        const deviceId =
          phase.name === 'Acknowledged' || phase.name === 'Synchronized'
            ? phase.ack.handshake.deviceId
            : undefined;
        return {
          path: backupPath(deps, name),
          maxBytes: settings.backup.maxBytes,
          expect: {
            ...(deviceId === undefined ? {} : { deviceId }),
            protoVersions: deps.protoVersions,
            force,
          },
          withBlocks: false,
        };
      },
      timeoutMs: settings.kinds.backupValidate.timeoutMs,
    },
  ];
  return { kinds, controller };
}
