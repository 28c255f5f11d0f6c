/**
 * A serial port through Node's own `tty` module (libuv), with line settings
 * made by `stty`. This is the default serial port of the link, instead of
 * `serialport`'s native binding, because the link runs in the connection
 * actor's worker thread and that binding is not safe there: reading from a
 * worker aborts the process ("HandleScope ... without proper locking",
 * serialport/node-serialport#2748), and a worker terminated with a port open
 * leaves the descriptor open and locked, so the restarted actor cannot open
 * it again. A libuv tty handle belongs to its thread's loop: it works in a
 * worker, and terminating the worker closes it.
 *
 * `stty` (coreutils) is on every Linux the service runs on, including the
 * slim container image.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, open } from 'node:fs';
import { ReadStream } from 'node:tty';
import type { SerialPortLike, SerialSettings } from './serial.js';

const STTY_TIMEOUT_MS = 5000;

/** stty arguments for raw 8N1-style I/O at the given settings. */
export function sttyArguments(settings: Required<SerialSettings>): string[] {
  const parity =
    settings.parity === 'none'
      ? ['-parenb']
      : settings.parity === 'even'
        ? ['parenb', '-parodd']
        : ['parenb', 'parodd'];
  return [
    '-F',
    settings.path,
    String(settings.baudRate),
    `cs${settings.dataBits}`,
    settings.stopBits === 2 ? 'cstopb' : '-cstopb',
    ...parity,
    settings.rtscts ? 'crtscts' : '-crtscts',
    'raw',
    '-echo',
    // Ignore modem control lines: a USB CDC device has none worth waiting for.
    'clocal',
  ];
}

type Listener = (...args: never[]) => void;

export class TtyPort implements SerialPortLike {
  readonly #settings: Required<SerialSettings>;
  #stream: ReadStream | undefined;
  readonly #listeners = { data: new Set<Listener>(), error: new Set<Listener>(), close: new Set<Listener>() };

  constructor(settings: Required<SerialSettings>) {
    this.#settings = settings;
  }

  get isOpen(): boolean {
    return this.#stream !== undefined && !this.#stream.destroyed;
  }

  open(callback: (error: Error | null) => void): void {
    execFile(
      'stty',
      sttyArguments(this.#settings),
      { timeout: STTY_TIMEOUT_MS },
      (sttyError, _out, stderr) => {
        if (sttyError !== null) {
          const why =
            (sttyError as NodeJS.ErrnoException).code === 'ENOENT' ? 'stty is not installed' : stderr.trim();
          callback(new Error(`cannot set the line of ${this.#settings.path}: ${why || sttyError.message}`));
          return;
        }
        open(
          this.#settings.path,
          constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK,
          (openError, fd) => {
            if (openError !== null) {
              callback(openError);
              return;
            }
            let stream: ReadStream;
            try {
              stream = new ReadStream(fd);
            } catch (error) {
              closeSync(fd);
              callback(error instanceof Error ? error : new Error(String(error)));
              return;
            }
            this.#stream = stream;
            stream.on('data', (chunk: Buffer) => this.#emit('data', chunk));
            stream.on('error', (error: Error) => this.#emit('error', error));
            stream.on('close', (hadError: boolean) =>
              this.#emit('close', hadError ? new Error('the device went away') : null),
            );
            callback(null);
          },
        );
      },
    );
  }

  write(data: Uint8Array, callback: (error: Error | null | undefined) => void): boolean {
    const stream = this.#stream;
    if (stream === undefined || stream.destroyed) {
      callback(new Error('port not open'));
      return false;
    }
    return stream.write(data, callback);
  }

  close(callback: (error: Error | null) => void): void {
    const stream = this.#stream;
    if (stream === undefined || stream.destroyed) {
      callback(null);
      return;
    }
    stream.once('close', () => callback(null));
    stream.destroy();
  }

  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: (error?: Error | null) => void): this;
  on(event: 'data' | 'error' | 'close', listener: Listener): this {
    this.#listeners[event].add(listener);
    return this;
  }

  #emit(event: 'data' | 'error' | 'close', value: unknown): void {
    for (const listener of this.#listeners[event]) (listener as (value: unknown) => void)(value);
  }
}
