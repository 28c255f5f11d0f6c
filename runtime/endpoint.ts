/**
 * The transport under calls: a MessagePort with batching. Messages sent in
 * the same synchronous stretch of code leave in one postMessage at the next
 * microtask, so a burst of calls (or of replies) costs one structured clone
 * and one event on the other side instead of one each. Messages travel in
 * the flat layout of wire.ts, which clones faster than objects.
 */
import type { MessagePort } from 'node:worker_threads';
import type { CallMessage, CallPacket } from './messages.js';
import { appendMessage, readPacket } from './wire.js';

/** Large bursts are split so one postMessage never holds an unbounded array. */
const MAX_BATCH = 1024;

export class BatchingEndpoint {
  readonly #port: MessagePort;
  /** Messages waiting for the next flush, already laid out flat. */
  #packet: CallPacket = [];
  #queued = 0;
  #flushScheduled = false;
  #closed = false;

  readonly #onUndeliverable: (message: CallMessage, error: unknown) => void;

  /**
   * @param onUndeliverable called for a message that cannot be cloned (a function in the
   *   arguments, say); the batch it was in is resent one by one so the others still go.
   * @param onUnreadable called when a packet arrived but could not be deserialized here
   *   (`messageerror`: a value nested too deep for this thread's stack, say). Which messages
   *   it held is unknown on this side; the ref and the server find out (ref.ts, server.ts).
   */
  constructor(
    port: MessagePort,
    onMessage: (message: CallMessage) => void,
    onClose: () => void,
    onUndeliverable: (message: CallMessage, error: unknown) => void,
    onUnreadable: (error: unknown) => void = () => undefined,
  ) {
    this.#port = port;
    this.#onUndeliverable = onUndeliverable;
    port.on('message', (packet: CallPacket) => {
      if (Array.isArray(packet)) readPacket(packet, onMessage);
    });
    port.on('messageerror', onUnreadable);
    port.once('close', () => {
      this.#closed = true;
      this.#packet = [];
      this.#queued = 0;
      onClose();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(message: CallMessage): void {
    if (this.#closed) return;
    appendMessage(this.#packet, message);
    this.#queued += 1;
    if (this.#queued >= MAX_BATCH) {
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
    const packet = this.#packet;
    if (this.#queued === 0 || this.#closed) return;
    this.#packet = [];
    this.#queued = 0;
    try {
      this.#port.postMessage(packet);
    } catch {
      // Rare (an argument that cannot be cloned): resend one by one so only the culprit fails.
      readPacket(packet, (message) => {
        try {
          const single: CallPacket = [];
          appendMessage(single, message);
          this.#port.postMessage(single);
        } catch (error) {
          this.#onUndeliverable(message, error);
        }
      });
    }
  }

  /** Sends what is queued, then closes the port; the peer sees 'close'. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#port.close();
  }
}
