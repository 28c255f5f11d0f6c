/**
 * The HTTP edge's own errors, and the one place where coded domain errors
 * become HTTP statuses. Everything below the edge throws TetherErrors with a
 * literal code and knows nothing of HTTP; every error a client sees is
 * `{"error": {"code", "message", "detail"}}`.
 */
import { TetherError, quote, registerErrorClass } from '../errors/index.js';

/** No route for this path. */
export class RouteNotFoundError extends TetherError {
  declare readonly code: 'TETHER_HTTP_NOT_FOUND';
  constructor(method: string, path: string) {
    // The path is the client's: quoted cut short (a request line may be 16 KiB).
    const shown = quote(path);
    super('TETHER_HTTP_NOT_FOUND', `no route for ${quote(method)} ${shown}`, {
      detail: { method: quote(method), path: shown },
    });
  }
}

/** The path exists, the method does not. */
export class MethodNotAllowedError extends TetherError {
  declare readonly code: 'TETHER_HTTP_METHOD_NOT_ALLOWED';
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(
      'TETHER_HTTP_METHOD_NOT_ALLOWED',
      `${quote(method)} is not allowed on ${quote(path)} (allowed: ${allowed.join(', ')})`,
      {
        detail: { method: quote(method), path: quote(path), allowed: [...allowed] },
      },
    );
  }
}

/** The body is not JSON, or not the shape the route takes. */
export class InvalidBodyError extends TetherError {
  declare readonly code: 'TETHER_HTTP_INVALID_BODY';
  constructor(why: string, issues: ReadonlyArray<{ path: string; message: string }> = []) {
    super('TETHER_HTTP_INVALID_BODY', `invalid request body: ${why}`, { detail: { issues: [...issues] } });
  }
}

/** A state change whose Content-Type is not application/json (UTF-8), an empty body included. */
export class UnsupportedMediaTypeError extends TetherError {
  declare readonly code: 'TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE';
  constructor(contentType: string) {
    const shown = quote(contentType);
    super(
      'TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE',
      `expected "Content-Type: application/json", got ${contentType === '' ? 'none' : `"${shown}"`}`,
      { detail: { contentType: shown } },
    );
  }
}

export class BodyTooLargeError extends TetherError {
  declare readonly code: 'TETHER_HTTP_BODY_TOO_LARGE';
  constructor(limitBytes: number) {
    super('TETHER_HTTP_BODY_TOO_LARGE', `request body exceeds ${limitBytes} bytes`, {
      detail: { limitBytes },
    });
  }
}

/**
 * The Host header names a host this API does not answer to: the mark of a
 * DNS-rebinding page (its own name, pointed at this machine's address).
 */
export class HostNotAllowedError extends TetherError {
  declare readonly code: 'TETHER_HTTP_HOST_NOT_ALLOWED';
  constructor(host: string | undefined) {
    const shown = host === undefined ? undefined : quote(host);
    super(
      'TETHER_HTTP_HOST_NOT_ALLOWED',
      shown === undefined
        ? 'the request names no host (a Host header is required)'
        : `this API does not answer to the host "${shown}" (add it to http.allowedHosts)`,
      { detail: { host: shown ?? null } },
    );
  }
}

/** A request sent by a web page of an origin other than the API's own (or one the configuration allows). */
export class OriginNotAllowedError extends TetherError {
  declare readonly code: 'TETHER_HTTP_ORIGIN_NOT_ALLOWED';
  constructor(origin: string) {
    const shown = quote(origin);
    super('TETHER_HTTP_ORIGIN_NOT_ALLOWED', `requests from web pages at "${shown}" are refused`, {
      detail: { origin: shown },
    });
  }
}

/** A mutating route without the configured bearer token (or with another one). */
export class UnauthorizedError extends TetherError {
  declare readonly code: 'TETHER_HTTP_UNAUTHORIZED';
  constructor(why: 'missing' | 'wrong') {
    super(
      'TETHER_HTTP_UNAUTHORIZED',
      why === 'missing' ? 'this route needs "Authorization: Bearer <token>"' : 'the bearer token is wrong',
      { detail: { why } },
    );
  }
}

/** The service is stopping: no new commands or operator actions. */
export class ShuttingDownError extends TetherError {
  declare readonly code: 'TETHER_SHUTTING_DOWN';
  constructor() {
    super('TETHER_SHUTTING_DOWN', 'the service is stopping and takes no new requests');
  }
}

/** Liveness failed: the supervision tree is not running. */
export class UnhealthyError extends TetherError {
  declare readonly code: 'TETHER_UNHEALTHY';
  constructor(rootState: string) {
    super('TETHER_UNHEALTHY', `the supervision tree is ${rootState}`, { detail: { rootState } });
  }
}

/** Readiness failed: the link is not (yet) in the configured phase. */
export class UnreadyError extends TetherError {
  declare readonly code: 'TETHER_UNREADY';
  constructor(phase: string, needs: string, why: string) {
    super('TETHER_UNREADY', `not ready: ${why}`, { detail: { phase, needs } });
  }
}

