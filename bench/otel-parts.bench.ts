/**
 * Telemetry bench, the parts: the CPU each step of a traced command's
 * telemetry takes, one step at a time, in one thread, with the SDK's own
 * pieces as the service uses them (the same names, attributes, options and
 * hand-over code). `npm run bench:otel` measures the whole on a running
 * service; this says where it goes, which the whole cannot on a shared
 * machine (its rounds swing by more than these parts are).
 *
 *   npm run build && node dist/bench/otel-parts.bench.js
 *
 * BENCH_SPANS (per repetition, default 20480), BENCH_REPS (default 7).
 * Figures are µs of CPU (process.cpuUsage) per command, median of the
 * repetitions. The HTTP export goes to the bench's OTLP sink in a process of
 * its own, so its side is not counted, as a collector's would not be.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { ROOT_CONTEXT, SpanKind, context, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  StackContextManager,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { fromSpansHandOver, toSpansHandOver } from '../otel/hand-over.js';
import { ATTR, METRICS, SCOPE, SPANS } from '../otel/names.js';
import { contextFromTraceparent, traceparentOf } from '../otel/traceparent.js';
import { median } from './measure.js';

const SPANS_PER_REP = Number(process.env['BENCH_SPANS'] ?? 20_480);
const REPS = Number(process.env['BENCH_REPS'] ?? 7);
/** The SDK's default export batch, and the service's (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
const BATCH = 512;

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** µs of CPU per command of `step`, which does `count` commands' worth; median of REPS. */
async function measure(step: (count: number) => unknown): Promise<number> {
  const per: number[] = [];
  await step(BATCH); // warm-up
  for (let rep = 0; rep < REPS; rep += 1) {
    const before = cpuNow();
    await step(SPANS_PER_REP);
    per.push((cpuNow() - before) / SPANS_PER_REP);
  }
  return median(per);
}

/** An exporter that keeps what it is given (to make the inputs of later steps) or drops it. */
class KeepingExporter implements SpanExporter {
  readonly kept: ReadableSpan[] = [];
  constructor(readonly keep: boolean) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.keep) this.kept.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function provider(exporter: SpanExporter): TracerProvider {
  return new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: 1000,
        maxQueueSize: 4096,
        maxExportBatchSize: BATCH,
      }),
    ],
  });
}

/** A command's span as the commander makes it (actors/commander/commander.ts), in a caller's context. */
function commandSpan(tracer: Tracer, msgId: number): void {
  const span = tracer.startSpan(SPANS.command, {
    kind: SpanKind.CLIENT,
    attributes: { [ATTR.opcode]: 'BLOCK_READ' },
  });
  span.setAttribute(ATTR.msgId, msgId).setAttribute(ATTR.generation, 1).setAttribute(ATTR.frameBytes, 40);
  span.setAttribute(ATTR.result, 'ok').setAttribute(ATTR.latencyMs, 1.234);
  span.end();
}

function startSink(): Promise<{ sink: ChildProcess; port: number }> {
  const sink = fork(new URL('./fixtures/otlp-sink.js', import.meta.url));
  return new Promise((resolve, reject) => {
    sink.once('message', (message) => resolve({ sink, port: (message as { port: number }).port }));
    sink.once('exit', () => reject(new Error('the OTLP sink exited')));
  });
}

function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<void> {
  return new Promise((resolve, reject) =>
    exporter.export(spans, (result) =>
      result.code === ExportResultCode.SUCCESS
        ? resolve()
        : reject(result.error ?? new Error('export failed')),
    ),
  );
}

