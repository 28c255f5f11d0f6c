/**
 * Tasks from the command line, over the running service's HTTP API:
 *
 *     tether backup save FILE            save the controller's blocks, then download the file to FILE
 *     tether backup load FILE [--force]  upload FILE, then load it into the controller
 *     tether backup check FILE           upload FILE and validate it (no controller needed)
 *     tether reboot
 *     tether firmware update [--expect VERSION]
 *     tether task list | show ID | abort ID | abort --all
 *
 * Each submits a task and follows it to its end: a progress bar on a
 * terminal, one plain line per change of the whole tens of percent
 * otherwise (logs, pipes). Ctrl+C asks the service to abort the task and
 * keeps following it to its end; a second Ctrl+C leaves at once.
 *
 * Exit codes say how the task ended: 0 COMPLETED, 1 FAILED (or an error
 * answer), 2 REJECTED, 3 ABORTED, 69 the service cannot be reached, 78 an
 * invalid configuration or command line. What the service sends (messages,
 * results) is printed escaped (terminal.ts).
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { printable, quote, TetherError } from '../errors/index.js';
import { readRegularFile, writeFileAtomic } from '../system/index.js';
import type { TaskView } from '../tasks/index.js';
import { backupNameProblem } from '../tasks/index.js';
import { ApiClient, CliFailure, errorLine } from './api-client.js';
import type { ApiFlags } from './api-client.js';
import { terminalJson, terminalSafe } from './terminal.js';

export const TASK_EXIT = { COMPLETED: 0, FAILED: 1, REJECTED: 2, ABORTED: 3 } as const;

/** The largest file `backup load` uploads (the service refuses more than its tasks.backup.maxBytes anyway). */
const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
/**
 * How long reading that file may take: the state files' 2 s bound is for a
 * hung mount, not for a large backup on an SD card or a USB stick (tens of
 * MB/s, so 256 MiB in well under a minute).
 */
const UPLOAD_READ_TIMEOUT_MS = 120_000;
const POLL_MS = 250;

export interface TaskIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** A terminal: draw a progress bar in place. */
  tty: boolean;
  /** Resolves when the user asks to stop (Ctrl+C); a second ask leaves at once (the io decides how). */
  interrupted: (onInterrupt: () => void) => () => void;
}

const processIo = (): TaskIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  tty: process.stdout.isTTY === true,
  interrupted: (onInterrupt) => {
    let count = 0;
    const handler = (): void => {
      count += 1;
      if (count > 1) process.exit(130);
      onInterrupt();
    };
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
});

interface CommonFlags extends ApiFlags {
  json?: boolean;
}

function common(command: Command): Command {
  return command
    .option('--url <url>', 'the HTTP API (default: from http.host and http.port of the configuration)')
    .option('-c, --config <file>', 'configuration file (YAML); also TETHER_CONFIG')
    .option('--json', 'print the finished task as JSON');
}

