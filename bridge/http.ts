/**
 * The bridge's listing over HTTP: read-only JSON, GET (and HEAD) only,
 * loopback by default.
 *
 *   GET /              the controllers and the bridge's counters
 *   GET /controllers   the controllers only
 *   GET /health        200 {"ok": true}
 *
 * Safe against web pages although nothing here changes state: the same
 * Host and Origin checks as the service's API (http/guard.ts), so a
 * DNS-rebinding page cannot read the listing through a name it controls,
 * and a page of another origin is refused. No CORS headers are sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TetherError, type ErrorCode } from '../errors/index.js';
import { RequestGuard } from '../http/guard.js';
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

export async function startBridgeHttp(bridge: UsbBridge, options: BridgeHttpOptions): Promise<BridgeHttp> {
  const startedAt = Date.now();
  // Before the server exists, so no request is ever answered unchecked.
  const guard = new RequestGuard({
    configuredHost: options.host,
    boundAddress: options.host,
    allowedHosts: [],
  });
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
    try {
      guard.check(request);
    } catch (refusal) {
      if (!TetherError.is(refusal)) throw refusal;
      const status = refusal.code === 'TETHER_HTTP_HOST_NOT_ALLOWED' ? 421 : 403;
      return send(response, status, error(refusal.code, refusal.message));
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
