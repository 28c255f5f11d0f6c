/**
 * The HTTP API's server: `node:http`, no framework. It turns web pages
 * away (guard.ts: Host and Origin, before routing; JSON-only state changes),
 * dispatches to the routes, answers every error as JSON, publishes phase and supervision
 * events to the event streams, and shuts down in two steps:
 *
 * - `drain()`: the service is stopping. Mutating routes answer 503
 *   TETHER_SHUTTING_DOWN; reads keep answering (health says 503 once the
 *   tree stops) and commands already in flight settle through the commander.
 * - `close()`: ends every event stream, waits a moment for answers still
 *   being written, then cuts what is left. It also runs by itself once the
 *   service has exited, so nothing here outlives the service.
 */
import { STATUS_CODES, createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TetherConfig } from '../config/index.js';
import type { Service } from '../kernel/service.js';
import type { Logger } from '../runtime/index.js';
import type { TetherError } from '../errors/index.js';
import { serializeError } from '../runtime/index.js';
import { assertNotExposed, authorize } from './auth.js';
import { requireJson } from './body.js';
import {
  BadRequestError,
  HeadersTooLargeError,
  MethodNotAllowedError,
  RequestTimeoutError,
  RouteNotFoundError,
  ShuttingDownError,
  toHttpError,
} from './errors.js';
import { RequestGuard } from './guard.js';
import { matchRoute } from './routes.js';
import type { Reply } from './routes.js';
import { SseHub } from './sse.js';
import type { SseOptions } from './sse.js';
import { componentChangeView, supervisionView, transitionView } from './views.js';
import { communicationOf } from '../contracts/component.js';
import type { CommunicationState } from '../contracts/component.js';
import { lifecycleTransitionJson } from '../kernel/views.js';

export interface HttpApiOptions {
  /** When the service started, for uptime (default: now). */
  startedAt?: number;
  sse?: SseOptions;
  /** How long close() lets answers in progress finish before cutting connections (default 2 s). */
  closeGraceMs?: number;
}

export interface HttpApi {
  /** Where it listens; `port` is the real one when 0 was asked for. */
  readonly address: { host: string; port: number; url: string };
  /** Stop taking commands and operator actions (503 TETHER_SHUTTING_DOWN); reads still answer. */
  drain(): void;
  /** Ends every stream and connection; resolves when the server is closed. Idempotent. */
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 2000;

/**
 * Starts listening on `http.host:http.port`. Rejects with
 * ExposedWithoutTokenError for a non-loopback host without a token, and
 * with the listen error (EADDRINUSE, ...) when the port cannot be had.
 */
export async function startHttpApi(
  service: Service,
  http: TetherConfig['http'],
  logger: Logger,
  options: HttpApiOptions = {},
): Promise<HttpApi> {
  assertNotExposed(http);
  const startedAt = options.startedAt ?? Date.now();
  const sse = new SseHub(options.sse);
  let draining = false;
  let closing: Promise<void> | undefined;
  /** Requests being answered (streams excluded), so close() can let them finish. */
  let active = 0;
  let onIdle: (() => void) | undefined;

  let guard: RequestGuard | undefined;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const began = performance.now();
    const method = request.method ?? 'GET';
    const path = pathOf(request.url ?? '/');
    let streaming = false;
    let controllerStatuses = false;
    let reply: Reply;
    try {
      // Before anything else, routing included: a page has no business here whatever it asks for.
      guard ??= new RequestGuard({
        configuredHost: http.host,
        boundAddress: (server.address() as AddressInfo).address,
        allowedHosts: http.allowedHosts,
      });
      guard.check(request);
      const match = matchRoute(method, path, http.drills);
      if (match.kind === 'none') throw new RouteNotFoundError(method, path);
      if (match.kind === 'wrong-method') {
        response.setHeader('allow', match.allowed.join(', '));
        throw new MethodNotAllowedError(method, path, match.allowed);
      }
      const { route, params } = match;
      controllerStatuses = route.controllerStatuses === true;
      if (route.mutating) {
        authorize(request, http.token);
        requireJson(request);
        if (draining || service.root.state !== 'running') throw new ShuttingDownError();
      }
      const answer = await route.handle({ service, http, sse, startedAt, request, response, params });
      if (answer === undefined) {
        streaming = true;
        return;
      }
      reply = answer;
    } catch (error) {
      const mapped = toHttpError(error, { controllerStatuses });
      reply = mapped;
      if (mapped.status === 401) response.setHeader('www-authenticate', 'Bearer realm="tether"');
      if (mapped.status >= 500 && mapped.body.error.code === 'TETHER_INTERNAL') {
        logger.error({ err: serializeError(error), method, path }, 'HTTP API: unexpected error');
      }
    } finally {
      if (!streaming) logRequest();
    }
    send(response, reply, draining);

    function logRequest(): void {
      logger.debug(
        { event: 'http-request', method, path, durationMs: Math.round(performance.now() - began) },
        `${method} ${path}`,
      );
    }
  };

