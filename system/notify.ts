/**
 * systemd notification (sd_notify): READY, STATUS, STOPPING and WATCHDOG
 * messages to the datagram socket named by `NOTIFY_SOCKET`.
 *
 * Node cannot send on a Unix datagram socket (neither `net` nor `dgram`
 * offers one), and a native binding would not build on a machine where npm
 * runs no install scripts. So the datagrams are sent by a helper process:
 *
 * 1. `socat`, one long-lived process fed one message at a time. Each message
 *    is written to its stdin only after socat has reported (on stderr, at
 *    `-d -d -d`) that the previous one was sent, so every message is exactly
 *    one datagram, in order. socat stays alive between messages, which
 *    matters: systemd attributes a message to a unit by the sender's cgroup,
 *    read from /proc when it handles the message, so a helper that sends and
 *    exits at once may have its message dropped (sd_notify(3) says so).
 * 2. `systemd-notify` when socat is missing: present wherever systemd is, but
 *    it exits right after sending, so systemd may drop some messages; the
 *    notifier warns once and recommends installing socat.
 *
 * Either way the sender is a child process, not the main process, so the
 * unit needs `NotifyAccess=all` (deploy/tether.service says why).
 *
 * Never crash, never block: without `NOTIFY_SOCKET` every method is a no-op;
 * a helper that is missing or fails is logged once and the service goes on;
 * messages wait in a small bounded queue; the helper is unref'd, so it never
 * keeps the process alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../runtime/logger.js';

export interface Notifier {
  /** False without `NOTIFY_SOCKET`, or once no helper can send: every method is then a no-op. */
  readonly enabled: boolean;
  /** `READY=1`, with a status line: the tree is up. */
  ready(status?: string): void;
  /** `STATUS=...`: the phase and device, shown by `systemctl status`. */
  status(text: string): void;
  /** `STOPPING=1`, with a status line: shutdown has begun. */
  stopping(status?: string): void;
  /** `WATCHDOG=1`: the main loop is alive and the tree is healthy. */
  watchdog(): void;
  /** Any other assignment(s), one per line (`EXTEND_TIMEOUT_USEC=...`). */
  send(message: string): void;
  /** Sends what is queued (waiting at most `timeoutMs`), then lets the helper go. Later messages are ignored. */
  close(timeoutMs?: number): Promise<void>;
}

export interface NotifierOptions {
  logger?: Logger;
  /** The helper commands, tried in this order (tests point them elsewhere). */
  socat?: string;
  systemdNotify?: string;
  /** How long a message may take to be sent before the helper is restarted and the message dropped. */
  sendTimeoutMs?: number;
  /** Messages waiting beyond this are dropped, oldest watchdog pings first. */
  maxQueue?: number;
}

const DEFAULTS = {
  socat: 'socat',
  systemdNotify: 'systemd-notify',
  sendTimeoutMs: 3000,
  maxQueue: 32,
} as const;

/** A status line longer than this is cut: a datagram must stay well under a pipe's atomic write (4 KiB). */
const MAX_STATUS_CHARS = 512;

// ------------------------------------------------------------- public API

/** A notifier for `env.NOTIFY_SOCKET`; a no-op one when it is unset. */
export function createNotifier(
  env: NodeJS.ProcessEnv = process.env,
  options: NotifierOptions = {},
): Notifier {
  const socket = env['NOTIFY_SOCKET'];
  if (socket === undefined || socket === '') return NO_OP_NOTIFIER;
  return new HelperNotifier(socket, { ...DEFAULTS, ...options });
}

export const NO_OP_NOTIFIER: Notifier = Object.freeze({
  enabled: false,
  ready: () => undefined,
  status: () => undefined,
  stopping: () => undefined,
  watchdog: () => undefined,
  send: () => undefined,
  close: () => Promise.resolve(),
});

/** One status line: no newline (it would start a new assignment), bounded length. */
export function statusLine(text: string): string {
  const line = text.replace(/[\r\n]+/g, ' ').trim();
  return line.length > MAX_STATUS_CHARS ? `${line.slice(0, MAX_STATUS_CHARS - 1)}…` : line;
}

