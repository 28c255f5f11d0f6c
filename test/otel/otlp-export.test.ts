/**
 * The main thread's queue of worker spans that arrive encoded: bounded
 * (drops and counts, never blocks), a request per batch, one at a time,
 * everything sent on flush.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { EncodedSpanQueue } from '../../otel/otlp-export.js';
import type { TraceRequestSender } from '../../otel/otlp-export.js';

interface Sent {
  spans: number;
  bytes: number;
  settle: () => void;
}

function fakeSender() {
  const sent: Sent[] = [];
  let shutdown = false;
  const sender: TraceRequestSender = {
    send: (body, spans) =>
      new Promise<void>((resolve) => {
        sent.push({ spans, bytes: body.length, settle: resolve });
      }),
    shutdown: () => {
      shutdown = true;
      return Promise.resolve();
    },
  };
  return { sender, sent, isShut: () => shutdown };
}

const chunk = (spans: number) => ({ otlp: new Uint8Array(10 * spans), spans, scope: { name: 'tether' } });
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the queue of encoded worker spans', () => {
  it('sends a request once a batch is waiting, one at a time, and drops (counting) beyond its bound', async () => {
    const { sender, sent } = fakeSender();
    const errors: unknown[] = [];
    const queue = new EncodedSpanQueue(resourceFromAttributes({ 'service.name': 't' }), sender, {
      maxQueueSize: 1000,
      maxBatchSize: 200,
      delayMs: 60_000,
      onError: (error) => errors.push(error),
    });
    queue.add(chunk(100));
    await tick();
    assert.equal(sent.length, 0, 'below a batch it waits for the delay');
    queue.add(chunk(100));
    await tick();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.spans, 200);
    for (let i = 0; i < 10; i += 1) queue.add(chunk(100));
    await tick();
    assert.equal(sent.length, 1, 'the next export waits for the one in flight');
    assert.equal(queue.dropped, 0);
    queue.add(chunk(100));
    assert.equal(queue.dropped, 100, 'beyond 1000 waiting, a chunk is dropped');
    assert.equal(errors.length, 1);
    sent[0]?.settle();
    await tick();
    await tick();
    assert.equal(sent.length, 2);
    assert.equal(sent[1]?.spans, 200);
    let done = false;
    const flushed = queue.forceFlush().then(() => {
      done = true;
    });
    for (let settled = 1; !done; await tick()) {
      while (settled < sent.length) sent[settled++]?.settle();
    }
    await flushed;
    assert.equal(
      sent.reduce((n, s) => n + s.spans, 0),
      1200,
      'all but the dropped chunk were sent',
    );
  });

  it('sends what waits after the delay, and everything before shutting the sender down', async () => {
    const { sender, sent, isShut } = fakeSender();
    const queue = new EncodedSpanQueue(resourceFromAttributes({}), sender, {
      maxQueueSize: 100,
      maxBatchSize: 50,
      delayMs: 10,
      onError: () => undefined,
    });
    queue.add(chunk(3));
    await new Promise<void>((resolve) => {
      const started = Date.now();
      const poll = (): void => {
        if (sent.length > 0 || Date.now() - started > 5000) resolve();
        else setTimeout(poll, 5);
      };
      poll();
    });
    assert.equal(sent[0]?.spans, 3);
    sent[0]?.settle();
    queue.add(chunk(2));
    const stopping = queue.shutdown();
    await tick();
    await tick();
    sent[1]?.settle();
    await stopping;
    assert.equal(sent[1]?.spans, 2);
    assert.equal(isShut(), true);
    queue.add(chunk(1));
    assert.equal(sent.length, 2, 'nothing is taken after shutdown');
  });
});