/** Runs a command body, turning its failures into one line and an exit code. */
async function run(io: TaskIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof CliFailure) {
      io.stderr(`tether: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

export function registerTaskCommands(program: Command, io: () => TaskIo = processIo): void {
  const backup = program
    .command('backup')
    .description("save or load the controller's blocks and their names");
  common(backup.command('save').argument('<file>', 'where to write the backup'))
    .description('save every block and its name, then download the file')
    .action(async (file: string, flags: CommonFlags) => {
      process.exitCode = await backupSave(file, flags, io());
    });
  common(backup.command('load').argument('<file>', 'a backup file'))
    .description('upload a backup, then clear the controller and create its blocks')
    .option('--force', 'load a backup of another controller')
    .action(async (file: string, flags: CommonFlags & { force?: boolean }) => {
      process.exitCode = await backupLoad(file, flags, io());
    });
  common(backup.command('check').argument('<file>', 'a backup file'))
    .description('upload a backup and validate it (format, protocol version, device)')
    .action(async (file: string, flags: CommonFlags) => {
      process.exitCode = await backupCheck(file, flags, io());
    });
  common(program.command('reboot'))
    .description('reboot the controller and wait until it is Synchronized again')
    .action(async (flags: CommonFlags) => {
      process.exitCode = await submitAndFollow('reboot', {}, flags, io());
    });
  const firmware = program.command('firmware').description("the controller's firmware");
  common(firmware.command('update'))
    .description('update the firmware and wait until the controller is Synchronized with it')
    .option(
      '--expect <version>',
      'the firmware version to expect afterwards (default: what the updater announces)',
    )
    .action(async (flags: CommonFlags & { expect?: string }) => {
      const args = flags.expect === undefined ? {} : { firmwareVersion: flags.expect };
      process.exitCode = await submitAndFollow('firmware.update', args, flags, io());
    });

  const task = program.command('task').description('tracked tasks');
  common(task.command('list'))
    .description('queued, running and finished tasks')
    .action(async (flags: CommonFlags) => {
      process.exitCode = await taskList(flags, io());
    });
  common(task.command('show').argument('<id>', 'a task id'))
    .description('one task')
    .action(async (id: string, flags: CommonFlags) => {
      process.exitCode = await taskShow(id, flags, io());
    });
  common(task.command('abort').argument('[id]', 'a task id'))
    .description('abort one task, or every queued and running one (--all)')
    .option('--all', 'abort every queued and running task')
    .action(async (id: string | undefined, flags: CommonFlags & { all?: boolean }) => {
      process.exitCode = await taskAbort(id, flags, io());
    });
}

// ---------------------------------------------------------------- commands

export async function backupSave(file: string, flags: CommonFlags, io: TaskIo): Promise<number> {
  return run(io, async () => {
    const api = await ApiClient.connect(flags, io.env);
    const name = serviceName(file);
    const { code, task } = await submitFollow(
      api,
      'backup.save',
      name === undefined ? {} : { name },
      flags,
      io,
    );
    if (task?.status !== 'COMPLETED') return code;
    const saved = (task.result as { name?: unknown } | null)?.name;
    if (typeof saved !== 'string') throw new CliFailure('the service did not say which file it wrote', 1);
    const bytes = await api.bytes(`/api/backups/${encodeURIComponent(saved)}`);
    await writeFileAtomic(file, Buffer.from(bytes).toString('utf8'), { timeoutMs: 60_000 });
    if (flags.json !== true) io.stdout(`saved to ${printable(file)}\n`);
    return code;
  });
}

export async function backupLoad(
  file: string,
  flags: CommonFlags & { force?: boolean },
  io: TaskIo,
): Promise<number> {
  return run(io, async () => {
    const api = await ApiClient.connect(flags, io.env);
    const name = await uploadBackup(api, file);
    const args = { name, ...(flags.force === true ? { force: true } : {}) };
    return (await submitFollow(api, 'backup.load', args, flags, io)).code;
  });
}

export async function backupCheck(file: string, flags: CommonFlags, io: TaskIo): Promise<number> {
  return run(io, async () => {
    const api = await ApiClient.connect(flags, io.env);
    const name = await uploadBackup(api, file);
    return (await submitFollow(api, 'backup.validate', { name }, flags, io)).code;
  });
}

export async function submitAndFollow(
  kind: string,
  args: unknown,
  flags: CommonFlags,
  io: TaskIo,
): Promise<number> {
  return run(io, async () => {
    const api = await ApiClient.connect(flags, io.env);
    return (await submitFollow(api, kind, args, flags, io)).code;
  });
}

async function taskList(flags: CommonFlags, io: TaskIo): Promise<number> {
  return run(io, async () => {
    const api = await ApiClient.connect(flags, io.env);
    const answer = await api.call('GET', '/api/tasks');
    if (answer.status !== 200) throw new CliFailure(errorLine('/api/tasks', answer.status, answer.json), 1);
    if (flags.json === true) {
      io.stdout(`${terminalJson(answer.json)}\n`);
      return 0;
    }
    const lists = terminalSafe(answer.json) as Record<'queued' | 'executing' | 'finished', TaskView[]>;
    const lines: string[] = [];
    for (const group of ['executing', 'queued', 'finished'] as const) {
      for (const task of lists[group] ?? []) lines.push(taskLine(task));
    }
    io.stdout(lines.length === 0 ? 'no tasks\n' : `${lines.join('\n')}\n`);
    return 0;
  });
}

async function taskShow(id: string, flags: CommonFlags, io: TaskIo): Promise<number> {
  return run(io, async () => {
    const api = await ApiClient.connect(flags, io.env);
    const path = `/api/tasks/${encodeURIComponent(id)}`;
    const answer = await api.call('GET', path);
    if (answer.status !== 200) throw new CliFailure(errorLine(path, answer.status, answer.json), 1);
    const task = (answer.json as { task: TaskView }).task;
    io.stdout(flags.json === true ? `${terminalJson(task)}\n` : describeTask(terminalSafe(task) as TaskView));
    return 0;
  });
}

async function taskAbort(
  id: string | undefined,
  flags: CommonFlags & { all?: boolean },
  io: TaskIo,
): Promise<number> {
  return run(io, async () => {
    if ((id === undefined) === (flags.all !== true)) throw new CliFailure('give a task id, or --all', 78);
    const api = await ApiClient.connect(flags, io.env);
    const path = id === undefined ? '/api/tasks/abort' : `/api/tasks/${encodeURIComponent(id)}`;
    const answer = await api.call(id === undefined ? 'POST' : 'DELETE', path);
    if (answer.status !== 200) throw new CliFailure(errorLine(path, answer.status, answer.json), 1);
    if (flags.json === true) {
      io.stdout(`${terminalJson(answer.json)}\n`);
      return 0;
    }
    const body = answer.json as { task?: TaskView; tasks?: TaskView[] };
    const tasks = body.tasks ?? (body.task === undefined ? [] : [body.task]);
    io.stdout(
      tasks.length === 0
        ? 'nothing to abort\n'
        : `${tasks.map((t) => taskLine(terminalSafe(t) as TaskView)).join('\n')}\n`,
    );
    return 0;
  });
}

// ----------------------------------------------------------------- helpers

/** The name the file gets on the service: its own, when that is a valid backup name. */
function serviceName(file: string): string | undefined {
  const name = basename(file);
  return backupNameProblem(name) === undefined ? name : undefined;
}

async function uploadBackup(api: ApiClient, file: string): Promise<string> {
  let bytes: Buffer | undefined;
  try {
    // The service's bounded reader: a FIFO or device named by mistake cannot block the CLI.
    bytes = await readRegularFile(file, {
      maxBytes: MAX_UPLOAD_BYTES,
      followLinks: true,
      timeoutMs: UPLOAD_READ_TIMEOUT_MS,
    });
  } catch (error) {
    throw new CliFailure(uploadProblem(file, error), 1);
  }
  if (bytes === undefined) throw new CliFailure(`cannot read ${printable(file)}: ENOENT`, 1);
  const name = serviceName(file) ?? `upload-${Date.now()}.json`;
  const path = `/api/backups/${encodeURIComponent(name)}`;
  const answer = await api.send('PUT', path, bytes);
  if (answer.status !== 201) throw new CliFailure(errorLine(path, answer.status, answer.json), 1);
  return name;
}

function uploadProblem(file: string, error: unknown): string {
  if (TetherError.is(error, 'TETHER_STATE_FILE_TOO_LARGE'))
    return `${printable(file)} is larger than ${MAX_UPLOAD_BYTES} bytes`;
  if (
    TetherError.is(error, 'TETHER_STATE_FILE_NOT_REGULAR') ||
    TetherError.is(error, 'TETHER_STATE_FILE_IS_DIRECTORY')
  )
    return `${printable(file)} is not a regular file`;
  if (TetherError.is(error, 'TETHER_STATE_FILE_TIMEOUT'))
    return `reading ${printable(file)} did not finish within ${UPLOAD_READ_TIMEOUT_MS / 1000} s`;
  const cause = (TetherError.is(error) ? error.cause : error) as { code?: unknown } | undefined;
  return `cannot read ${printable(file)}: ${typeof cause?.code === 'string' ? cause.code : 'error'}`;
}

/** Submits a task and follows it to its end; the exit code says how it ended. */
async function submitFollow(
  api: ApiClient,
  kind: string,
  args: unknown,
  flags: CommonFlags,
  io: TaskIo,
): Promise<{ code: number; task: TaskView | undefined }> {
  const submitted = await api.call('POST', '/api/tasks', { kind, args });
  const rejected = (submitted.json as { error?: { detail?: { task?: TaskView } } } | null)?.error?.detail
    ?.task;
  if (rejected !== undefined) {
    report(rejected, flags, io);
    return { code: TASK_EXIT.REJECTED, task: rejected };
  }
  if (submitted.status !== 202)
    throw new CliFailure(errorLine('/api/tasks', submitted.status, submitted.json), 1);
  const first = (submitted.json as { task: TaskView }).task;
  const task = await follow(api, first, flags, io);
  report(task, flags, io);
  return { code: exitCodeOf(task), task };
}

export function exitCodeOf(task: TaskView): number {
  return task.status in TASK_EXIT ? TASK_EXIT[task.status as keyof typeof TASK_EXIT] : 1;
}

async function follow(api: ApiClient, first: TaskView, flags: CommonFlags, io: TaskIo): Promise<TaskView> {
  const path = `/api/tasks/${encodeURIComponent(first.id)}`;
  const bar = new ProgressLine(io, flags.json !== true);
  const stopListening = io.interrupted(() => {
    bar.note('aborting (Ctrl+C again to leave at once)');
    void api.call('DELETE', path).catch(() => undefined);
  });
  try {
    let task = first;
    for (;;) {
      bar.show(task);
      if (!['STAGING', 'QUEUED', 'IN_PROGRESS'].includes(task.status)) return task;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const answer = await api.call('GET', path);
      if (answer.status !== 200) throw new CliFailure(errorLine(path, answer.status, answer.json), 1);
      task = (answer.json as { task: TaskView }).task;
    }
  } finally {
    bar.end();
    stopListening();
  }
}

function report(task: TaskView, flags: CommonFlags, io: TaskIo): void {
  if (flags.json === true) {
    io.stdout(`${terminalJson(task)}\n`);
    return;
  }
  const safe = terminalSafe(task) as TaskView;
  const line = `${safe.kind} ${safe.status}${safe.problem === null ? '' : `: ${safe.problem.code} ${safe.problem.message}`}`;
  (safe.status === 'COMPLETED' ? io.stdout : io.stderr)(`${line}\n${summary(safe.result)}`);
}

/** The result's top-level facts, one per line (indented). */
function summary(result: unknown): string {
  if (typeof result !== 'object' || result === null) return '';
  const lines: string[] = [];
  for (const [key, value] of Object.entries(result)) {
    if (value === null || typeof value === 'object') {
      if (Array.isArray(value) && value.length > 0) lines.push(`  ${key}: ${value.length} (see --json)`);
      continue;
    }
    lines.push(`  ${key}: ${String(value)}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function taskLine(task: TaskView): string {
  const when = new Date(task.submittedAt).toISOString().slice(11, 19);
  const progress = task.status === 'IN_PROGRESS' ? ` ${Math.floor(task.progress.percent)}%` : '';
  return `${task.id}  ${when}  ${task.kind.padEnd(16)} ${task.status}${progress}${task.problem === null ? '' : `  ${task.problem.code}`}`;
}

function describeTask(task: TaskView): string {
  const lines = [
    `${task.kind} ${task.status} (${task.id})`,
    `  progress: ${Math.floor(task.progress.percent)}% ${task.progress.message}`,
    `  submitted: ${new Date(task.submittedAt).toISOString()}`,
  ];
  if (task.endedAt !== null) lines.push(`  ended: ${new Date(task.endedAt).toISOString()}`);
  if (task.problem !== null) lines.push(`  problem: ${task.problem.code} ${task.problem.message}`);
  return `${lines.join('\n')}\n${summary(task.result)}`;
}

/** A progress bar redrawn in place on a terminal; plain lines at each tenth otherwise. */
class ProgressLine {
  readonly #io: TaskIo;
  readonly #enabled: boolean;
  #lastPlain = '';
  #drawn = false;

  constructor(io: TaskIo, enabled: boolean) {
    this.#io = io;
    this.#enabled = enabled;
  }

  show(task: TaskView): void {
    if (!this.#enabled) return;
    const percent = Math.max(0, Math.min(100, Math.floor(task.progress.percent)));
    const message = quote(task.progress.message, 60);
    if (this.#io.tty) {
      const filled = Math.round(percent / 5);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}]`;
      // \r and erase-line: the bar redraws in place; the text in it is escaped, so it cannot move the cursor.
      this.#io.stderr(`\r\u001b[2K${bar} ${String(percent).padStart(3)}% ${task.status} ${message}`);
      this.#drawn = true;
      return;
    }
    const line = `${task.status} ${Math.floor(percent / 10) * 10}%`;
    if (line === this.#lastPlain) return;
    this.#lastPlain = line;
    this.#io.stderr(`${task.kind} ${task.status} ${percent}% ${message}\n`);
  }

  note(text: string): void {
    this.end();
    this.#io.stderr(`${text}\n`);
  }

  end(): void {
    if (this.#drawn) this.#io.stderr('\n');
    this.#drawn = false;
  }
}
