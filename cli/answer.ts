/**
 * Reading the service's answers within bounds, and the failure a command
 * reports in one line. Whatever listens on the port may not be the service;
 * its answer must not fill the operator's memory.
 */
import { quote } from '../errors/index.js';
import { DEFAULT_MAX_BACKUP_BYTES } from '../tasks/backup/format.js';

/**
 * The most the CLI reads of one answer. A JSON answer (status, tree, task and block lists) is far below 16 MiB; a
 * download (a backup file) is bounded by the service's own limit for them.
 */
export const MAX_JSON_ANSWER_BYTES = 16 * 1024 * 1024;
export const MAX_DOWNLOAD_BYTES = DEFAULT_MAX_BACKUP_BYTES;

/** The body of an answer, up to `maxBytes`; beyond, the rest is not read and CliFailure says so. */
export async function readBounded(response: Response, maxBytes: number): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (reader === undefined) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new CliFailure(`the answer from ${quote(response.url)} is larger than ${maxBytes} bytes`, 1);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The answer as JSON (null when it is not JSON), read within MAX_JSON_ANSWER_BYTES. */
export async function readJson(response: Response): Promise<unknown> {
  const bytes = await readBounded(response, MAX_JSON_ANSWER_BYTES);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return null;
  }
}

/** What a failed fetch says in one word where it can (ECONNREFUSED, ...), else its message. */
export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code !== undefined) return cause.code;
  return error instanceof Error ? error.message : String(error);
}

/** An answer read as JSON (`json` is null when it is not JSON). */
export interface JsonAnswer {
  status: number;
  ok: boolean;
  json: unknown;
}

/**
 * Fetches `url` and reads its answer as JSON within the bound. Throws
 * CliFailure (with `exitCode`) when the service at `base` cannot be reached,
 * and when the answer is larger than the bound.
 */
export async function fetchJson(
  url: URL,
  init: RequestInit,
  base: string,
  exitCode: number,
): Promise<JsonAnswer> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new CliFailure(
      `cannot reach the service at ${quote(base)}: ${quote(describeFetchError(error))}`,
      exitCode,
    );
  }
  return { status: response.status, ok: response.ok, json: await readJson(response) };
}

/** A failure the command reports with one line and ends with `code`. */
export class CliFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}
