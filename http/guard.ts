/**
 * What keeps web pages out of the API, checked on every request before it
 * is routed (see docs/http-api.md, "Web pages"):
 *
 * - The Host check, against DNS rebinding. A page at evil.example can point
 *   its own name at 127.0.0.1 and then talk to this port as if it were its
 *   own origin; its requests still say `Host: evil.example`. Only hosts this
 *   API can legitimately be called by are answered; anything else is 421.
 * - The Origin check, against cross-site requests. Browsers name the page
 *   that sends a request in `Origin` (for every POST and PUT, and for every
 *   cross-origin fetch); a request from a page of another origin is 403.
 *
 * Requests without an Origin (curl, scripts, the CLI, probes) pass the
 * second check: they are not sent by a page. State changes must also be
 * JSON (body.ts), which no page can send across origins without a CORS
 * preflight, and the API answers no preflight: there is no CORS at all.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { isLoopback, isWildcard, unbracket } from '../config/index.js';
import { HostNotAllowedError, OriginNotAllowedError } from './errors.js';

export interface GuardOptions {
  /** `http.host` as configured (an address or a name). */
  configuredHost: string;
  /** The address the server is bound to, as `server.address()` gives it. */
  boundAddress: string;
  /** `http.allowedHosts`: names, `.domain` for a domain and its subdomains, or addresses. */
  allowedHosts: readonly string[];
}

/** A host as a request names it: lower case, IPv6 without brackets, no trailing dot. */
export interface NamedHost {
  hostname: string;
  /** `hostname[:port]` as it would be written in a URL (IPv6 in brackets), for comparing whole hosts. */
  host: string;
  /** 4 or 6 for an address, 0 for a name. */
  ip: number;
}

export class RequestGuard {
  readonly #configured: NamedHost | undefined;
  readonly #bound: NamedHost | undefined;
  readonly #wildcard: boolean;
  readonly #names = new Set<string>();
  readonly #domains: string[] = [];

  constructor(options: GuardOptions) {
    this.#configured = parseHost(bracketed(options.configuredHost));
    this.#bound = parseHost(bracketed(options.boundAddress));
    this.#wildcard = isWildcard(options.boundAddress) || isWildcard(options.configuredHost);
    for (const entry of options.allowedHosts) {
      const domain = entry.startsWith('.');
      const parsed = parseHost(bracketed(domain ? entry.slice(1) : entry));
      if (parsed === undefined) continue;
      if (domain) this.#domains.push(parsed.hostname);
      else this.#names.add(parsed.hostname);
    }
  }

  /** Throws HostNotAllowedError or OriginNotAllowedError; returns when the request may be routed. */
  check(request: IncomingMessage): void {
    const host = this.#checkHost(request);
    this.#checkOrigin(request, host);
  }

  /** The host the request is addressed to, when it is one this API answers to. */
  #checkHost(request: IncomingMessage): NamedHost | undefined {
    // An absolute-form target (`GET http://name/path`) names the host itself, and Host is then
    // ignored (RFC 9112, section 3.2.2): check the name that would be used.
    const absolute = authorityOf(request.url ?? '');
    const raw = absolute ?? request.headers.host;
    if (raw === undefined || raw === '') {
      // HTTP/1.0 has no Host; browsers always send one, so its absence is no page's doing.
      // (Node itself answers an HTTP/1.1 request without Host with 400.)
      if (request.httpVersion === '1.0' && absolute === undefined) return undefined;
      throw new HostNotAllowedError(undefined);
    }
    const host = parseHost(raw);
    if (host === undefined || !this.#allows(host, { anyAddress: this.#wildcard })) {
      throw new HostNotAllowedError(raw);
    }
    return host;
  }

  #checkOrigin(request: IncomingMessage, requested: NamedHost | undefined): void {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    const page = originHost(origin);
    // "null" (a sandboxed frame, a file, a redirect across origins) and other schemes parse to nothing.
    if (page === undefined) throw new OriginNotAllowedError(origin);
    // A page of the very host:port the request is addressed to is same-origin (a proxy in front).
    if (requested !== undefined && page.host === requested.host) return;
    // Under a wildcard any address is a valid Host (an address cannot be rebound), but not any page.
    if (this.#allows(page, { anyAddress: false })) return;
    throw new OriginNotAllowedError(origin);
  }

  #allows(host: NamedHost, { anyAddress }: { anyAddress: boolean }): boolean {
    const { hostname } = host;
    if (hostname === this.#bound?.hostname || hostname === this.#configured?.hostname) return true;
    if (this.#names.has(hostname)) return true;
    if (this.#domains.some((domain) => hostname === domain || hostname.endsWith(`.${domain}`))) return true;
    if (host.ip !== 0) return isLoopback(hostname) || anyAddress;
    // RFC 6761: localhost and every name under it are loopback, and browsers resolve them so.
    return hostname === 'localhost' || hostname.endsWith('.localhost');
  }
}

/** `::1` -> `[::1]`, so an address from configuration parses as a Host header would. */
function bracketed(host: string): string {
  return isIP(unbracket(host)) === 6 ? `[${unbracket(host)}]` : host;
}

/** Visible ASCII only, and none of what would make a URL of more than a host: userinfo, path, query. */
const HOST_TEXT = /^[\x21-\x7e]+$/;
const NOT_IN_HOST = /[@/\\?#]/;

/**
 * A Host header (or an authority) read as a browser writes one: through the
 * WHATWG URL parser, so `LOCALHOST`, `127.1` and `[0:0::1]` are what they
 * mean, and anything that is not a host and an optional port is undefined.
 */
export function parseHost(text: string): NamedHost | undefined {
  if (!HOST_TEXT.test(text) || NOT_IN_HOST.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${text}/`);
  } catch {
    return undefined;
  }
  let hostname = url.hostname;
  if (hostname.startsWith('[')) {
    const bare = hostname.slice(1, -1);
    return { hostname: bare, host: url.host, ip: 6 };
  }
  // `localhost.` is `localhost`: the trailing dot only says the name is fully qualified.
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1);
  if (hostname === '') return undefined;
  return { hostname, host: url.port === '' ? hostname : `${hostname}:${url.port}`, ip: isIP(hostname) };
}

/** The host of an Origin header, or undefined for "null", another scheme or nonsense. */
function originHost(origin: string): NamedHost | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return parseHost(url.host);
}

/** The authority of an absolute-form request target (`http://host:port/path`), else undefined. */
function authorityOf(target: string): string | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(target);
  if (scheme === null) return undefined;
  const rest = target.slice(scheme[0].length);
  const end = rest.search(/[/?#]/);
  return end < 0 ? rest : rest.slice(0, end);
}