/** Too many event streams are open already. */
export class TooManyStreamsError extends TetherError {
  declare readonly code: 'TETHER_HTTP_TOO_MANY_STREAMS';
  constructor(limit: number) {
    super('TETHER_HTTP_TOO_MANY_STREAMS', `at most ${limit} event streams may be open`, {
      detail: { limit },
    });
  }
}

/** Listening beyond loopback with no token would hand the operator actions to the network. */
export class ExposedWithoutTokenError extends TetherError {
  declare readonly code: 'TETHER_HTTP_EXPOSED_WITHOUT_TOKEN';
  constructor(host: string) {
    super(
      'TETHER_HTTP_EXPOSED_WITHOUT_TOKEN',
      `http.host is ${host}, which is not loopback, and http.token is empty: set http.token (TETHER_HTTP__TOKEN) or listen on 127.0.0.1`,
      { detail: { host } },
    );
  }
}

/**
 * The request is not HTTP the server's parser accepts (a broken request
 * line, a header name that is not a token, two different Content-Lengths,
 * broken chunked encoding), or its body was cut short. `reason` is Node's
 * code for it (HPE_INVALID_METHOD, ECONNRESET, ...).
 */
export class BadRequestError extends TetherError {
  declare readonly code: 'TETHER_HTTP_BAD_REQUEST';
  constructor(reason: string, why = 'malformed HTTP request') {
    const shown = quote(reason);
    super('TETHER_HTTP_BAD_REQUEST', `${why} (${shown})`, { detail: { reason: shown } });
  }
}

/** The request line and headers together pass Node's bound (16 KiB by default). */
export class HeadersTooLargeError extends TetherError {
  declare readonly code: 'TETHER_HTTP_HEADERS_TOO_LARGE';
  constructor() {
    super('TETHER_HTTP_HEADERS_TOO_LARGE', 'the request line and headers are too large');
  }
}

/** The request's head or body did not arrive within the server's timeouts. */
export class RequestTimeoutError extends TetherError {
  declare readonly code: 'TETHER_HTTP_REQUEST_TIMEOUT';
  constructor() {
    super('TETHER_HTTP_REQUEST_TIMEOUT', 'the request did not arrive in time');
  }
}

registerErrorClass('TETHER_HTTP_NOT_FOUND', RouteNotFoundError);
registerErrorClass('TETHER_HTTP_METHOD_NOT_ALLOWED', MethodNotAllowedError);
registerErrorClass('TETHER_HTTP_INVALID_BODY', InvalidBodyError);
registerErrorClass('TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE', UnsupportedMediaTypeError);
registerErrorClass('TETHER_HTTP_BODY_TOO_LARGE', BodyTooLargeError);
registerErrorClass('TETHER_HTTP_HOST_NOT_ALLOWED', HostNotAllowedError);
registerErrorClass('TETHER_HTTP_ORIGIN_NOT_ALLOWED', OriginNotAllowedError);
registerErrorClass('TETHER_HTTP_UNAUTHORIZED', UnauthorizedError);
registerErrorClass('TETHER_SHUTTING_DOWN', ShuttingDownError);
registerErrorClass('TETHER_UNHEALTHY', UnhealthyError);
registerErrorClass('TETHER_UNREADY', UnreadyError);
registerErrorClass('TETHER_HTTP_TOO_MANY_STREAMS', TooManyStreamsError);
registerErrorClass('TETHER_HTTP_EXPOSED_WITHOUT_TOKEN', ExposedWithoutTokenError);
registerErrorClass('TETHER_HTTP_BAD_REQUEST', BadRequestError);
registerErrorClass('TETHER_HTTP_HEADERS_TOO_LARGE', HeadersTooLargeError);
registerErrorClass('TETHER_HTTP_REQUEST_TIMEOUT', RequestTimeoutError);

