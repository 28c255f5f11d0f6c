/**
 * The token, over MQTT. When the HTTP API requires one (http.token), a
 * request on a command topic carries it as its `token` user property, as an
 * HTTP request carries `Authorization: Bearer`. A group's life-cycle message
 * is retained where every member (and whoever may read the topic) sees it,
 * so it never carries the token itself: its `sig` user property is an
 * HMAC-SHA256 of the payload keyed with the token, which only holders of the
 * token can make. Members of one group therefore share their token.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type TokenCheck = 'ok' | 'missing' | 'wrong';

/** A user property's value as mqtt.js gives it: a string, or several for a repeated key. */
export type UserPropertyValue = string | string[] | undefined;

export function checkToken(given: UserPropertyValue, token: string): TokenCheck {
  if (token === '') return 'ok';
  if (given === undefined) return 'missing';
  // A repeated key is ambiguous: refuse it rather than pick one.
  if (typeof given !== 'string') return 'wrong';
  // Hash both sides first: timingSafeEqual needs equal lengths, and the length must not leak either.
  return timingSafeEqual(digest(given), digest(token)) ? 'ok' : 'wrong';
}

export function groupSignature(token: string, payload: Buffer): string {
  return createHmac('sha256', token).update(payload).digest('hex');
}

/** True when no token is configured, or `sig` is the payload's signature under it. */
export function checkGroupSignature(sig: UserPropertyValue, token: string, payload: Buffer): boolean {
  if (token === '') return true;
  if (typeof sig !== 'string') return false;
  return timingSafeEqual(digest(sig), digest(groupSignature(token, payload)));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