/** The socat address for a `NOTIFY_SOCKET` value, or undefined when socat cannot be given it safely. */
export function socatAddress(socket: string): string | undefined {
  // socat gives `:` `,` `!` and quotes a meaning inside addresses; systemd's own paths never hold them.
  const safe = /^[A-Za-z0-9._/+@-]+$/;
  if (!safe.test(socket)) return undefined;
  if (socket.startsWith('@')) return socket.length > 1 ? `ABSTRACT-SENDTO:${socket.slice(1)}` : undefined;
  if (socket.startsWith('/')) return `UNIX-SENDTO:${socket}`;
  return undefined;
}

// ------------------------------------------------------------ the notifier

type Settings = Required<Omit<NotifierOptions, 'logger'>> & { logger?: Logger };

/** Sends one message as one datagram; rejects when it could not. */
interface Channel {
  readonly name: string;
  deliver(message: string): Promise<void>;
  close(): void;
}

class HelperNotifier implements Notifier {
  readonly #settings: Settings;
  readonly #channels: Channel[];
  readonly #queue: string[] = [];
  #pumping = false;
  #closed = false;
  #warned = false;
  #drained: Array<() => void> = [];

  constructor(socket: string, settings: Settings) {
    this.#settings = settings;
    const address = socatAddress(socket);
    this.#channels = [];
    if (address !== undefined) this.#channels.push(new SocatChannel(settings.socat, address, settings));
    this.#channels.push(new SystemdNotifyChannel(settings.systemdNotify, socket, settings));
  }

  get enabled(): boolean {
    return !this.#closed && this.#channels.length > 0;
  }

