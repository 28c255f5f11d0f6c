/**
 * A real Unix datagram socket standing in for systemd's notify socket.
 * Node cannot bind one, so `socat -u UNIX-RECV:path -` (or ABSTRACT-RECV)
 * does, writing each datagram's bytes to stdout; its `transferred N bytes`
 * diagnostics on stderr give the datagram boundaries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Received {
  message: string;
  /** performance.now() when the test process read it. */
  at: number;
}

export interface NotifyReceiver {
  /** The value for NOTIFY_SOCKET: a path, or `@name` for an abstract socket. */
  readonly socket: string;
  readonly messages: Received[];
  /** Resolves once `predicate` holds over the messages so far; rejects after `timeoutMs`. */
  waitFor(predicate: (messages: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** `path` reuses a socket path (a receiver that comes back); otherwise a fresh name. */
export async function startNotifyReceiver(
  kind: 'path' | 'abstract' = 'path',
  path?: string,
): Promise<NotifyReceiver> {
  const name = `tether-notify-${process.pid}-${randomBytes(4).toString('hex')}`;
  const socket = kind === 'path' ? (path ?? join(tmpdir(), `${name}.sock`)) : `@${name}`;
  const address = kind === 'path' ? `UNIX-RECV:${socket}` : `ABSTRACT-RECV:${name}`;
  const child = spawn('socat', ['-u', '-d', '-d', '-d', address, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });

  const messages: Received[] = [];
  const lengths: number[] = [];
  let bytes = Buffer.alloc(0);
  let stderr = '';
  let listening = false;
  const watchers = new Set<() => void>();
  const wake = (): void => {
    for (const watcher of [...watchers]) watcher();
  };
  const split = (): void => {
    while (lengths.length > 0 && bytes.length >= (lengths[0] ?? 0)) {
      const length = lengths.shift() ?? 0;
      messages.push({ message: bytes.subarray(0, length).toString('utf8'), at: performance.now() });
      bytes = bytes.subarray(length);
    }
    wake();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    split();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    let newline: number;
    while ((newline = stderr.indexOf('\n')) >= 0) {
      const line = stderr.slice(0, newline);
      stderr = stderr.slice(newline + 1);
      const transferred = / I transferred (\d+) bytes from /.exec(line);
      if (transferred) lengths.push(Number(transferred[1]));
      if (line.includes('starting data transfer loop')) listening = true;
    }
    split();
  });

  // Deadlines, not waits: what they wait for goes through a socat process or two, which a loaded
  // machine can take seconds to start.
  const waitFor = (predicate: (m: Received[]) => boolean, timeoutMs = 15_000): Promise<Received[]> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(messages)) return;
        cleanup();
        resolve(messages);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`receiver: condition not met in ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });

  // Ready once socat has bound the socket (a sender before that would get ECONNREFUSED).
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('receiver socat did not start')), 15_000);
    const check = (): void => {
      if (!listening) return;
      clearTimeout(timer);
      watchers.delete(check);
      resolve();
    };
    watchers.add(check);
    child.once('exit', () => reject(new Error('receiver socat exited')));
  });

  return {
    socket,
    messages,
    waitFor,
    close: () => stop(child),
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}
