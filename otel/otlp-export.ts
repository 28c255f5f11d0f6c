/**
 * The main thread's export of worker spans that arrive already encoded as
 * OTLP/protobuf (otlp-proto.ts): a bounded queue of byte chunks with the
 * BatchSpanProcessor's semantics (at most `maxQueueSize` spans wait, the
 * rest are dropped and counted, never blocking the caller; a request when
 * `maxBatchSize` spans are waiting or `delayMs` after the first; one export
 * at a time), each request the chunks joined under the resource, sent by
 * the same HTTP transport as the SDK's OTLP exporter (headers, timeouts,
 * retries, OTEL_EXPORTER_OTLP_* variables).
 *
 * Main-thread spans (the attempt, supervision) keep the SDK's own span
 * processor and exporter: a few per minute, not worth a second path.
 */
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { buildTraceRequest, encodeResource } from './otlp-proto.js';
import type { ScopeChunks } from './otlp-proto.js';
import type { OtlpSpansHandOver } from './span-wire.js';

/** Sends one encoded ExportTraceServiceRequest of `spans` spans; rejects when it was not accepted. */
export interface TraceRequestSender {
  send(body: Uint8Array, spans: number): Promise<void>;
  shutdown(): Promise<void>;
}

export interface SpanQueueOptions {
  maxQueueSize: number;
  maxBatchSize: number;
  delayMs: number;
  /** An export failed, or spans were dropped with the queue full. */
  onError(error: unknown): void;
}

interface Chunk {
  scope: InstrumentationScope;
  bytes: Uint8Array;
  spans: number;
}

export class EncodedSpanQueue {
  readonly #sender: TraceRequestSender;
  readonly #options: SpanQueueOptions;
  readonly #resource: Promise<{ bytes: Uint8Array; schemaUrl: string | undefined }>;
  /** One object per distinct scope, so a request has one ScopeSpans per scope. */
  readonly #scopes = new Map<string, InstrumentationScope>();
  #chunks: Chunk[] = [];
  #queued = 0;
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #exporting: Promise<void> | undefined;
  #stopped = false;

  constructor(resource: Resource, sender: TraceRequestSender, options: SpanQueueOptions) {
    this.#sender = sender;
    this.#options = options;
    this.#resource = (async () => {
      if (resource.asyncAttributesPending === true) await resource.waitForAsyncAttributes?.();
      return { bytes: encodeResource(resource.attributes), schemaUrl: resource.schemaUrl };
    })();
  }

  /** Spans dropped so far because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  add(handOver: OtlpSpansHandOver): void {
    if (this.#stopped) return;
    if (this.#queued + handOver.spans > this.#options.maxQueueSize) {
      this.#dropped += handOver.spans;
      this.#options.onError(
        new Error(
          `${handOver.spans} spans dropped: the export queue is full (${this.#options.maxQueueSize})`,
        ),
      );
      return;
    }
    this.#chunks.push({ scope: this.#scope(handOver.scope), bytes: handOver.otlp, spans: handOver.spans });
    this.#queued += handOver.spans;
    this.#schedule();
  }

  /** Exports everything queued now, and waits for it. */
  async forceFlush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (;;) {
      if (this.#exporting !== undefined) {
        await this.#exporting;
        continue;
      }
      if (this.#queued === 0) return;
      this.#exportOne();
    }
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.#stopped = true;
    await this.#sender.shutdown();
  }

  #scope(scope: InstrumentationScope): InstrumentationScope {
    const key = `${scope.name}@${scope.version ?? ''}:${scope.schemaUrl ?? ''}`;
    let found = this.#scopes.get(key);
    if (found === undefined) {
      found = scope;
      this.#scopes.set(key, found);
    }
    return found;
  }

  #schedule(): void {
    if (this.#exporting !== undefined || this.#queued === 0) return;
    if (this.#queued >= this.#options.maxBatchSize) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#exportOne();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      if (this.#exporting === undefined && this.#queued > 0) this.#exportOne();
    }, this.#options.delayMs).unref();
  }

  /** Takes chunks up to a batch (at least one) and sends them as one request. */
  #exportOne(): void {
    const taken: Chunk[] = [];
    let spans = 0;
    while (spans < this.#options.maxBatchSize && this.#chunks.length > 0) {
      const chunk = this.#chunks.shift() as Chunk;
      taken.push(chunk);
      spans += chunk.spans;
    }
    this.#queued -= spans;
    const byScope = new Map<InstrumentationScope, ScopeChunks>();
    for (const chunk of taken) {
      let entry = byScope.get(chunk.scope);
      if (entry === undefined) {
        entry = { scope: chunk.scope, chunks: [] };
        byScope.set(chunk.scope, entry);
      }
      entry.chunks.push(chunk.bytes);
    }
    this.#exporting = (async () => {
      try {
        const resource = await this.#resource;
        const body = buildTraceRequest(resource.bytes, resource.schemaUrl, [...byScope.values()]);
        await this.#sender.send(body, spans);
      } catch (error) {
        this.#options.onError(error);
      } finally {
        this.#exporting = undefined;
        this.#schedule();
      }
    })();
  }
}

/** The SDK's OTLP/HTTP transport with a serializer that passes the request bytes through. */
export function otlpHttpSender(url: string, timeoutMillis: number): TraceRequestSender {
  interface Prepared {
    body: Uint8Array;
    spans: number;
  }
  const delegate = createOtlpHttpExportDelegate<Prepared, unknown>(
    convertLegacyHttpOptions({ url, timeoutMillis }, 'TRACES', 'v1/traces', {
      'Content-Type': 'application/x-protobuf',
    }),
    {
      serializeRequest: (request) => request.body,
      deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
    },
    'otlp_http_span_exporter',
    { name: 'span', countItems: (request) => request.spans },
    undefined,
  );
  return {
    send: (body, spans) =>
      new Promise<void>((resolve, reject) =>
        delegate.export({ body, spans }, (result) =>
          result.code === 0 ? resolve() : reject(result.error ?? new Error('trace export failed')),
        ),
      ),
    shutdown: () => delegate.shutdown(),
  };
}
