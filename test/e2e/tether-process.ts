/**
 * `tether run` as a real process, for tests that need a real signal and a
 * real exit: its JSON log lines are collected as they come, and a test waits
 * for one with a deadline.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Recorder } from '../recorder.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));

/**
 * For a `tether run` under test: 30 s (not the default 5 s) for each actor to load and start.
 * A loaded 2-core machine can take longer than 5 s to start a worker (with the OpenTelemetry SDK
 * in it, more so); a slow start must not be what fails a test of something else.
 */
export const ROOMY_START_ENV: Record<string, string> = Object.fromEntries(
  ['CONNECTION', 'COMMANDER', 'SYNCHRONIZATION', 'WATCHDOG', 'MQTT'].map((id) => [
    `TETHER_SUPERVISION__CHILDREN__${id}__START_TIMEOUT_MS`,
    '30000',
  ]),
);

/**
 * Calls `onLine` with each whole line of a process's output, a line split
 * across chunks joined first (a trailing line without its newline waits).
 */
export function eachLine(stream: Readable | null, onLine: (line: string) => void): void {
  let partial = '';
  stream?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  });
}

export interface TetherProcess {
  child: ChildProcess;
  lines: ReadonlyArray<Record<string, unknown>>;
  /** Settles once the process has exited, with its code and the wall time of the exit. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolves with the first log line that matches; rejects at the deadline with every line so far. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
  /** SIGKILLs the process if it is still running (for `finally`). */
  kill(): Promise<void>;
}

export function spawnTether(args: string[], env: NodeJS.ProcessEnv = {}): TetherProcess {
  const child = spawn(process.execPath, [CLI, 'run', ...args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      TETHER_HTTP__PORT: '0',
      TETHER_LOG__LEVEL: 'info',
      ...ROOMY_START_ENV,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new Recorder<Record<string, unknown>>();
  eachLine(child.stdout, (line) => {
    if (line.trim() === '') return;
    try {
      output.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      output.push({ msg: line });
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => output.push({ stderr: chunk.toString() }));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const summary = (): string => `\n${output.items.map((l) => JSON.stringify(l)).join('\n')}`;
  return {
    child,
    lines: output.items,
    exit,
    waitForLine: (match, timeoutMs) => output.waitFor(match, { timeoutMs, what: 'such a log line', summary }),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

/** A process whose output is kept as text lines (stdout and stderr together). */
export interface RecordedRun {
  code: Promise<number | null>;
  lines: readonly string[];
  /** Resolves when a line matches; rejects at the deadline with every line so far. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Runs `command` with a clean environment (PATH, the HTTP API on port 0, then
 * `env`) and records its output lines: whole lines only (a chunk may end in
 * the middle of one), the \r of a terminal dropped, empty lines left out.
 */
export function startRecorded(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): RecordedRun {
  const child = spawn(command, args, {
    env: { PATH: process.env['PATH'] ?? '', TETHER_HTTP__PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new Recorder<string>();
  const record = (line: string): void => {
    const text = line.replace(/\r$/, '');
    if (text !== '') output.push(text);
  };
  eachLine(child.stdout, record);
  eachLine(child.stderr, record);
  const code = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return {
    code,
    lines: output.items,
    kill: (signal) => child.kill(signal),
    waitForLine: (pattern, timeoutMs) =>
      output.waitFor((line) => pattern.test(line), {
        timeoutMs,
        what: `a line matching ${pattern}`,
        summary: () => `\n${output.items.join('\n')}`,
      }),
  };
}
