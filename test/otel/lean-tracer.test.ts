/**
 * The workers' lean tracer and the flat hand-over, checked against the SDK:
 * the same calls made on the SDK's tracer and on the lean one must export
 * the same spans (names, kinds, attributes, events, links, status, parents,
 * dropped counts), and the sampling decisions must be the SDK samplers'.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import type { Context, SpanContext, Tracer } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SamplingDecision,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalContextManager } from '../../otel/context-manager.js';
import { newSpanId, newTraceId } from '../../otel/ids.js';
import { LeanTracerProvider } from '../../otel/lean-tracer.js';
import { makeSampleDecision, makeSampler } from '../../otel/sampler.js';
import type { SamplerSettings } from '../../otel/settings.js';
import { isSpanBatch, readSpanBatch } from '../../otel/span-wire.js';
import { HandOverOtlpSpans, HandOverSpans, MAX_BATCH_SPANS } from '../../otel/worker.js';
import { buildTraceRequest, encodeResource } from '../../otel/otlp-proto.js';
import type { OtlpSpansHandOver } from '../../otel/span-wire.js';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { SpanSink } from '../../otel/lean-tracer.js';
import { contextFromTraceparent } from '../../otel/traceparent.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TP_UNSAMPLED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
const resource = resourceFromAttributes({ 'service.name': 'main' });

/** A lean provider whose batches are cloned as postMessage would, and read back as the main thread does. */
function leanSetup(sampler: SamplerSettings = { name: 'parentbased_always_on', ratio: 1 }) {
  const batches: unknown[][] = [];
  const sink = new HandOverSpans((batch) => batches.push(structuredClone(batch)), 60_000);
  const provider = new LeanTracerProvider(makeSampleDecision(sampler), sink);
  const scopes = new Map<string, InstrumentationScope>();
  const read = (): ReadableSpan[] => {
    sink.flush();
    const out: ReadableSpan[] = [];
    for (const batch of batches.splice(0)) {
      assert.ok(isSpanBatch(batch));
      readSpanBatch(
        batch,
        {
          resource,
          scope: (name, version, schemaUrl) => {
            const key = `${name}@${version}:${schemaUrl}`;
            const found = scopes.get(key) ?? { name, ...(version === '' ? {} : { version }) };
            scopes.set(key, found);
            return found;
          },
          extra: ['tether.actor.id', 'test'],
        },
        (span) => out.push(span),
      );
    }
    return out;
  };
  return { provider, sink, batches, read };
}

function sdkSetup() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { provider, read: () => exporter.getFinishedSpans() };
}

/** Everything the tracers do for tether's actors, and a few things they do not (yet). */
function script(tracer: Tracer, parent: Context): void {
  const command = tracer.startSpan(
    'tether.command',
    { kind: SpanKind.CLIENT, attributes: { 'tether.command.opcode': 'BLOCK_READ', skipped: undefined } },
    parent,
  );
  command.setAttributes({ 'tether.command.msg_id': 7, 'tether.generation': 1 });
  command.setAttribute('tether.command.msg_id', 8);
  command.setAttribute('list', ['a', 'b']);
  command.setAttribute('mixed', ['a', 1] as unknown as string[]);
  command.setAttribute('', 'no key');
  context.with(trace.setSpan(parent, command), () => {
    const write = tracer.startSpan('tether.connection.write', { attributes: { 'tether.frame.bytes': 42 } });
    write.addEvent('tether.handshake.ping', { n: 1 });
    write.addEvent('plain');
    write.recordException(Object.assign(new Error('boom'), { code: 'TETHER_X' }));
    write.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
    write.setStatus({ code: SpanStatusCode.UNSET });
    write.end();
    write.setAttribute('after', 'end');
  });
  command.setStatus({ code: SpanStatusCode.OK });
  command.setStatus({ code: SpanStatusCode.ERROR, message: 'ignored: OK is final' });
  command.end();
  const linked = tracer.startSpan('tether.connection.disconnect', {
    root: true,
    links: [{ context: command.spanContext(), attributes: { 'tether.link.type': 'ended_attempt' } }],
  });
  linked.addLink({ context: command.spanContext() });
  linked.updateName('renamed');
  linked.end();
  tracer.startActiveSpan('active', (span) => {
    tracer.startSpan('child').end();
    span.end();
  });
}

