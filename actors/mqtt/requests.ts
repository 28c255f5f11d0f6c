/**
 * A request from the broker, before it reaches the kernel: bounded in size,
 * authorized, parsed as JSON. What the body must look like is the action's
 * business (kernel/operator.ts checks it with the same schema HTTP uses).
 * Answers have HTTP's shapes: the action's result, or
 * `{"error": {"code", "message", "detail"}}`.
 */
import { InvalidRequestError } from '../../contracts/bus.js';
import { TetherError } from '../../errors/index.js';
import { checkToken, type UserPropertyValue } from './auth.js';
import { MqttUnauthorizedError } from './errors.js';

export interface RequestLimits {
  maxPayloadBytes: number;
  /** http.token; "" when the HTTP API requires none. */
  token: string;
}

export type ParsedRequest = { ok: true; body: unknown } | { ok: false; error: TetherError };

export function parseRequest(
  payload: Buffer,
  userProperties: Readonly<Record<string, UserPropertyValue>> | undefined,
  limits: RequestLimits,
): ParsedRequest {
  if (payload.length > limits.maxPayloadBytes) {
    return {
      ok: false,
      error: new InvalidRequestError(`the payload exceeds ${limits.maxPayloadBytes} bytes`, [
        { path: '', message: `${payload.length} bytes` },
      ]),
    };
  }
  const token = checkToken(userProperties?.['token'], limits.token);
  if (token !== 'ok') return { ok: false, error: new MqttUnauthorizedError(token) };
  if (payload.length === 0) return { ok: true, body: {} };
  try {
    return { ok: true, body: JSON.parse(payload.toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, error: new InvalidRequestError(`not JSON (${(error as Error).message})`) };
  }
}

export interface ErrorAnswer {
  error: { code: string; message: string; detail: Record<string, unknown> };
}

/** The answer for anything a request failed with; not one of ours says only that it went wrong. */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (TetherError.is(error)) {
    const detail = (error as { detail?: unknown }).detail;
    return {
      error: {
        code: error.code,
        message: error.message,
        detail:
          typeof detail === 'object' && detail !== null ? { ...(detail as Record<string, unknown>) } : {},
      },
    };
  }
  return { error: { code: 'TETHER_INTERNAL', message: 'internal error (see the service log)', detail: {} } };
}
