/**
 * The bridge's listing over HTTP: read-only JSON, GET (and HEAD) only,
 * loopback by default.
 *
 *   GET /              the controllers and the bridge's counters
 *   GET /controllers   the controllers only
 *   GET /health        200 {"ok": true}
 *
 * Safe against web pages although nothing here changes state: a request
 * whose Host is not the address the bridge listens on (or a loopback name
 * when it listens on loopback) is refused, so a DNS-rebinding page cannot
 * read the listing through a name it controls, and a request carrying an
 * Origin from elsewhere is refused too. No CORS headers are sent.
 *
 * (The service's HTTP API is getting its own Host and Origin checks in
 * http/ at the time of writing; the bridge sits below http/ in the layers,
 * so it has this small one. When that lands, one shared helper should serve
 * both.)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { ErrorCode } from '../errors/index.js';
import type { ActorLogger } from '../runtime/actor.js';
import type { UsbBridge } from './bridge.js';

export interface BridgeHttpOptions {
  host: string;
  port: number;
  log: ActorLogger;
}

export interface BridgeHttp {
  readonly address: { host: string; port: number; url: string };
  close(): Promise<void>;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

export async function startBridgeHttp(bridge: UsbBridge, options: BridgeHttpOptions): Promise<BridgeHttp> {
  const startedAt = Date.now();
  const server = createServer((request, response) => {
    try {
      answer(request, response);
    } catch {
      response.destroy();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;

  function answer(request: IncomingMessage, response: ServerResponse): void {
    const method = request.method ?? 'GET';
    const path = new URL(request.url ?? '/', 'http://bridge').pathname;
    if (!hostAllowed(request.headers.host, options.host)) {
      return send(
        response,
        421,
        error('TETHER_BRIDGE_HOST_REJECTED', 'the Host header names another server'),
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !originAllowed(origin, options.host)) {
      return send(
        response,
        403,
        error('TETHER_BRIDGE_HOST_REJECTED', 'requests from another origin are refused'),
      );
    }
    const routes: Record<string, () => unknown> = {
      '/': () => ({
        controllers: bridge.list(),
        counters: bridge.counters,
        uptimeMs: Date.now() - startedAt,
      }),
      '/controllers': () => bridge.list(),
      '/health': () => ({ ok: true }),
    };
    const route = routes[path];
    if (route === undefined)
      return send(response, 404, error('TETHER_HTTP_NOT_FOUND', `no route for ${path}`));
    if (method !== 'GET' && method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return send(
        response,
        405,
        error('TETHER_HTTP_METHOD_NOT_ALLOWED', `${method} is not allowed: this listing is read-only`),
      );
    }
    send(response, 200, route(), method === 'HEAD');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => options.log.warn('bridge: HTTP server error', { error: e.message }));
  const bound = server.address() as AddressInfo;
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const address = { host: bound.address, port: bound.port, url: `http://${urlHost}:${bound.port}` };
  let closing: Promise<void> | undefined;
  return {
    address,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function send(response: ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  response.end(headOnly ? undefined : text);
}

function error(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

/** The host part of a Host header (`name:port`, `[v6]:port`), lower case. */
function hostPart(header: string): string {
  const text = header.trim().toLowerCase();
  if (text.startsWith('[')) return text.slice(1, text.indexOf(']') === -1 ? undefined : text.indexOf(']'));
  const colon = text.lastIndexOf(':');
  return colon === -1 ? text : text.slice(0, colon);
}

/**
 * The names this server answers to: the address it listens on, and the
 * loopback names when that is loopback or the wildcard (a wildcard server is
 * reached by any of its addresses, so any IP literal is accepted then; names
 * other than localhost are not, which is what stops DNS rebinding).
 */
export function hostAllowed(header: string | undefined, listenHost: string): boolean {
  if (header === undefined || header === '') return false;
  const host = hostPart(header);
  const listen = listenHost.toLowerCase();
  if (host === listen) return true;
  const wildcard = listen === '0.0.0.0' || listen === '::';
  const loopbackListen = LOOPBACK_NAMES.has(listen) || listen.startsWith('127.');
  if (LOOPBACK_NAMES.has(host) || host.startsWith('127.')) return loopbackListen || wildcard;
  return wildcard && isIP(host) !== 0;
}

function originAllowed(origin: string, listenHost: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return hostAllowed(url.host, listenHost);
}
