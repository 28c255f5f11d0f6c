/**
 * The transport under calls: a MessagePort with batching. Messages sent in
 * the same synchronous stretch of code leave in one postMessage at the next
 * microtask, so a burst of calls (or of replies) costs one structured clone
 * and one event on the other side instead of one each. A lone message goes
 * as itself, so a single round trip pays nothing for batching.
 */
import type { MessagePort } from 'node:worker_threads';
import type { CallMessage, CallPacket } from './messages.js';

/** Large bursts are split so one postMessage never holds an unbounded array. */
const MAX_BATCH = 256;

export class BatchingEndpoint {
  readonly #port: MessagePort;
  #queue: CallMessage[] = [];
  #flushScheduled = false;
  #closed = false;

  readonly #onUndeliverable: (message: CallMessage, error: unknown) => void;

  /**
   * @param onUndeliverable called for a message that cannot be cloned (a function in the
   *   arguments, say); the batch it was in is resent one by one so the others still go.
   */
  constructor(
    port: MessagePort,
    onMessage: (message: CallMessage) => void,
    onClose: () => void,
    onUndeliverable: (message: CallMessage, error: unknown) => void,
  ) {
    this.#port = port;
    this.#onUndeliverable = onUndeliverable;
    port.on('message', (packet: CallPacket) => {
      if (Array.isArray(packet)) for (const message of packet) onMessage(message);
      else onMessage(packet);
    });
    port.once('close', () => {
      this.#closed = true;
      this.#queue = [];
      onClose();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(message: CallMessage): void {
    if (this.#closed) return;
    this.#queue.push(message);
    if (this.#queue.length >= MAX_BATCH) {
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
    const queue = this.#queue;
    if (queue.length === 0 || this.#closed) return;
    this.#queue = [];
    try {
      this.#port.postMessage(queue.length === 1 ? queue[0] : queue);
    } catch {
      for (const message of queue) {
        try {
          this.#port.postMessage(message);
        } catch (error) {
          this.#onUndeliverable(message, error);
        }
      }
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
