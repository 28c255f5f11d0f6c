/**
 * The running service's HTTP API, for the CLI's commands: where it is (the
 * configuration's http.host and http.port, or --url), its token (http.token,
 * also TETHER_HTTP__TOKEN), and calls that always settle (a deadline each).
 * What the service answers is the service's text: commands print it only
 * through terminal.ts or quote().
 */
import { ConfigError, ConfigNotFoundError, EXIT_CONFIG, loadConfig } from '../config/index.js';
import { quote } from '../errors/index.js';
import { CliFailure, MAX_DOWNLOAD_BYTES, describeFetchError, readBounded, readJson } from './answer.js';

export { CliFailure };

/** sysexits EX_UNAVAILABLE: the service cannot be reached. */
export const EXIT_UNAVAILABLE = 69;

export interface ApiFlags {
  url?: string;
  config?: string;
}

export interface ApiAnswer {
  status: number;
  json: unknown;
}

export class ApiClient {
  readonly base: string;
  readonly #token: string;

  private constructor(base: string, token: string) {
    this.base = base;
    this.#token = token;
  }

  static async connect(flags: ApiFlags, env: NodeJS.ProcessEnv): Promise<ApiClient> {
    let config;
    try {
      ({ config } = await loadConfig({ ...(flags.config === undefined ? {} : { file: flags.config }), env }));
    } catch (error) {
      if (error instanceof ConfigError || error instanceof ConfigNotFoundError) {
        throw new CliFailure(`invalid configuration\n${error.message}`, EXIT_CONFIG);
      }
      throw error;
    }
    let base = flags.url;
    if (base === undefined) {
      let host = config.http.host;
      if (host === '0.0.0.0') host = '127.0.0.1';
      if (host === '::' || host === '[::]') host = '::1';
      if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
      base = `http://${host}:${config.http.port}`;
    }
    try {
      new URL(base);
    } catch {
      throw new CliFailure(`--url: not a URL: ${quote(base)}`, EXIT_CONFIG);
    }
    return new ApiClient(base, config.http.token.trim());
  }

  /** Calls the API; JSON in and out. Throws CliFailure when the service cannot be reached. */
  async call(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<ApiAnswer> {
    const response = await this.#fetch(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      timeoutMs,
    );
    const json = await readJson(response);
    return { status: response.status, json };
  }

  /** Sends raw bytes as a JSON body (an upload). */
  async send(method: string, path: string, bytes: Uint8Array, timeoutMs = 120_000): Promise<ApiAnswer> {
    const response = await this.#fetch(method, path, bytes, timeoutMs);
    const json = await readJson(response);
    return { status: response.status, json };
  }

  /** Reads raw bytes (a download); throws CliFailure on an error answer. */
  async bytes(path: string, timeoutMs = 120_000): Promise<Uint8Array> {
    const response = await this.#fetch('GET', path, undefined, timeoutMs);
    if (!response.ok) {
      const json = await readJson(response);
      throw new CliFailure(errorLine(path, response.status, json), 1);
    }
    return readBounded(response, MAX_DOWNLOAD_BYTES);
  }

  async #fetch(
    method: string,
    path: string,
    body: string | Uint8Array | undefined,
    timeoutMs: number,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    // Every state change says it is JSON, with a body or without (the API refuses anything else).
    if (method !== 'GET') headers['content-type'] = 'application/json';
    if (this.#token !== '') headers['authorization'] = `Bearer ${this.#token}`;
    try {
      return await fetch(new URL(path, this.base), {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new CliFailure(
        `cannot reach the service at ${quote(this.base)}: ${quote(describeFetchError(error))}`,
        EXIT_UNAVAILABLE,
      );
    }
  }
}

/** One line for an error answer: the path, the status, the code and message (quoted: the service's text). */
export function errorLine(path: string, status: number, json: unknown): string {
  const apiError = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof apiError?.code === 'string' ? quote(apiError.code) : '';
  const message = typeof apiError?.message === 'string' ? quote(apiError.message, 400) : '';
  return `${quote(path)} answered ${status}: ${code} ${message}`.trimEnd();
}
