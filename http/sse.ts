/**
 * Server-Sent Events: a bounded set of open streams, each fed every event
 * as it happens, with a comment line as keep-alive so proxies and clients
 * see the stream is alive. A client that does not read (its socket buffer
 * keeps growing) is dropped rather than buffered for without bound.
 * `closeAll` ends every stream, so a stopping server never waits on one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TooManyStreamsError } from './errors.js';

export interface SseOptions {
  /** Streams open at once (default 32). */
  maxClients?: number;
  /** Keep-alive comment interval in ms (default 15 s). */
  keepAliveMs?: number;
  /** Bytes waiting in one client's socket before it is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
}

export const SSE_DEFAULTS = { maxClients: 32, keepAliveMs: 15_000, maxBufferedBytes: 1024 * 1024 } as const;

export class SseHub {
  readonly #clients = new Set<ServerResponse>();
  readonly #options: Required<SseOptions>;
  #nextId = 1;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SseOptions = {}) {
    this.#options = { ...SSE_DEFAULTS, ...options };
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Turns the response into an event stream; `first` events go to this client only, before any other. */
  open(
    request: IncomingMessage,
    response: ServerResponse,
    first: ReadonlyArray<[string, unknown]> = [],
  ): void {
    if (this.#closed || this.#clients.size >= this.#options.maxClients) {
      throw new TooManyStreamsError(this.#options.maxClients);
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
      // nginx would otherwise buffer the stream
      'x-accel-buffering': 'no',
    });
    // A retry hint for EventSource clients, and headers out at once.
    response.write('retry: 2000\n\n');
    this.#clients.add(response);
    const forget = (): void => this.#drop(response);
    request.once('close', forget);
    response.once('close', forget);
    for (const [event, data] of first) this.#write(response, event, data);
    // Unref'd: an open stream is no reason for the process to stay up once everything else has stopped.
    this.#timer ??= setInterval(() => this.#keepAlive(), this.#options.keepAliveMs).unref();
  }

  /** Sends one event to every open stream. */
  publish(event: string, data: unknown): void {
    for (const client of [...this.#clients]) this.#write(client, event, data);
  }

  /** Ends every stream and refuses new ones. */
  closeAll(): void {
    this.#closed = true;
    for (const client of [...this.#clients]) {
      this.#drop(client);
      client.end();
    }
  }

  #write(client: ServerResponse, event: string, data: unknown): void {
    if (client.writableLength > this.#options.maxBufferedBytes) {
      // A stalled reader: cut it off; it may reconnect and read /api/status to catch up.
      this.#drop(client);
      client.destroy();
      return;
    }
    client.write(`id: ${this.#nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #keepAlive(): void {
    for (const client of [...this.#clients]) client.write(': keep-alive\n\n');
  }

  #drop(client: ServerResponse): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