  // requireHostHeader off: Node would answer an HTTP/1.1 request without Host with a bare 400 of its
  // own; the guard refuses it as it refuses any host it does not know (421, with a code).
  const server = createServer({ requireHostHeader: false }, (request, response) => {
    active += 1;
    response.once('close', () => {
      active -= 1;
      if (active === 0) onIdle?.();
    });
    void handle(request, response).catch((error: unknown) => {
      // send() itself failed (the client went away): nothing left to answer.
      logger.debug({ err: serializeError(error) }, 'HTTP API: could not answer');
      response.destroy();
    });
  });
  // Requests hold no state worth a slow client; streams are exempt (their sockets stay open by design).
  server.headersTimeout = 10_000;
  // What the parser refuses never reaches a route: answered here, as JSON with a code like every error.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) =>
    answerClientError(error, socket as Socket),
  );
  // CONNECT is no method of this API; unanswered, Node would just close the connection.
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    const path = request.url ?? '';
    const match = matchRoute('GET', pathOf(path), http.drills);
    const allowed = match.kind === 'found' ? ['GET'] : match.kind === 'wrong-method' ? match.allowed : [];
    answerRaw(socket as Socket, new MethodNotAllowedError('CONNECT', path, allowed));
  });

  const unsubscribe = [
    service.kernel.onPhaseChange((change) => sse.publish('phase', transitionView(change))),
    service.root.events.subscribe((event) => sse.publish('supervision', supervisionView(event))),
    watchAutoconnecting(service, (enabled) => sse.publish('autoconnecting', { autoconnecting: enabled })),
    watchCommunication(service, (state) => sse.publish('communication', { communication: state })),
    service.kernel.onComponentChange((change) => sse.publish('component', componentChangeView(change))),
    service.tasks.tracker.subscribe((event) => sse.publish('task', event)),
    service.lifecycle.onTransition((transition) =>
      sse.publish('lifecycle', lifecycleTransitionJson(transition)),
    ),
  ];

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(http.port, http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: serializeError(error) }, 'HTTP API server error'));
  const bound = server.address() as AddressInfo;
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const address = { host: bound.address, port: bound.port, url: `http://${urlHost}:${bound.port}` };
  logger.info(
    { event: 'http-listening', host: address.host, port: address.port, url: address.url },
    `HTTP API on ${address.url}`,
  );

  const api: HttpApi = {
    address,
    drain() {
      draining = true;
    },
    close() {
      closing ??= (async () => {
        draining = true;
        for (const off of unsubscribe) off();
        // Streams first: they never end by themselves, and the server's close waits for every connection.
        sse.closeAll();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (active > 0) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            onIdle = resolve;
            timer = setTimeout(resolve, options.closeGraceMs ?? CLOSE_GRACE_MS);
          });
          clearTimeout(timer);
        }
        server.closeAllConnections();
        await closed;
        logger.debug({ event: 'http-closed' }, 'HTTP API closed');
      })();
      return closing;
    },
  };
  // Whatever stops the service (a signal, rediscovery, the tree giving up), the API goes with it.
  void service.exited.then(() => api.close());
  return api;
}

/**
 * A request Node's parser refused (or that timed out before its head was
 * in): Node would answer a bare `400 Bad Request` with no body; this API
 * answers every error as JSON with a code, so it writes its own, then
 * closes (the connection's framing cannot be trusted after a parse error).
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // The client went away, or an answer is already under way: nothing to say.
  if (error.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  answerRaw(
    socket,
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLargeError()
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeoutError()
        : new BadRequestError(error.code ?? 'unknown'),
  );
}

/** An error answer written straight to the socket (no ServerResponse exists), then the connection closed. */
function answerRaw(socket: Socket, error: TetherError): void {
  const { status, body } = toHttpError(error);
  const text = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(text)}`,
    'cache-control: no-store',
    'x-content-type-options: nosniff',
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${text}`, () => socket.destroy());
}

function send(response: ServerResponse, reply: Reply, closeAfter: boolean): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const payload = reply.raw?.bytes ?? JSON.stringify(reply.body);
  response.writeHead(reply.status, {
    ...reply.headers,
    'content-type': reply.raw?.contentType ?? 'application/json; charset=utf-8',
    'content-length': typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength,
    'cache-control': 'no-store',
    // JSON is never a script or a page, whatever a browser might guess.
    'x-content-type-options': 'nosniff',
    // While stopping, do not invite the client to reuse a connection about to go.
    ...(closeAfter ? { connection: 'close' } : {}),
  });
  response.end(payload);
}

/**
 * The path of a request target: origin-form (`/api/status?x`) as written,
 * so `//x/api/status` is not `/api/status`; absolute-form
 * (`http://host/api/status`, whose host the guard has checked) by its path.
 */
function pathOf(target: string): string {
  try {
    return target.startsWith('/') ? new URL(`http://localhost${target}`).pathname : new URL(target).pathname;
  } catch {
    return target;
  }
}

/** Calls `listener` when the communication state (derived from phase and autoconnecting) changes. */
function watchCommunication(service: Service, listener: (state: CommunicationState) => void): () => void {
  let last = communicationOf(service.kernel.state);
  return service.kernel.onState((state) => {
    const now = communicationOf(state);
    if (now === last) return;
    last = now;
    listener(now);
  });
}

/** Calls `listener` when autoconnecting changes (the kernel's state stream also fires on phase changes). */
function watchAutoconnecting(service: Service, listener: (enabled: boolean) => void): () => void {
  let last = service.kernel.state.autoconnecting;
  return service.kernel.onState((state) => {
    if (state.autoconnecting === last) return;
    last = state.autoconnecting;
    listener(last);
  });
}
