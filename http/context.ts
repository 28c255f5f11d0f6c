/** What the operator actions are told of an HTTP request (kernel/operator.ts). */
import type { IncomingMessage } from 'node:http';
import type { TriggerSource } from '../kernel/lifecycle.js';
import type { Service } from '../kernel/service.js';

/** Who asks, as the life cycle records it: HTTP, and the client's own name (printable, short). */
export function httpContext(
  service: Service,
  request: IncomingMessage,
): { service: Service; source: TriggerSource } {
  const agent = (request.headers['user-agent'] ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 64);
  return { service, source: agent === '' ? { via: 'http' } : { via: 'http', client: agent } };
}
