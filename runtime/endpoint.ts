/**
 * The transport under calls: a MessagePort with batching. Messages sent in
 * the same synchronous stretch of code leave in one postMessage at the next
 * microtask, so a burst of calls (or of replies) costs one structured clone
 * and one event on the other side instead of one each. Messages travel in
 * the flat layout of wire.ts, which clones faster than objects, and are
 * written there directly: no object per message on the way out or in.
 */
import { receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from './errors.js';
import type { CallMessage, CallPacket } from './messages.js';
import { PacketWriter, messagesOf, readPacket } from './wire.js';
import type { PacketSink } from './wire.js';

export class BatchingEndpoint {
  readonly #port: MessagePort;
  /** Messages waiting for the next flush, already laid out flat. */
  readonly #writer = new PacketWriter();
  #flushScheduled = false;
  #closed = false;

  readonly #onUndeliverable: (message: CallMessage, error: unknown) => void;
  readonly #sink: PacketSink;

  /**
   * @param sink takes each message that arrives, in order.
   * @param onUndeliverable called for a message that cannot be cloned (a function in the
   *   arguments, say); the batch it was in is resent one by one so the others still go.
   * @param onUnreadable called when a packet arrived but could not be deserialized here
   *   (`messageerror`: a value nested too deep for this thread's stack, say). Which messages
   *   it held is unknown on this side; the ref and the server find out (ref.ts, server.ts).
   */
  constructor(
    port: MessagePort,
    sink: PacketSink,
    onClose: () => void,
    onUndeliverable: (message: CallMessage, error: unknown) => void,
    onUnreadable: (error: unknown) => void = () => undefined,
  ) {
    this.#port = port;
    this.#onUndeliverable = onUndeliverable;
    this.#sink = sink;
    port.on('message', (packet: CallPacket) => {
      if (Array.isArray(packet)) readPacket(packet, sink);
    });
    port.on('messageerror', onUnreadable);
    port.once('close', () => {
      this.#closed = true;
      this.#writer.take();
      onClose();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  sendCall(id: number, method: string, traceparent: string, args: readonly unknown[]): void {
    if (this.#closed) return;
    this.#writer.call(id, method, traceparent, args);
    this.#sent();
  }

  sendCast(method: string, traceparent: string, args: readonly unknown[]): void {
    if (this.#closed) return;
    this.#writer.cast(method, traceparent, args);
    this.#sent();
  }

  sendOk(id: number, value: unknown): void {
    if (this.#closed) return;
    this.#writer.ok(id, value);
    this.#sent();
  }

  sendErr(id: number, error: SerializedError): void {
    if (this.#closed) return;
    this.#writer.err(id, error);
    this.#sent();
  }

  send(message: CallMessage): void {
    if (this.#closed) return;
    this.#writer.write(message);
    this.#sent();
  }

  #sent(): void {
    // A whole burst leaves as one packet (up to PACKET_MESSAGES): each postMessage wakes the other
    // thread, and on a busy machine a wake-up costs more than the messages it carries (see
    // docs/performance.md: a first packet of 64, to start the other thread sooner, measured slower).
    if (this.#writer.full) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushFromMicrotask);
    }
  }

  readonly #flushFromMicrotask = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#closed) return;
    const packet = this.#writer.take();
    if (packet === undefined) return;
    try {
      this.#port.postMessage(packet);
    } catch {
      // Rare (an argument that cannot be cloned): resend one by one so only the culprit fails.
      for (const message of messagesOf(packet)) {
        const single = new PacketWriter();
        single.write(message);
        try {
          this.#port.postMessage(single.take());
        } catch (error) {
          this.#onUndeliverable(message, error);
        }
      }
    }
  }

  /**
   * The peer is gone: takes at once, in order, every message it sent that
   * has arrived but not yet been handled (they are in this port's queue the
   * moment the peer's postMessage returned), then closes the port. What the
   * peer did before it ended is seen; nothing more can come.
   */
  drainAndClose(): void {
    if (this.#closed) return;
    for (
      let next = receiveMessageOnPort(this.#port);
      next !== undefined;
      next = receiveMessageOnPort(this.#port)
    ) {
      const packet = next.message as CallPacket;
      if (Array.isArray(packet)) readPacket(packet, this.#sink);
    }
    this.#writer.take();
    this.#closed = true;
    this.#port.close();
  }

  /** Sends what is queued, then closes the port; the peer sees 'close'. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#port.close();
  }
}
