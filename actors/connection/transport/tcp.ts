/**
 * The TCP link (Wi-Fi controllers, the simulator): `node:net` with
 * keep-alive, so a controller that vanished from the network is eventually
 * noticed by the OS as well as by command timeouts, no Nagle delay (frames are
 * small and latency matters), and a connect timeout because a SYN to a
 * powered-off host can otherwise hang for minutes.
 */
import net from 'node:net';
import { ConnectTimeoutError, LinkClosedError, LinkOpenError, LinkWriteError } from '../errors.js';
import { LinkBase, type LinkKind } from './link.js';

export const DEFAULT_TCP_PORT = 8332;

export interface TcpLinkOptions {
  host: string;
  port?: number;
  /** Default 5000. */
  connectTimeoutMs?: number;
  /** Idle time before the first keep-alive probe; default 10000. */
  keepAliveDelayMs?: number;
  /** Abandons the attempt; the promise rejects with LinkOpenError whose cause is the abort reason. */
  signal?: AbortSignal;
  /** Makes the socket; tests pass one that never connects. Default `net.connect`. */
  createSocket?: (options: net.NetConnectOpts) => net.Socket;
}

/** How long close() lets written bytes drain before it destroys the socket. */
const CLOSE_GRACE_MS = 500;

export function openTcpLink(options: TcpLinkOptions): Promise<TcpLink> {
  const port = options.port ?? DEFAULT_TCP_PORT;
  const address = `tcp://${options.host}:${port}`;
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new LinkOpenError(address, signal.reason));

  return new Promise<TcpLink>((resolve, reject) => {
    const create = options.createSocket ?? ((o: net.NetConnectOpts) => net.connect(o));
    const socket = create({
      host: options.host,
      port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: options.keepAliveDelayMs ?? 10_000,
    });
    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(new TcpLink(socket, address));
    };
    const onError = (error: Error): void => fail(new LinkOpenError(address, error));
    const onAbort = (): void => fail(new LinkOpenError(address, signal?.reason));
    const timer = setTimeout(() => fail(new ConnectTimeoutError(address, timeoutMs)), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class TcpLink extends LinkBase {
  readonly kind: LinkKind = 'tcp';
  readonly #socket: net.Socket;
  #lastError: Error | undefined;
  readonly #closed: Promise<void>;

  /** Wraps a connected socket (the simulator's server side uses this too). */
  constructor(socket: net.Socket, address: string) {
    super(address);
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.emitData(chunk));
    socket.on('error', (error: Error) => {
      this.#lastError = error;
      this.emitError(error);
    });
    if (socket.destroyed) {
      // Handed over already dead: its 'close' may be gone, so do not wait for it.
      this.#closed = Promise.resolve();
      queueMicrotask(() => this.emitClose({ reason: 'remote' }));
      return;
    }
    this.#closed = new Promise((resolve) => {
      socket.once('close', () => {
        const error = this.#lastError;
        if (this.closeRequested) this.emitClose({ reason: 'local' });
        else if (error !== undefined) this.emitClose({ reason: 'error', error });
        else this.emitClose({ reason: 'remote' });
        resolve();
      });
    });
  }

  protected writeOpen(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => {
        if (error === undefined || error === null) resolve();
        else if (this.closed || this.#socket.destroyed)
          reject(new LinkClosedError(this.address, { cause: error }));
        else reject(new LinkWriteError(this.address, error));
      });
    });
  }

  protected closeOpen(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed) return this.#closed;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    return this.#closed.finally(() => clearTimeout(timer));
  }

  /** Drops the connection with a TCP reset, as a rebooting controller does (the simulator uses it). */
  reset(): void {
    this.#socket.resetAndDestroy();
  }
}
