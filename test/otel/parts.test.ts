import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { pino } from 'pino';
import { ExportErrorLog } from '../../otel/export-errors.js';
import { traceLogFields } from '../../otel/log.js';
import { disconnectCategory } from '../../otel/names.js';
import { contextFromTraceparent, traceparentOf } from '../../otel/traceparent.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('telemetry parts', () => {
  it('a traceparent becomes a remote parent context and formats back the same; a malformed one is no parent', () => {
    const spanContext = trace.getSpanContext(contextFromTraceparent(TP));
    assert.deepEqual(
      { ...spanContext },
      {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      },
    );
    assert.equal(traceparentOf(contextFromTraceparent(TP)), TP);
    assert.equal(traceparentOf(ROOT_CONTEXT), '');
    for (const bad of ['', 'garbage', '00-00000000000000000000000000000000-b7ad6b7169203331-01']) {
      assert.equal(trace.getSpanContext(contextFromTraceparent(bad)), undefined, bad);
    }
  });

  it('traceparents read and written one after another each keep their own trace', () => {
    const other = '00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00';
    for (const tp of [TP, TP, other, other, TP]) {
      const ctx = contextFromTraceparent(tp);
      assert.equal(traceparentOf(ctx), tp);
      assert.equal(traceparentOf(ctx), tp);
      assert.equal(trace.getSpanContext(ctx)?.traceId, tp.slice(3, 35));
    }
    assert.equal(traceparentOf(ROOT_CONTEXT), '');
  });

  it('export failures are logged once per period, with the count kept quiet in between', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _e, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    let now = 0;
    const errors = new ExportErrorLog(logger, 60_000, () => now);
    for (let i = 0; i < 50; i += 1) {
      errors.report(new Error('ECONNREFUSED'));
      now += 1000;
    }
    assert.equal(lines.length, 1);
    now = 61_000;
    errors.report(new Error('ECONNREFUSED'));
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.['suppressedSinceLast'], 49);
  });

  it('free-text disconnect reasons map to a small set of categories for metrics', () => {
    assert.equal(
      disconnectCategory('controller silent: no answer to NONE within 500ms'),
      'controller_silent',
    );
    assert.equal(disconnectCategory('command timeout and NONE check failed'), 'command_timeout');
    assert.equal(disconnectCategory('controller reset: watchdog (none)'), 'controller_reset');
    assert.equal(disconnectCategory('closed by the controller'), 'closed_by_controller');
    assert.equal(disconnectCategory('commander stopped: crash (uncaughtException): x'), 'actor_exit');
    assert.equal(disconnectCategory('service stopping'), 'service_stopping');
    assert.equal(disconnectCategory('something new'), 'other');
  });

  it('main-thread log lines carry trace_id and span_id inside a span, and nothing outside one', () => {
    assert.equal(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()), true);
    try {
      const lines: Array<Record<string, unknown>> = [];
      const logger = pino(
        { mixin: traceLogFields },
        new Writable({
          write(chunk: Buffer, _e, done) {
            lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
            done();
          },
        }),
      );
      context.with(contextFromTraceparent(TP), () => logger.info('inside'));
      logger.info('outside');
      assert.equal(lines[0]?.['trace_id'], '0af7651916cd43dd8448eb211c80319c');
      assert.equal(lines[0]?.['span_id'], 'b7ad6b7169203331');
      assert.equal('trace_id' in (lines[1] ?? {}), false);
    } finally {
      context.disable();
    }
  });
});
