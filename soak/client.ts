/**
 * The soak's HTTP client: node:http with a keep-alive agent of its own, the
 * token and a JSON content type on every state change, and a deadline on
 * every request. An answer is any HTTP response (its status and error code);
 * a failure is a request that got none: no answer by the deadline, a
 * connection cut without an answer, or a body that is not JSON.
 *
 * The one retry: a request written on a kept-alive socket the server closed
 * at that moment (ECONNRESET on a reused socket) never reached the server;
 * Node's documentation says to retry it, as every client does.
 */
import { Agent, request as httpRequest } from 'node:http';

export interface Answer {
  status: number;
  /** `error.code` of an error answer; `OK` for a 2xx. */
  code: string;
  json: unknown;
  ms: number;
}

export type FailureKind = 'deadline' | 'connection' | 'not-json';

export class RequestFailure extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string) {
    super(message);
    this.name = 'RequestFailure';
    this.kind = kind;
  }
}

export interface ClientOptions {
  /** `http://127.0.0.1:PORT` */
  base: string;
  token: string;
  /** How long any request may take before it counts as unanswered. */
  deadlineMs: number;
}

export class ApiClient {
  readonly #options: ClientOptions;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(options: ClientOptions) {
    this.#options = options;
  }

  async request(method: string, path: string, body?: unknown): Promise<Answer> {
    try {
      return await this.#once(method, path, body);
    } catch (error) {
      if (error instanceof StaleSocketError) return this.#once(method, path, body);
      throw error;
    }
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.#agent.destroy();
  }

  #once(method: string, path: string, body: unknown): Promise<Answer> {
    const { base, token, deadlineMs } = this.#options;
    const url = new URL(path, base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (method !== 'GET') headers['content-type'] = 'application/json';
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
    const started = performance.now();
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
      };
      const req = httpRequest(url, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) =>
          settle(() => reject(new RequestFailure('connection', `${method} ${path}: ${error.message}`))),
        );
        res.on('end', () =>
          settle(() => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              reject(
                new RequestFailure('not-json', `${method} ${path}: ${res.statusCode} ${text.slice(0, 120)}`),
              );
              return;
            }
            const status = res.statusCode ?? 0;
            const code =
              status >= 200 && status < 300
                ? 'OK'
                : String((json as { error?: { code?: unknown } } | null)?.error?.code ?? `HTTP_${status}`);
            resolve({ status, code, json, ms: performance.now() - started });
          }),
        );
      });
      const timer = setTimeout(() => {
        settle(() =>
          reject(new RequestFailure('deadline', `${method} ${path}: no answer in ${deadlineMs} ms`)),
        );
        req.destroy();
      }, deadlineMs);
      req.on('error', (error: NodeJS.ErrnoException) =>
        settle(() =>
          reject(
            req.reusedSocket && error.code === 'ECONNRESET'
              ? new StaleSocketError()
              : new RequestFailure('connection', `${method} ${path}: ${error.code ?? error.message}`),
          ),
        ),
      );
      req.end(payload);
    });
  }
}

class StaleSocketError extends Error {}