/**
 * Domain code -> HTTP status. Anything not listed is a 500: a code that
 * reaches a client unmapped is a bug to fix here, not a guess to make.
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  // the edge itself
  TETHER_HTTP_NOT_FOUND: 404,
  TETHER_HTTP_METHOD_NOT_ALLOWED: 405,
  TETHER_HTTP_INVALID_BODY: 400,
  TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
  TETHER_HTTP_BODY_TOO_LARGE: 413,
  TETHER_HTTP_HOST_NOT_ALLOWED: 421,
  TETHER_HTTP_ORIGIN_NOT_ALLOWED: 403,
  TETHER_HTTP_UNAUTHORIZED: 401,
  TETHER_HTTP_TOO_MANY_STREAMS: 503,
  TETHER_HTTP_BAD_REQUEST: 400,
  TETHER_HTTP_HEADERS_TOO_LARGE: 431,
  TETHER_HTTP_REQUEST_TIMEOUT: 408,
  TETHER_SHUTTING_DOWN: 503,
  TETHER_UNHEALTHY: 503,
  TETHER_UNREADY: 503,
  // commands (contracts.ts and the commander's own)
  TETHER_NOT_READY: 409,
  TETHER_COMMAND_TIMEOUT: 504,
  TETHER_CONTROLLER_ERROR: 502,
  TETHER_BAD_RESPONSE: 502,
  TETHER_LINK_LOST: 503,
  TETHER_COMMANDER_BUSY: 429,
  TETHER_ENCODE_FAILED: 400,
  TETHER_BAD_PAYLOAD: 400,
  // the runtime: an actor that is down, restarting or not answering
  TETHER_ACTOR_DOWN: 503,
  TETHER_STASH_FULL: 503,
  TETHER_CALL_TIMEOUT: 504,
  TETHER_RUNTIME_CLOSED: 503,
  TETHER_MESSAGE_UNREADABLE: 502,
  // supervisors (operator actions)
  TETHER_CHILD_NOT_FOUND: 404,
  TETHER_CHILD_RUNNING: 409,
  TETHER_CHILD_RESTARTING: 409,
  TETHER_SUPERVISOR_STOPPED: 503,
  TETHER_FAILED_TO_START_CHILD: 500,
  // tasks (a refused task answers with the code of its refusal)
  TETHER_UNKNOWN_TASK_KIND: 400,
  TETHER_INVALID_TASK_ARGS: 400,
  TETHER_TRACKER_CLOSED: 503,
  TETHER_TASK_NOT_FOUND: 404,
  TETHER_TASK_QUEUE_FULL: 429,
  TETHER_TASK_EXCLUSIVE_BUSY: 409,
  TETHER_AUTOCONNECT_OFF: 409,
  TETHER_POOL_CLOSED: 503,
  TETHER_POOL_TASK_FAILED: 500,
  // the task pool (a pool child of the tree): restarting or stopped, or its queue full
  TETHER_POOL_STOPPED: 503,
  TETHER_POOL_QUEUE_FULL: 429,
  // backups
  TETHER_BACKUP_NOT_FOUND: 404,
  TETHER_BACKUP_NAME_INVALID: 400,
  TETHER_BACKUP_INVALID: 422,
  TETHER_STATE_FILE_TOO_LARGE: 413,
  TETHER_STATE_FILE_NOT_REGULAR: 409,
  TETHER_STATE_FILE_TIMEOUT: 504,
  // blocks
  TETHER_BLOCK_NAME_NOT_FOUND: 404,
  TETHER_BLOCK_NAME_TAKEN: 409,
  TETHER_BLOCK_NAME_INVALID: 400,
  TETHER_SYSTEM_BLOCK: 403,
  // the life cycle and the operator actions (contracts/lifecycle.ts, contracts/bus.ts)
  TETHER_LIFECYCLE_ILLEGAL: 409,
  TETHER_LIFECYCLE_BUSY: 429,
  TETHER_LIFECYCLE_FAILED: 500,
  TETHER_INVALID_REQUEST: 400,
  TETHER_UNKNOWN_ACTION: 404,
};

/**
 * The controller's own codes, for the routes that name blocks (the blocks
 * API): a block that is not there is a 404 like any other resource. The raw
 * command route keeps 502 for every controller error: there the controller
 * is the upstream, and its answer is the payload.
 */
const STATUS_BY_CONTROLLER_CODE: Readonly<Record<string, number>> = {
  BLOCK_NOT_FOUND: 404,
  INVALID_BLOCK_ID: 400,
  INVALID_BLOCK_TYPE: 400,
  INVALID_PAYLOAD: 400,
  INSUFFICIENT_STORAGE: 507,
  BUSY: 503,
};

/** The HTTP status of a code (500 for one not mapped). */
export function statusOfCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

export interface ErrorBody {
  error: { code: string; message: string; detail: Record<string, unknown> };
}

/**
 * The status and JSON body for anything thrown below a route. With
 * `controllerStatuses`, a controller's error code decides the status (the
 * blocks routes); its code stays in `detail.controllerCode` either way.
 */
export function toHttpError(
  error: unknown,
  options: { controllerStatuses?: boolean } = {},
): { status: number; body: ErrorBody } {
  if (TetherError.is(error)) {
    const detail = (error as { detail?: unknown }).detail;
    const controllerCode = (detail as { controllerCode?: unknown } | undefined)?.controllerCode;
    const byController =
      options.controllerStatuses === true &&
      error.code === 'TETHER_CONTROLLER_ERROR' &&
      typeof controllerCode === 'string'
        ? STATUS_BY_CONTROLLER_CODE[controllerCode]
        : undefined;
    return {
      status: byController ?? STATUS_BY_CODE[error.code] ?? 500,
      body: {
        error: {
          code: error.code,
          message: error.message,
          detail:
            typeof detail === 'object' && detail !== null ? { ...(detail as Record<string, unknown>) } : {},
        },
      },
    };
  }
  // Not one of ours: say it went wrong, not how (the log has the stack).
  return {
    status: 500,
    body: { error: { code: 'TETHER_INTERNAL', message: 'internal error (see the service log)', detail: {} } },
  };
}
