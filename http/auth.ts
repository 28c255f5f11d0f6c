/**
 * Who may do what. Reads (health, readiness, status, tree, events) are open:
 * probes and dashboards carry no token, and nothing they return is a secret.
 * Mutating routes need `Authorization: Bearer <http.token>` when a token is
 * configured. Listening beyond loopback without a token is refused outright,
 * since it would hand reconnect, restarts and raw commands to the network.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ExposedWithoutTokenError, UnauthorizedError } from './errors.js';

/** 127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

/** Throws ExposedWithoutTokenError for a non-loopback host with an empty token. */
export function assertNotExposed(http: { host: string; token: string }): void {
  if (!isLoopback(http.host) && http.token === '') throw new ExposedWithoutTokenError(http.host);
}

/** Throws UnauthorizedError unless the request carries the token (always passes when none is configured). */
export function authorize(request: IncomingMessage, token: string): void {
  if (token === '') return;
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match?.[1] === undefined) throw new UnauthorizedError('missing');
  // Hash both sides first: timingSafeEqual needs equal lengths, and the length must not leak either.
  if (!timingSafeEqual(digest(match[1]), digest(token))) throw new UnauthorizedError('wrong');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
