/**
 * Who may do what. Reads (health, readiness, status, tree, events) are open:
 * probes and dashboards carry no token, and nothing they return is a secret.
 * Mutating routes need `Authorization: Bearer <http.token>` when a token is
 * configured. Listening beyond loopback without a token is refused outright,
 * since it would hand reconnect, restarts and raw commands to the network.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hasToken, isLoopback } from '../config/index.js';
import { ExposedWithoutTokenError, UnauthorizedError } from './errors.js';

export { isLoopback };

/** Throws ExposedWithoutTokenError for a non-loopback host without a token (a blank one is none). */
export function assertNotExposed(http: { host: string; token: string }): void {
  if (!isLoopback(http.host) && !hasToken(http.token)) throw new ExposedWithoutTokenError(http.host);
}

/** Throws UnauthorizedError unless the request carries the token (always passes when none is configured). */
export function authorize(request: IncomingMessage, token: string): void {
  if (!hasToken(token)) return;
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match?.[1] === undefined) throw new UnauthorizedError('missing');
  // Hash both sides first: timingSafeEqual needs equal lengths, and the length must not leak either.
  if (!timingSafeEqual(digest(match[1]), digest(token))) throw new UnauthorizedError('wrong');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
