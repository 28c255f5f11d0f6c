/**
 * The HTTP API on port 0 in front of the real service and simulator (the
 * e2e harness), plain `fetch` to call it, and an event-stream reader that
 * waits for an event with a deadline.
 */
import { connect } from 'node:net';
import type { TetherConfig } from '../../config/index.js';
import type { DeepPartial } from '../../config/index.js';
import { startHttpApi } from '../../http/index.js';
import type { HttpApi, HttpApiOptions } from '../../http/index.js';
import type { SimulatorOptions } from '../../sim/index.js';
import { withService } from '../e2e/harness.js';
import { Recorder } from '../recorder.js';
import type { ServiceFixture } from '../e2e/harness.js';

export interface ApiFixture extends ServiceFixture {
  api: HttpApi;
  call: (method: string, path: string, options?: CallOptions) => Promise<ApiAnswer>;
}

export interface CallOptions {
  /** Sent as JSON unless `raw` is given; state changes say `content-type: application/json` unless told. */
  body?: unknown;
  raw?: string | Buffer;
  token?: string;
  headers?: Record<string, string>;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

/** The `error.code` of an error answer. */
export function codeOf(answer: ApiAnswer): unknown {
  return (answer.json['error'] as { code?: unknown } | undefined)?.code;
}

export async function withApi(
  body: (fixture: ApiFixture) => Promise<void>,
  options: {
    config?: DeepPartial<TetherConfig>;
    sim?: SimulatorOptions;
    http?: Partial<TetherConfig['http']>;
    api?: HttpApiOptions;
  } = {},
): Promise<void> {
  await withService(
    async (fixture) => {
      const http = { ...fixture.service.config.http, host: '127.0.0.1', port: 0, ...options.http };
      const api = await startHttpApi(fixture.service, http, fixture.service.logger, options.api);
      try {
        await body({ ...fixture, api, call: (method, path, o) => call(api.address.url, method, path, o) });
      } finally {
        await api.close();
      }
    },
    {
      ...(options.config === undefined ? {} : { config: options.config }),
      ...(options.sim ? { sim: options.sim } : {}),
    },
  );
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | Buffer | undefined = options.raw;
  if (payload === undefined && options.body !== undefined) payload = JSON.stringify(options.body);
  // As a well-behaved client does: every state change says it is JSON, with a body or without.
  if (
    (payload !== undefined || ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) &&
    headers['content-type'] === undefined
  )
    headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const response = await fetch(new URL(path, base), {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: JSON.parse(text) as Record<string, unknown>,
  };
}

export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** An open `/api/events` stream: every event so far, and waiting for one with a deadline. */
export class EventStream {
  readonly #seen = new Recorder<StreamEvent>();
  #ended = false;
  readonly #abort = new AbortController();
  readonly done: Promise<void>;

  private constructor(body: ReadableStream<Uint8Array>) {
    this.done = this.#read(body);
  }

  static async open(base: string): Promise<EventStream> {
    const controller = new AbortController();
    const response = await fetch(new URL('/api/events', base), { signal: controller.signal });
    if (response.status !== 200 || response.body === null)
      throw new Error(`event stream: ${response.status}`);
    const stream = new EventStream(response.body);
    stream.#abort.signal.addEventListener('abort', () => controller.abort());
    return stream;
  }

  get ended(): boolean {
    return this.#ended;
  }

  get events(): readonly StreamEvent[] {
    return this.#seen.items;
  }

  waitFor(
    event: string,
    match: (data: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<StreamEvent> {
    return this.#seen.waitFor((e) => e.event === event && match(e.data), {
      timeoutMs,
      what: `"${event}" event`,
      summary: () => this.events.map((e) => `${e.event}:${JSON.stringify(e.data)}`).join('\n'),
    });
  }

  close(): void {
    this.#abort.abort();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) {
            this.#seen.push({ event, data: JSON.parse(data) as Record<string, unknown> });
          }
        }
      }
    } catch {
      // aborted by close(), or cut by the server: either way the stream is over
    } finally {
      this.#ended = true;
    }
  }
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One request written byte for byte on a fresh TCP connection (so Host,
 * absolute-form targets and HTTP/1.0 are exactly what the test says; fetch
 * would set its own Host), read until the server closes or answers in full.
 */
export async function rawRequest(base: string, head: string, body = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) });
  socket.setTimeout(10_000, () => socket.destroy(new Error('raw request: no answer in 10 s')));
  let text = '';
  socket.setEncoding('utf8');
  socket.write(`${head}\r\n\r\n${body}`);
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: string) => {
      text += chunk;
      const parsed = parseRaw(text);
      if (
        parsed !== undefined &&
        Buffer.byteLength(parsed.body) >= Number(parsed.headers['content-length'])
      ) {
        socket.end();
        resolve();
      }
    });
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  socket.destroy();
  const parsed = parseRaw(text);
  if (parsed === undefined) throw new Error(`raw request: no HTTP answer in ${JSON.stringify(text)}`);
  return parsed;
}

function parseRaw(text: string): RawAnswer | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
}
