/**
 * The base of every error tether raises: one base class, one subclass per
 * failure (in the module of the area that raises it) with a literal `code`
 * from the catalogue (catalogue.ts), `cause` passed on. Errors cross thread boundaries as plain
 * objects (`SerializedError`) and are rebuilt on the other side as the same
 * class when the code is one of ours, so `instanceof` and `code` checks work
 * wherever the error ends up.
 */

/** Brand check that survives structured cloning: codes of ours all start with this prefix. */
const CODE_PREFIX = 'TETHER_';

import type { ErrorCode } from './catalogue.js';

export class TetherError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable detail; must be structured-cloneable. */
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; detail?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options?.detail ?? {};
    this.name = new.target.name;
  }

  /** True for any tether error, including one rebuilt from another thread. */
  static is(value: unknown, code?: ErrorCode): value is TetherError {
    if (typeof value !== 'object' || value === null) return false;
    const found = (value as { code?: unknown }).code;
    if (typeof found !== 'string' || !found.startsWith(CODE_PREFIX)) return false;
    return code === undefined || found === code;
  }
}

/** A handler's error rebuilt on the caller's side when it is not one of ours: keeps its code, name and stack. */
export class RemoteError extends Error {
  readonly code: string | undefined;
  readonly remoteName: string;
  constructor(name: string, message: string, code: string | undefined, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.remoteName = name;
    this.code = code;
  }
}

// ---------------------------------------------------------- serialization

/** An error as it crosses a thread boundary. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  detail?: Record<string, unknown>;
  cause?: SerializedError;
}

const MAX_CAUSE_DEPTH = 5;

export function serializeError(value: unknown, depth = 0): SerializedError {
  if (!(value instanceof Error)) {
    // A thrown plain object keeps its code: callers and the HTTP edge decide by it.
    const code = typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
    const message =
      typeof value === 'object' && value !== null ? (value as { message?: unknown }).message : undefined;
    return {
      name: 'Error',
      message: typeof message === 'string' ? message : describe(value),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  const out: SerializedError = { name: value.name, message: value.message };
  const code = (value as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (value.stack !== undefined) out.stack = value.stack;
  if (value instanceof TetherError && Object.keys(value.detail).length > 0) {
    out.detail = cloneable(value.detail);
  }
  if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH)
    out.cause = serializeError(value.cause, depth + 1);
  return out;
}

/** Rebuilds the error on this side: a tether error becomes its own class again; others a RemoteError. */
export function deserializeError(s: SerializedError): Error {
  const cause = s.cause === undefined ? undefined : deserializeError(s.cause);
  const error: Error =
    s.code !== undefined && s.code.startsWith(CODE_PREFIX)
      ? new TetherError(s.code as ErrorCode, s.message, { cause, detail: s.detail ?? {} })
      : new RemoteError(s.name, s.message, s.code, { cause });
  if (error instanceof TetherError) {
    const known = KNOWN_CLASSES.get(s.code ?? '');
    if (known !== undefined) Object.setPrototypeOf(error, known.prototype);
  }
  error.name = s.name;
  if (s.stack !== undefined) error.stack = s.stack;
  return error;
}

/** Classes rebuilt by code; the constructor is bypassed (its arguments are not known), the prototype set. */
const KNOWN_CLASSES = new Map<string, { prototype: object }>();

/** Lets other areas (codec, transports, service) register their classes for rebuilding. */
export function registerErrorClass(code: string, errorClass: { prototype: object }): void {
  KNOWN_CLASSES.set(code, errorClass);
}

function cloneable(detail: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return structuredClone(detail) as Record<string, unknown>;
  } catch {
    return { unserializable: true };
  }
}

export function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
