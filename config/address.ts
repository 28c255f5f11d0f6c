/**
 * Network addresses as the configuration and the command line write them:
 * which hosts are loopback (the HTTP API may listen there without a token),
 * which are wildcards, how a host name listed in `http.allowedHosts` is
 * written, and `host[:port]` with IPv6 literals in brackets (`[::1]:8332`).
 */
import { isIP } from 'node:net';

/** `host` without the brackets of an IPv6 literal (`[::1]` -> `::1`). */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`: addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = unbracket(host).toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/** `0.0.0.0` or `::`: listening on every address of the machine. */
export function isWildcard(host: string): boolean {
  const bare = unbracket(host);
  return bare === '0.0.0.0' || (isIP(bare) === 6 && /^[0:]+$/.test(bare));
}

/** A DNS name (labels of letters, digits, `-`, `_`), optionally with a leading dot: "this domain and below". */
const HOST_NAME = /^\.?[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?$/i;

/** True for what `http.allowedHosts` takes: a host name, `.domain` for it and its subdomains, or an IP address. */
export function isAllowedHostEntry(entry: string): boolean {
  if (isIP(unbracket(entry)) !== 0) return true;
  return entry.length <= 253 && HOST_NAME.test(entry);
}

export type HostPort = { host: string; port?: number } | { error: string };

/**
 * `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 literal (`::1`,
 * which has no room for a port). The host comes back without brackets, as
 * `net.connect` takes it; the port is checked to be a number (its range is
 * the schema's business).
 */
export function parseHostPort(text: string): HostPort {
  let host: string;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return { error: 'an IPv6 address opened with "[" has no "]"' };
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return { error: 'expected ":port" after the "]" of an IPv6 address' };
      port = rest.slice(1);
    }
    if (isIP(host) !== 6) return { error: 'expected an IPv6 address between "[" and "]"' };
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) {
      if (isIP(text) !== 6) return { error: 'expected host[:port]; write an IPv6 address as [::1]:8332' };
      host = text;
    } else if (colons === 1) {
      const at = text.indexOf(':');
      host = text.slice(0, at);
      port = text.slice(at + 1);
    } else {
      host = text;
    }
  }
  if (host === '') return { error: 'expected host[:port], the host is missing' };
  if (port === undefined) return { host };
  if (!/^\d{1,5}$/.test(port)) return { error: 'expected the port to be a number' };
  return { host, port: Number(port) };
}
