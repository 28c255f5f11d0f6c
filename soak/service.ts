/**
 * The service under soak: a real `tether run` process, as users run it,
 * started from a configuration file, its JSON log read line by line (and
 * kept in a file for the post-mortem), its memory read from /proc. It is
 * stopped with SIGTERM, as systemd and Docker stop it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../cli/tether.js', import.meta.url));

export interface LogLine {
  level?: number;
  msg?: string;
  event?: string;
  [key: string]: unknown;
}

export interface LogStats {
  lines: number;
  /** Lines by pino level name. */
  byLevel: Record<string, number>;
  /** The most lines written in one wall-clock second. */
  peakPerSecond: number;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

export class ServiceProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #log: WriteStream;
  readonly #stats: LogStats = { lines: 0, byLevel: {}, peakPerSecond: 0 };
  readonly #watchers = new Set<(line: LogLine) => void>();
  #second = 0;
  #inSecond = 0;
  #partial = '';

  constructor(configFile: string, logFile: string, env: NodeJS.ProcessEnv) {
    this.logFile = logFile;
    this.#log = createWriteStream(logFile);
    this.child = spawn(process.execPath, [CLI, 'run', '--config', configFile, '--log-format', 'json'], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.child.stdout?.on('data', (chunk: Buffer) => this.#read(chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#log.write(chunk);
      for (const text of chunk.toString().split('\n')) {
        if (text.trim() !== '') this.#line({ level: 50, msg: `stderr: ${text}` });
      }
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get logStats(): LogStats {
    return { ...this.#stats, byLevel: { ...this.#stats.byLevel } };
  }

  /** Calls `watcher` with every log line from now on; returns a function that stops it. */
  watch(watcher: (line: LogLine) => void): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /** The first log line that matches, or a rejection at the deadline. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no ${what} in ${timeoutMs} ms (log: ${this.logFile})`));
      }, timeoutMs);
      const stop = this.watch((line) => {
        if (!match(line)) return;
        clearTimeout(timer);
        stop();
        resolve(line);
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        stop();
        reject(new Error(`the service exited (${code ?? signal}) before ${what} (log: ${this.logFile})`));
      });
    });
  }

  /** Resident memory of the whole process (every thread), from /proc; 0 once it is gone. */
  async rssBytes(): Promise<number> {
    try {
      const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      return kb === undefined ? 0 : Number(kb) * 1024;
    } catch {
      return 0;
    }
  }

  /** Threads of the process (main, workers, libuv and V8's own), from /proc. */
  async threads(): Promise<number> {
    try {
      const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
      return Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  /** SIGTERM, then the exit, or undefined if none came by the deadline (then SIGKILL). */
  async stop(
    deadlineMs: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number } | undefined> {
    const started = performance.now();
    if (this.running) this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), deadlineMs))),
    ]);
    clearTimeout(timer);
    if (outcome === undefined) {
      this.kill();
      await this.exited;
    }
    await new Promise<void>((resolve) => this.#log.end(resolve));
    return outcome === undefined ? undefined : { ...outcome, ms: performance.now() - started };
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  #read(chunk: Buffer): void {
    this.#log.write(chunk);
    const parts = (this.#partial + chunk.toString()).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      let line: LogLine;
      try {
        line = JSON.parse(part) as LogLine;
      } catch {
        line = { level: 30, msg: part };
      }
      this.#line(line);
    }
  }

  #line(line: LogLine): void {
    const stats = this.#stats;
    stats.lines += 1;
    const level = LEVEL_NAMES[line.level ?? 30] ?? String(line.level);
    stats.byLevel[level] = (stats.byLevel[level] ?? 0) + 1;
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#inSecond = 0;
    }
    this.#inSecond += 1;
    stats.peakPerSecond = Math.max(stats.peakPerSecond, this.#inSecond);
    for (const watcher of [...this.#watchers]) watcher(line);
  }
}
