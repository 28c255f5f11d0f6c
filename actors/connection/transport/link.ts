/**
 * A byte link to a controller: the one interface the connection actor sees,
 * whether the bytes go over TCP or a serial port (and the fake in tests).
 *
 * Contract:
 * - A link is open when its factory resolves; it closes once, for good.
 * - `write` settles every time: resolves when the bytes are handed to the OS,
 *   rejects with LinkClosedError after (or during) close, LinkWriteError when
 *   the OS refuses. It never throws synchronously and never errors into
 *   nowhere.
 * - `onClose` listeners run exactly once, whatever closed the link.
 * - Listeners are plain callbacks (no EventEmitter), so an unhandled `error`
 *   can never crash the process; an exception thrown by a listener is
 *   reported to the `onError` listeners instead of escaping into the socket.
 */
import { LinkClosedError } from '../errors.js';

export type LinkKind = 'tcp' | 'serial';

export interface LinkCloseInfo {
  /** `local`: close() was called; `remote`: the peer or the device went away; `error`: an I/O error. */
  reason: 'local' | 'remote' | 'error';
  error?: Error;
}

export interface Link {
  readonly kind: LinkKind;
  /** `tcp://host:port` or the serial device path, for logs. */
  readonly address: string;
  readonly closed: boolean;
  write(bytes: Uint8Array | string): Promise<void>;
  /** Idempotent; resolves once the underlying socket or port is released. */
  close(): Promise<void>;
  /** Each returns a function that removes the listener. */
  onData(listener: (chunk: Buffer) => void): () => void;
  onError(listener: (error: Error) => void): () => void;
  onClose(listener: (info: LinkCloseInfo) => void): () => void;
}

/** Listener bookkeeping and close-once state shared by the real links. */
export abstract class LinkBase implements Link {
  abstract readonly kind: LinkKind;
  readonly address: string;
  readonly #data = new Set<(chunk: Buffer) => void>();
  readonly #error = new Set<(error: Error) => void>();
  readonly #close = new Set<(info: LinkCloseInfo) => void>();
  #closeInfo: LinkCloseInfo | undefined;
  #closing = false;

  protected constructor(address: string) {
    this.address = address;
  }

  get closed(): boolean {
    return this.#closeInfo !== undefined || this.#closing;
  }

  write(bytes: Uint8Array | string): Promise<void> {
    if (this.closed) return Promise.reject(new LinkClosedError(this.address));
    return this.writeOpen(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  }

  close(): Promise<void> {
    if (this.#closeInfo !== undefined) return Promise.resolve();
    this.#closing = true;
    return this.closeOpen();
  }

  onData(listener: (chunk: Buffer) => void): () => void {
    this.#data.add(listener);
    return () => this.#data.delete(listener);
  }

  onError(listener: (error: Error) => void): () => void {
    this.#error.add(listener);
    return () => this.#error.delete(listener);
  }

  /** A listener added after the link closed is called at once (on a microtask), so none waits forever. */
  onClose(listener: (info: LinkCloseInfo) => void): () => void {
    const info = this.#closeInfo;
    if (info !== undefined) {
      queueMicrotask(() => listener(info));
      return () => {};
    }
    this.#close.add(listener);
    return () => this.#close.delete(listener);
  }

  protected abstract writeOpen(bytes: Uint8Array): Promise<void>;
  protected abstract closeOpen(): Promise<void>;

  /** Whether close() was asked for, so the close can be reported as local. */
  protected get closeRequested(): boolean {
    return this.#closing;
  }

  protected emitData(chunk: Buffer): void {
    for (const listener of this.#data) {
      try {
        listener(chunk);
      } catch (error) {
        this.emitError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  protected emitError(error: Error): void {
    for (const listener of this.#error) {
      try {
        listener(error);
      } catch {
        // An error listener that fails has nowhere left to report to.
      }
    }
  }

  /** Called by the subclass when the socket or port is gone; runs the close listeners once. */
  protected emitClose(info: LinkCloseInfo): void {
    if (this.#closeInfo !== undefined) return;
    this.#closeInfo = info;
    const listeners = [...this.#close];
    this.#close.clear();
    this.#data.clear();
    for (const listener of listeners) {
      try {
        listener(info);
      } catch (error) {
        this.emitError(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.#error.clear();
  }
}
