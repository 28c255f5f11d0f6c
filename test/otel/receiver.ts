/**
 * A real OTLP/HTTP receiver for tests: a local HTTP server on 127.0.0.1
 * that takes what the exporters POST to /v1/traces and /v1/metrics in the
 * JSON encoding (OTEL_EXPORTER_OTLP_PROTOCOL=http/json), decodes it, and
 * lets a test wait, with a deadline, for what it expects to have arrived.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Recorder } from '../recorder.js';

export type Attrs = Record<string, unknown>;

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Attrs;
  status: { code: number; message: string };
  events: Array<{ name: string; timeNs: bigint; attributes: Attrs }>;
  links: Array<{ traceId: string; spanId: string; attributes: Attrs }>;
  resource: Attrs;
  scope: string;
}

export interface ReceivedPoint {
  metric: string;
  unit: string;
  attributes: Attrs;
  /** asInt / asDouble for sums and gauges; count for histograms. */
  value: number;
  resource: Attrs;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpValue;
}

function value(v: OtlpValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

export function attrs(list: OtlpKeyValue[] | undefined): Attrs {
  const out: Attrs = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

/** OTLP/JSON ids are hex (the JS exporter writes hex, not base64, when it encodes JSON). */
function hex(id: unknown): string {
  if (typeof id !== 'string' || id === '') return '';
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly points: ReceivedPoint[] = [];
  protobufMetricRequests = 0;
  /** Requests that did not decode, to fail a test rather than hang it. */
  readonly bad: string[] = [];
  readonly #server: Server;
  readonly #waiters = new Set<() => void>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        if (request.headers['content-type'] === 'application/x-protobuf') {
          receiver.#takeProtobuf(request.url ?? '', body);
        } else {
          receiver.#take(request.url ?? '', body.toString('utf8'));
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get endpoint(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Resolves with `find`'s first non-undefined answer, re-asked as payloads arrive; rejects at the deadline. */
  waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.bad.length > 0) {
          done();
          reject(new Error(`undecodable OTLP payload: ${this.bad[0]}`));
          return true;
        }
        const found = find();
        if (found === undefined) return false;
        done();
        resolve(found);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        const names = [...new Set(this.spans.map((s) => s.name))].join(', ');
        const metrics = [...new Set(this.points.map((p) => p.metric))].join(', ');
        reject(
          new Error(`${what}: not received within ${timeoutMs} ms (spans: ${names}; metrics: ${metrics})`),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      if (!check()) this.#waiters.add(wake);
    });
  }

  spansNamed(name: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.name === name);
  }

  #take(url: string, body: string): void {
    try {
      const payload = JSON.parse(body) as Record<string, unknown>;
      if (url.endsWith('/v1/traces')) this.#takeSpans(payload);
      else if (url.endsWith('/v1/metrics')) this.#takeMetrics(payload);
    } catch (error) {
      this.bad.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const wake of [...this.#waiters]) wake();
  }

  /** Protobuf traces are decoded into the same spans as JSON ones (protobuf metrics are counted, not decoded). */
  #takeProtobuf(url: string, body: Buffer): void {
    try {
      if (url.endsWith('/v1/traces')) this.spans.push(...decodeTraceRequest(body));
      else this.protobufMetricRequests += 1;
    } catch (error) {
      this.bad.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const wake of [...this.#waiters]) wake();
  }

  #takeSpans(payload: Record<string, unknown>): void {
    type Json = Record<string, unknown>;
    for (const rs of (payload['resourceSpans'] ?? []) as Json[]) {
      const resource = attrs((rs['resource'] as Json | undefined)?.['attributes'] as OtlpKeyValue[]);
      for (const ss of (rs['scopeSpans'] ?? []) as Json[]) {
        const scope = String((ss['scope'] as Json | undefined)?.['name'] ?? '');
        for (const s of (ss['spans'] ?? []) as Json[]) {
          const status = (s['status'] ?? {}) as Json;
          this.spans.push({
            name: String(s['name']),
            traceId: hex(s['traceId']),
            spanId: hex(s['spanId']),
            parentSpanId: hex(s['parentSpanId']),
            kind: Number(s['kind'] ?? 0),
            startNs: BigInt(String(s['startTimeUnixNano'] ?? '0')),
            endNs: BigInt(String(s['endTimeUnixNano'] ?? '0')),
            attributes: attrs(s['attributes'] as OtlpKeyValue[]),
            status: { code: Number(status['code'] ?? 0), message: String(status['message'] ?? '') },
            events: ((s['events'] ?? []) as Json[]).map((e) => ({
              name: String(e['name']),
              timeNs: BigInt(String(e['timeUnixNano'] ?? '0')),
              attributes: attrs(e['attributes'] as OtlpKeyValue[]),
            })),
            links: ((s['links'] ?? []) as Json[]).map((l) => ({
              traceId: hex(l['traceId']),
              spanId: hex(l['spanId']),
              attributes: attrs(l['attributes'] as OtlpKeyValue[]),
            })),
            resource,
            scope,
          });
        }
      }
    }
  }

  #takeMetrics(payload: Record<string, unknown>): void {
    type Json = Record<string, unknown>;
    for (const rm of (payload['resourceMetrics'] ?? []) as Json[]) {
      const resource = attrs((rm['resource'] as Json | undefined)?.['attributes'] as OtlpKeyValue[]);
      for (const sm of (rm['scopeMetrics'] ?? []) as Json[]) {
        for (const m of (sm['metrics'] ?? []) as Json[]) {
          const data = (m['sum'] ?? m['gauge'] ?? m['histogram']) as Json | undefined;
          for (const p of (data?.['dataPoints'] ?? []) as Json[]) {
            const v = p['asInt'] ?? p['asDouble'] ?? p['count'] ?? 0;
            this.points.push({
              metric: String(m['name']),
              unit: String(m['unit'] ?? ''),
              attributes: attrs(p['attributes'] as OtlpKeyValue[]),
              value: Number(v),
              resource,
            });
          }
        }
      }
    }
  }
}

