/**
 * Secrets in the configuration, and their redaction for anything that shows
 * it (`tether config print`): a terminal's scroll-back, a pasted bug report
 * or a CI log must not carry the API token or the broker's password.
 */
import type { TetherConfig } from './schema.js';

/** What a redacted value reads as: plainly not a working value. */
export const REDACTED = '<redacted>';

/**
 * A copy of the configuration with every secret (http.token, mqtt.password, the
 * password in mqtt.url) replaced by REDACTED; an empty one stays visible as such.
 */
export function redactSecrets(config: TetherConfig): TetherConfig {
  const copy = structuredClone(config);
  if (copy.http.token !== '') copy.http.token = REDACTED;
  if (copy.mqtt.password !== '') copy.mqtt.password = REDACTED;
  copy.mqtt.url = redactUrlPassword(copy.mqtt.url);
  return copy;
}

/** `mqtt://user:secret@host` as `mqtt://user:<redacted>@host`; anything else as it is. */
export function redactUrlPassword(url: string): string {
  if (url === '' || !URL.canParse(url)) return url;
  const parsed = new URL(url);
  if (parsed.password === '') return url;
  // URL would percent-encode the marker, so the password is cut out of the text instead: it runs
  // from the first ':' of the user info (a password may hold more) to the first '@' (it cannot hold one).
  const userInfo = url.indexOf('//') + 2;
  const at = url.indexOf('@', userInfo);
  const colon = url.indexOf(':', userInfo);
  return at < 0 || colon < 0 || colon > at ? url : `${url.slice(0, colon + 1)}${REDACTED}${url.slice(at)}`;
}
