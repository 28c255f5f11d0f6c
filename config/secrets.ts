/**
 * Secrets in the configuration, and their redaction for anything that shows
 * it (`tether config print`): a terminal's scroll-back, a pasted bug report
 * or a CI log must not carry the API token or the broker's password.
 */
import type { TetherConfig } from './schema.js';

/** What a redacted value reads as: plainly not a working value. */
export const REDACTED = '<redacted>';

/** Settings that are secrets whole (an empty value is no secret and stays visible as such). */
export const SECRET_SETTINGS = ['http.token', 'mqtt.password'] as const;

/** A copy of the configuration with every secret replaced by REDACTED, a URL's password included. */
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
  // URL would percent-encode the marker, so the password is cut out of the text instead.
  const at = url.indexOf('@');
  const colon = url.lastIndexOf(':', at);
  return at < 0 || colon < 0 ? url : `${url.slice(0, colon + 1)}${REDACTED}${url.slice(at)}`;
}