async function main(): Promise<void> {
  const rows: Array<[string, string, number]> = [];
  const row = async (where: string, step: string, fn: (count: number) => unknown): Promise<void> => {
    rows.push([where, step, await measure(fn)]);
    console.error(`${where}: ${step}: ${(rows.at(-1) as [string, string, number])[2].toFixed(2)} µs`);
  };

  // --- in the commander's worker: the SDK's tracer, BSP and histogram; the actor's `sync` context
  context.setGlobalContextManager(new StackContextManager().enable());
  const dropping = provider(new KeepingExporter(false));
  const tracer = dropping.getTracer(SCOPE);
  await row('worker', 'span: start, 6 attributes, end, into the BatchSpanProcessor', async (n) => {
    for (let i = 0; i < n; i += 1) commandSpan(tracer, i);
    await dropping.forceFlush();
  });
  // A command's path carries a traceparent on two messages (API → commander, commander → connection):
  // each written from the sender's active context and read into the context its handler runs in.
  const caller = contextFromTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  await row('worker', 'context: 2 × (traceparent written, read, handler run in it)', (n) => {
    for (let i = 0; i < n; i += 1) {
      for (let hop = 0; hop < 2; hop += 1)
        context.with(contextFromTraceparent(traceparentOf(caller)), () => i);
    }
  });
  const reader = new (class extends MetricReader {
    protected onForceFlush(): Promise<void> {
      return Promise.resolve();
    }
    protected onShutdown(): Promise<void> {
      return Promise.resolve();
    }
  })();
  const histogram = new MeterProvider({ readers: [reader] })
    .getMeter(SCOPE)
    .createHistogram(METRICS.commandDuration, { unit: 'ms' });
  await row('worker', 'metric: latency histogram, 2 attributes', (n) => {
    for (let i = 0; i < n; i += 1)
      histogram.record(1.234, { [ATTR.opcode]: 'BLOCK_READ', [ATTR.result]: 'ok' });
  });

  // The finished spans of a batch, as the worker's exporter gets them.
  const keeping = new KeepingExporter(true);
  const keeper = provider(keeping);
  for (let i = 0; i < BATCH; i += 1) commandSpan(keeper.getTracer(SCOPE), i);
  await keeper.forceFlush();
  const batch = keeping.kept.slice(0, BATCH);
  await row('worker', 'hand-over: the spans as plain data (toSpansHandOver)', (n) => {
    for (let i = 0; i < n; i += BATCH) toSpansHandOver(batch);
  });
  const plain = toSpansHandOver(batch);
  await row('both', 'hand-over: structured clone (postMessage: write in the worker, read in main)', (n) => {
    for (let i = 0; i < n; i += BATCH) structuredClone(plain);
  });

  // --- in the main thread: the spans made ReadableSpans again into its BSP, then the exporter
  context.disable();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': 'tether' }));
  const extra = { [ATTR.actorId]: 'commander' };
  const mainBsp = new BatchSpanProcessor({
    exporter: new KeepingExporter(false),
    scheduledDelayMillis: 5000,
    maxQueueSize: 4096,
    maxExportBatchSize: BATCH,
  });
  // What the main thread receives (adding the actor's id to it again and again changes nothing more).
  const received = structuredClone(plain);
  await row('main', 'ReadableSpans again (fromSpansHandOver), into the BatchSpanProcessor', async (n) => {
    for (let i = 0; i < n; i += BATCH)
      for (const span of fromSpansHandOver(received, resource, extra)) mainBsp.onEnd(span);
    await mainBsp.forceFlush();
  });
  const rebuilt = fromSpansHandOver(received, resource, extra);
  await row('main', 'OTLP protobuf: the SDK serializer', (n) => {
    for (let i = 0; i < n; i += BATCH) ProtobufTraceSerializer.serializeRequest(rebuilt);
  });
  const { sink, port } = await startSink();
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces` });
  try {
    await row('main', 'OTLP/HTTP export (serializer included), 512 a request', async (n) => {
      for (let i = 0; i < n; i += BATCH)
        await context.with(ROOT_CONTEXT, () => exportOnce(exporter, rebuilt));
    });
  } finally {
    await exporter.shutdown();
    sink.kill();
  }
  await dropping.shutdown();
  await keeper.shutdown();
  trace.disable();
  context.disable();

  console.log(`\n## Telemetry parts — ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ` +
      `${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${REPS} repetitions of ${SPANS_PER_REP} commands, median\n`,
  );
  console.log('| thread | step | µs of CPU per command |');
  console.log('|---|---|---:|');
  for (const [where, step, us] of rows) console.log(`| ${where} | ${step} | ${us.toFixed(2)} |`);
  const serializer = rows.find(([, step]) => step.startsWith('OTLP protobuf'))?.[2] ?? 0;
  const total = rows.reduce((sum, [, step, us]) => (step.startsWith('OTLP protobuf') ? sum : sum + us), 0);
  console.log(
    `\nsum (the serializer once, inside the export): ${total.toFixed(2)} µs (serializer ${serializer.toFixed(2)})`,
  );
}

await main();
