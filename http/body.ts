/**
 * Request bodies: bounded in size and depth, JSON only, then checked
 * against the route's zod schema. A body is never buffered past the limit: a declared
 * Content-Length over it is refused before reading, and a stream that grows
 * past it is cut off.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { BadRequestError, BodyTooLargeError, InvalidBodyError, UnsupportedMediaTypeError } from './errors.js';

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
    // The client went away mid-body (Node says "aborted"): its request, not a fault of ours.
    const onError = (error: NodeJS.ErrnoException): void =>
      finish(new BadRequestError(error.code ?? 'aborted', 'the request body was cut short'));
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
  });
}

/**
 * Throws UnsupportedMediaTypeError unless the request says
 * `Content-Type: application/json` (any case, parameters allowed, a charset
 * only if it is UTF-8), whether it has a body or not. A web page can send
 * a form or text to any address without asking (no CORS preflight); it
 * cannot send JSON to another origin without one, and this API answers none.
 */
export function requireJson(request: IncomingMessage): void {
  const header = request.headers['content-type'] ?? '';
  const [essence = '', ...parameters] = header.split(';');
  if (essence.trim().toLowerCase() !== 'application/json') throw new UnsupportedMediaTypeError(header);
  for (const parameter of parameters) {
    const at = parameter.indexOf('=');
    const name = parameter.slice(0, Math.max(at, 0)).trim().toLowerCase();
    const value = parameter
      .slice(at + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    // JSON is UTF-8 (RFC 8259) and is read as such: a body said to be anything else is refused.
    if (name === 'charset' && value !== 'utf-8' && value !== 'utf8')
      throw new UnsupportedMediaTypeError(header);
  }
}

/**
 * Deeper than any body a route takes (a command's payload is a block's data,
 * a few levels deep). Checked before the schema: a body nested thousands
 * deep (16 KiB allow 8,000 levels) would otherwise overflow the stack of
 * whatever walks it next, and be a 500 instead of a 400.
 */
export const MAX_BODY_DEPTH = 64;

/** True when `value` nests arrays or objects deeper than `limit`; walks without recursion. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { node, depth } = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > limit) return true;
    for (const inner of Object.values(node)) stack.push({ node: inner, depth: depth + 1 });
  }
  return false;
}

/**
 * The body parsed as JSON and checked by `schema`. The Content-Type must be
 * JSON even for an empty body (see requireJson); an empty body then counts
 * as `{}`, so routes whose fields are all optional need none.
 */
export async function readJson<S extends z.ZodType>(
  request: IncomingMessage,
  schema: S,
  limitBytes = MAX_BODY_BYTES,
): Promise<z.output<S>> {
  requireJson(request);
  const raw = await readBody(request, limitBytes);
  let value: unknown = {};
  if (raw.length > 0) {
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new InvalidBodyError(`not JSON (${(error as Error).message})`);
    }
    if (nestedDeeperThan(value, MAX_BODY_DEPTH)) {
      throw new InvalidBodyError(`nested deeper than ${MAX_BODY_DEPTH} levels`);
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