// ------------------------------------------------------- OTLP/protobuf traces

type Field = { field: number; wire: number; varint: bigint; bytes: Uint8Array };

/** The fields of one protobuf message, in order. */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[at++];
      if (byte === undefined) throw new Error('truncated varint');
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7n;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    const empty = new Uint8Array(0);
    if (wire === 0) out.push({ field, wire, varint: varint(), bytes: empty });
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      out.push({ field, wire, varint: 0n, bytes: buf.subarray(at, at + size) });
      at += size;
    } else if (wire === 2) {
      const length = Number(varint());
      out.push({ field, wire, varint: 0n, bytes: buf.subarray(at, at + length) });
      at += length;
    } else throw new Error(`wire type ${wire}`);
    if (at > buf.length) throw new Error('truncated field');
  }
  return out;
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const u64 = (bytes: Uint8Array): bigint => Buffer.from(bytes).readBigUInt64LE(0);

function anyValue(bytes: Uint8Array): unknown {
  const [f] = fields(bytes);
  if (f === undefined) return undefined;
  switch (f.field) {
    case 1:
      return text(f.bytes);
    case 2:
      return f.varint !== 0n;
    case 3:
      return Number(BigInt.asIntN(64, f.varint));
    case 4:
      return Buffer.from(f.bytes).readDoubleLE(0);
    case 5:
      return fields(f.bytes).map((item) => anyValue(item.bytes));
    default:
      return undefined;
  }
}

function keyValues(list: Field[], field: number): Attrs {
  const out: Attrs = {};
  for (const kv of list) {
    if (kv.field !== field) continue;
    const parts = fields(kv.bytes);
    const key = parts.find((p) => p.field === 1);
    const value = parts.find((p) => p.field === 2);
    if (key !== undefined) out[text(key.bytes)] = value === undefined ? undefined : anyValue(value.bytes);
  }
  return out;
}

function decodeTraceRequest(body: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of fields(body).filter((f) => f.field === 1)) {
    const rsFields = fields(rs.bytes);
    const resourceField = rsFields.find((f) => f.field === 1);
    const resource = resourceField === undefined ? {} : keyValues(fields(resourceField.bytes), 1);
    for (const ss of rsFields.filter((f) => f.field === 2)) {
      const ssFields = fields(ss.bytes);
      const scopeField = ssFields.find((f) => f.field === 1);
      const scopeName =
        scopeField === undefined ? undefined : fields(scopeField.bytes).find((f) => f.field === 1);
      const scope = scopeName === undefined ? '' : text(scopeName.bytes);
      for (const sp of ssFields.filter((f) => f.field === 2)) {
        const s = fields(sp.bytes);
        const one = (n: number): Field | undefined => s.find((f) => f.field === n);
        const status = one(15) === undefined ? [] : fields((one(15) as Field).bytes);
        spans.push({
          name: text(one(5)?.bytes ?? new Uint8Array(0)),
          traceId: hexOf(one(1)?.bytes ?? new Uint8Array(0)),
          spanId: hexOf(one(2)?.bytes ?? new Uint8Array(0)),
          parentSpanId: hexOf(one(4)?.bytes ?? new Uint8Array(0)),
          kind: Number(one(6)?.varint ?? 0n),
          startNs: u64(one(7)?.bytes ?? new Uint8Array(8)),
          endNs: u64(one(8)?.bytes ?? new Uint8Array(8)),
          attributes: keyValues(s, 9),
          status: {
            code: Number(status.find((f) => f.field === 3)?.varint ?? 0n),
            message: text(status.find((f) => f.field === 2)?.bytes ?? new Uint8Array(0)),
          },
          events: s
            .filter((f) => f.field === 11)
            .map((e) => {
              const ef = fields(e.bytes);
              return {
                name: text(ef.find((f) => f.field === 2)?.bytes ?? new Uint8Array(0)),
                timeNs: u64(ef.find((f) => f.field === 1)?.bytes ?? new Uint8Array(8)),
                attributes: keyValues(ef, 3),
              };
            }),
          links: s
            .filter((f) => f.field === 13)
            .map((l) => {
              const lf = fields(l.bytes);
              return {
                traceId: hexOf(lf.find((f) => f.field === 1)?.bytes ?? new Uint8Array(0)),
                spanId: hexOf(lf.find((f) => f.field === 2)?.bytes ?? new Uint8Array(0)),
                attributes: keyValues(lf, 4),
              };
            }),
          resource,
          scope,
        });
      }
    }
  }
  return spans;
}

/** The variables that point telemetry at a receiver, with short export intervals for tests. */
export function otelEnv(endpoint: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    ...extra,
  };
}

/**
 * A collector that accepts every connection and request and never answers:
 * exports to it stay in flight until their own timeout.
 */
export class SilentCollector {
  /** Requests received (and never answered) so far. */
  readonly requests = new Recorder<string>();
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<SilentCollector> {
    const server = createServer();
    const collector = new SilentCollector(server);
    server.on('request', (request: IncomingMessage) => {
      request.resume();
      collector.requests.push(request.url ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return collector;
  }

  get endpoint(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