/** What must agree between the SDK's export and the lean one (ids and times differ). */
function shape(spans: ReadableSpan[]) {
  const names = new Map(spans.map((s) => [s.spanContext().spanId, s.name]));
  return spans.map((s) => ({
    name: s.name,
    kind: s.kind,
    traceFlags: s.spanContext().traceFlags,
    parent:
      s.parentSpanContext === undefined ? undefined : (names.get(s.parentSpanContext.spanId) ?? 'remote'),
    parentRemote: s.parentSpanContext?.isRemote === true,
    attributes: Object.fromEntries(Object.entries(s.attributes).filter(([k]) => k !== 'tether.actor.id')),
    events: s.events.map((e) => ({
      name: e.name,
      attributes: Object.fromEntries(
        Object.entries(e.attributes ?? {}).filter(([k]) => k !== 'exception.stacktrace'),
      ),
    })),
    links: s.links.map((l) => ({ to: names.get(l.context.spanId), attributes: l.attributes })),
    status: s.status,
    dropped: [s.droppedAttributesCount, s.droppedEventsCount, s.droppedLinksCount],
  }));
}

describe('the workers lean tracer', () => {
  it('exports the same spans as the SDK for the same calls: names, kinds, attributes, events, links, status, parents', () => {
    assert.equal(context.setGlobalContextManager(new AsyncLocalContextManager()), true);
    try {
      const sdk = sdkSetup();
      const lean = leanSetup();
      script(sdk.provider.getTracer('tether'), contextFromTraceparent(TP));
      script(lean.provider.getTracer('tether'), contextFromTraceparent(TP));
      const fromSdk = sdk.read();
      const fromLean = lean.read();
      assert.deepEqual(shape(fromLean), shape(fromSdk));

      const command = fromLean.find((s) => s.name === 'tether.command') as ReadableSpan;
      assert.equal(command.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
      assert.equal(command.parentSpanContext?.spanId, 'b7ad6b7169203331');
      assert.equal(command.attributes['tether.actor.id'], 'test');
      assert.equal(command.resource, resource);
      const write = fromLean.find((s) => s.name === 'tether.connection.write') as ReadableSpan;
      assert.equal(write.parentSpanContext?.spanId, command.spanContext().spanId);
      assert.equal(
        typeof write.events.find((e) => e.name === 'exception')?.attributes?.['exception.stacktrace'],
        'string',
      );
      // Times: the start is the wall clock, the end the start plus a monotonic duration.
      for (const span of fromLean) {
        const startMs = span.startTime[0] * 1e3 + span.startTime[1] / 1e6;
        const endMs = span.endTime[0] * 1e3 + span.endTime[1] / 1e6;
        assert.ok(Math.abs(startMs - Date.now()) < 5000);
        assert.ok(endMs >= startMs);
        assert.ok(span.endTime[1] >= 0 && span.endTime[1] < 1e9);
        for (const event of span.events) {
          const at = event.time[0] * 1e3 + event.time[1] / 1e6;
          assert.ok(at >= startMs && at <= endMs + 0.001);
        }
      }
      // Every span of a batch shares one scope object, and batches share it too.
      assert.equal(new Set(fromLean.map((s) => s.instrumentationScope)).size, 1);
    } finally {
      context.disable();
    }
  });

  it('decides sampling as the SDK samplers do, for roots and for sampled and unsampled, remote and local parents', () => {
    const names: SamplerSettings['name'][] = [
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ];
    for (const name of names) {
      for (const ratio of [0, 0.1, 0.5, 1]) {
        const settings = { name, ratio };
        const sdk = makeSampler(settings);
        const lean = makeSampleDecision(settings);
        for (let i = 0; i < 200; i += 1) {
          const traceId = newTraceId();
          const parents: Array<SpanContext | undefined> = [undefined];
          for (const traceFlags of [TraceFlags.NONE, TraceFlags.SAMPLED]) {
            for (const isRemote of [true, false]) {
              parents.push({ traceId, spanId: newSpanId(), traceFlags, isRemote });
            }
          }
          for (const parent of parents) {
            const ctx = parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent);
            const expected =
              sdk.shouldSample(ctx, traceId, 'x', SpanKind.INTERNAL, {}, []).decision ===
              SamplingDecision.RECORD_AND_SAMPLED;
            assert.equal(
              lean(parent, traceId),
              expected,
              `${name} ${ratio} ${traceId} ${JSON.stringify(parent)}`,
            );
          }
        }
      }
    }
  });

  it('an unsampled parent gives a non-recording span that passes the flag on and hands nothing over', () => {
    const lean = leanSetup({ name: 'parentbased_traceidratio', ratio: 1 });
    const tracer = lean.provider.getTracer('tether');
    const span = tracer.startSpan('tether.command', {}, contextFromTraceparent(TP_UNSAMPLED));
    assert.equal(span.isRecording(), false);
    const ctx = span.spanContext();
    assert.equal(ctx.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.notEqual(ctx.spanId, 'b7ad6b7169203331');
    assert.equal(ctx.traceFlags, TraceFlags.NONE);
    span.setAttribute('a', 1);
    span.end();
    const child = tracer.startSpan('tether.connection.write', {}, trace.setSpan(ROOT_CONTEXT, span));
    assert.equal(child.isRecording(), false);
    child.end();
    assert.deepEqual(lean.read(), []);
    assert.equal(lean.batches.length, 0);
  });

  it(`hands spans over in one flat array of primitives, at once when ${MAX_BATCH_SPANS} are waiting`, () => {
    const lean = leanSetup();
    const tracer = lean.provider.getTracer('tether');
    for (let i = 0; i < MAX_BATCH_SPANS - 1; i += 1) tracer.startSpan('s', { attributes: { i } }).end();
    assert.equal(lean.batches.length, 0, 'waits for the delay below a full batch');
    tracer.startSpan('s', { attributes: { i: MAX_BATCH_SPANS - 1 } }).end();
    assert.equal(lean.batches.length, 1);
    const batch = lean.batches[0] as unknown[];
    assert.ok(
      batch.every((v) => v === undefined || typeof v !== 'object'),
      'primitives only',
    );
    const spans = lean.read();
    assert.equal(spans.length, MAX_BATCH_SPANS);
    assert.deepEqual(
      spans.map((s) => s.attributes['i']),
      Array.from({ length: MAX_BATCH_SPANS }, (_, i) => i),
    );
  });

  it('a second tracer scope starts a new batch with its own scope table', () => {
    const lean = leanSetup();
    lean.provider.getTracer('one').startSpan('a').end();
    lean.provider.getTracer('two', '1.0.0').startSpan('b').end();
    lean.provider.getTracer('one').startSpan('c').end();
    const spans = lean.read();
    assert.deepEqual(
      spans.map((s) => `${s.name}:${s.instrumentationScope.name}@${s.instrumentationScope.version ?? ''}`),
      ['a:one@', 'b:two@1.0.0', 'c:one@'],
    );
    assert.equal(spans[0]?.instrumentationScope, spans[2]?.instrumentationScope);
  });

  it('encodes spans in the worker to the very bytes the SDK protobuf serializer writes for them', () => {
    assert.equal(context.setGlobalContextManager(new AsyncLocalContextManager()), true);
    try {
      const flat: unknown[][] = [];
      const encoded: OtlpSpansHandOver[] = [];
      const flatSink = new HandOverSpans((batch) => flat.push(batch), 60_000);
      const otlpSink = new HandOverOtlpSpans((batch) => encoded.push(batch), 60_000);
      otlpSink.setActor('commander');
      const tee: SpanSink = {
        scopeIndex: (scope) => (flatSink.scopeIndex(scope), otlpSink.scopeIndex(scope)),
        ended: (span) => {
          flatSink.ended(span);
          otlpSink.ended(span);
        },
      };
      const tracer = new LeanTracerProvider(
        makeSampleDecision({ name: 'always_on', ratio: 1 }),
        tee,
      ).getTracer('tether');
      script(tracer, contextFromTraceparent(TP));
      const long = tracer.startSpan('long', { attributes: { text: 'é'.repeat(300), big: 2 ** 40, neg: -3 } });
      long.setAttribute('double', 0.25);
      long.end();
      flatSink.flush();
      otlpSink.flush();

      const withResource = resourceFromAttributes({
        'service.name': 'tether',
        'process.pid': 42,
        'process.command_args': ['node', 'tether'],
      });
      const readables: ReadableSpan[] = [];
      const scope = { name: 'tether' };
      for (const batch of flat) {
        readSpanBatch(
          batch,
          { resource: withResource, scope: () => scope, extra: ['tether.actor.id', 'commander'] },
          (span) => readables.push(span),
        );
      }
      const expected = ProtobufTraceSerializer.serializeRequest(readables);
      assert.ok(expected);
      assert.equal(encoded.length, 1);
      const actual = buildTraceRequest(encodeResource(withResource.attributes), undefined, [
        { scope, chunks: encoded.map((e) => e.otlp) },
      ]);
      assert.equal(encoded[0]?.spans, readables.length);
      assert.deepEqual(Buffer.from(actual).toString('hex'), Buffer.from(expected).toString('hex'));
    } finally {
      context.disable();
    }
  });
});