  ready(status?: string): void {
    this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${statusLine(status)}`);
  }

  status(text: string): void {
    this.send(`STATUS=${statusLine(text)}`);
  }

  stopping(status?: string): void {
    this.send(status === undefined ? 'STOPPING=1' : `STOPPING=1\nSTATUS=${statusLine(status)}`);
  }

  watchdog(): void {
    this.send('WATCHDOG=1');
  }

  send(message: string): void {
    if (!this.enabled) return;
    this.#queue.push(message);
    if (this.#queue.length > this.#settings.maxQueue) {
      // A ping is worth nothing once a newer one is queued; otherwise the oldest goes.
      const ping = this.#queue.indexOf('WATCHDOG=1');
      this.#queue.splice(ping >= 0 ? ping : 0, 1);
      this.#warnOnce('systemd notification queue full; dropping a message');
    }
    void this.#pump();
  }

  async close(timeoutMs = 1000): Promise<void> {
    if (this.#closed) return;
    if (this.#pumping) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#drained.push(resolve);
        // Not unref'd, unlike every other handle here: a process with nothing
        // else left would exit in the middle of this wait, and the helper
        // with it, losing STOPPING=1 (seen under load). It is bounded.
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    this.#closed = true;
    this.#queue.length = 0;
    for (const channel of this.#channels) channel.close();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && this.enabled) {
        const channel = this.#channels[0];
        const message = this.#queue[0];
        if (channel === undefined || message === undefined) break;
        try {
          await channel.deliver(message);
          this.#queue.shift();
        } catch (error) {
          if (errorCode(error) === 'ENOENT') {
            // The helper is not installed: try the next one with the same message.
            this.#channels.shift();
            channel.close();
            const next = this.#channels[0];
            if (next === undefined) {
              this.#settings.logger?.error(
                { error: describe(error) },
                'cannot notify systemd: neither socat nor systemd-notify is installed (install socat)',
              );
            } else if (next instanceof SystemdNotifyChannel) {
              this.#settings.logger?.warn(
                'socat not found: notifying systemd with systemd-notify, whose messages systemd may drop (install socat)',
              );
            }
          } else {
            // Sending failed (the socket is gone, the helper hung): drop this message, it may be stale by the next try.
            this.#queue.shift();
            this.#warnOnce(`systemd notification failed via ${channel.name}; carrying on`, error);
          }
        }
      }
    } finally {
      this.#pumping = false;
      const waiting = this.#drained;
      this.#drained = [];
      for (const resolve of waiting) resolve();
    }
  }

  #warnOnce(message: string, error?: unknown): void {
    if (this.#warned) {
      this.#settings.logger?.debug({ error: error === undefined ? undefined : describe(error) }, message);
      return;
    }
    this.#warned = true;
    this.#settings.logger?.warn({ error: error === undefined ? undefined : describe(error) }, message);
  }
}

// ---------------------------------------------------------------- channels

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** One long-lived `socat -u - UNIX-SENDTO:...`; its `transferred N bytes` diagnostics confirm each datagram. */
class SocatChannel implements Channel {
  readonly name = 'socat';
  readonly #command: string;
  readonly #address: string;
  readonly #timeoutMs: number;
  #child: ChildProcess | undefined;
  #pending: Pending | undefined;
  #stderr = '';
  #lastError = '';

  constructor(command: string, address: string, settings: Settings) {
    this.#command = command;
    this.#address = address;
    this.#timeoutMs = settings.sendTimeoutMs;
  }

  deliver(message: string): Promise<void> {
    const child = this.#child ?? this.#spawn();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new Error(`socat did not send within ${this.#timeoutMs} ms`));
        child.kill('SIGKILL');
      }, this.#timeoutMs);
      timer.unref();
      this.#pending = { resolve, reject, timer };
      // One write of under 4 KiB to a pipe is atomic, so socat reads it whole and sends it as one datagram.
      child.stdin?.write(message);
    });
  }

  close(): void {
    this.#fail(new Error('notifier closed'));
    // EOF: socat sends anything it has read, then exits by itself.
    this.#child?.stdin?.end();
    this.#child = undefined;
  }

  #spawn(): ChildProcess {
    const child = spawn(this.#command, ['-u', '-d', '-d', '-d', '-', this.#address], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.#child = child;
    this.#stderr = '';
    this.#lastError = '';
    // A helper must never keep the service alive, nor crash it with an EPIPE.
    child.unref();
    unrefStream(child.stdin);
    unrefStream(child.stderr);
    child.stdin?.on('error', () => undefined);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.#onStderr(chunk));
    child.on('error', (error) => {
      if (this.#child === child) this.#child = undefined;
      this.#fail(error);
    });
    child.on('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      this.#fail(
        new Error(`socat exited (${signal ?? code ?? '?'})${this.#lastError ? `: ${this.#lastError}` : ''}`),
      );
    });
    return child;
  }

  #onStderr(chunk: string): void {
    this.#stderr += chunk;
    let newline: number;
    while ((newline = this.#stderr.indexOf('\n')) >= 0) {
      const line = this.#stderr.slice(0, newline);
      this.#stderr = this.#stderr.slice(newline + 1);
      if (/ I transferred \d+ bytes from /.test(line)) this.#settle();
      else if (/ [EF] /.test(line)) this.#lastError = line.replace(/^.*? [EF] /, '');
    }
    // Diagnostics without a newline for this long are not socat's: do not let them grow.
    if (this.#stderr.length > 8192) this.#stderr = '';
  }

  #settle(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    pending.resolve();
  }

  #fail(error: Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    pending.reject(error);
  }
}

/** `systemd-notify A=1 B=2` per message: found wherever systemd is, but exits at once (see the module comment). */
class SystemdNotifyChannel implements Channel {
  readonly name = 'systemd-notify';
  readonly #command: string;
  readonly #socket: string;
  readonly #timeoutMs: number;
  readonly #running = new Set<ChildProcess>();

  constructor(command: string, socket: string, settings: Settings) {
    this.#command = command;
    this.#socket = socket;
    this.#timeoutMs = settings.sendTimeoutMs;
  }

  deliver(message: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn(this.#command, message.split('\n'), {
        stdio: 'ignore',
        env: { ...process.env, NOTIFY_SOCKET: this.#socket },
      });
      this.#running.add(child);
      child.unref();
      const timer = setTimeout(() => child.kill('SIGKILL'), this.#timeoutMs);
      timer.unref();
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.#running.delete(child);
        if (error) reject(error);
        else resolve();
      };
      child.on('error', (error) => done(error));
      child.on('exit', (code, signal) =>
        code === 0 ? done() : done(new Error(`systemd-notify exited (${signal ?? code ?? '?'})`)),
      );
    });
  }

  close(): void {
    // A running systemd-notify finishes by itself within its timeout; nothing is kept open.
  }
}

function unrefStream(stream: unknown): void {
  const unref = (stream as { unref?: () => void } | null)?.unref;
  if (typeof unref === 'function') unref.call(stream);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
