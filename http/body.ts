/**
 * Request bodies: bounded in size, JSON only, then checked against the
 * route's zod schema. A body is never buffered past the limit: a declared
 * Content-Length over it is refused before reading, and a stream that grows
 * past it is cut off.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { BodyTooLargeError, InvalidBodyError, UnsupportedMediaTypeError } from './errors.js';

/** A block write is one protocol line (8 KiB at most); twice that leaves room for JSON escaping. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The raw body, at most `limitBytes`; rejects with BodyTooLargeError beyond that. */
export function readBody(request: IncomingMessage, limitBytes = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) {
    // Leave the socket to be closed after the answer: reading a huge body just to drop it helps nobody.
    request.resume();
    return Promise.reject(new BodyTooLargeError(limitBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: Error | undefined): void => {
      if (done) return;
      done = true;
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      if (error === undefined) resolve(Buffer.concat(chunks));
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        request.resume();
        finish(new BodyTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(undefined);
    const onError = (error: Error): void => finish(error);
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
  });
}

/**
 * The body parsed as JSON and checked by `schema`. An empty body counts as
 * `{}` so routes whose fields are all optional need none.
 */
export async function readJson<S extends z.ZodType>(
  request: IncomingMessage,
  schema: S,
  limitBytes = MAX_BODY_BYTES,
): Promise<z.output<S>> {
  const raw = await readBody(request, limitBytes);
  let value: unknown = {};
  if (raw.length > 0) {
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (contentType !== 'application/json') throw new UnsupportedMediaTypeError(contentType);
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new InvalidBodyError(`not JSON (${(error as Error).message})`);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
    }));
    const first = issues[0];
    throw new InvalidBodyError(
      first === undefined ? 'rejected' : `${first.path === '' ? 'body' : first.path}: ${first.message}`,
      issues,
    );
  }
  return parsed.data;
}
