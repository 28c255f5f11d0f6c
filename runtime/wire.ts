/**
 * The flat batch layout of `CallPacket` (see messages.ts): writing a batch
 * of call messages and reading one back. The only code that knows the layout.
 *
 * What a structured clone costs is mostly per element and per string: a
 * string is copied out on one side and allocated on the other (and a handler
 * lookup by a fresh string has to internalize it first). So each message
 * starts with one small integer that holds its kind and, for calls and
 * casts, its argument count and the indexes of its method name and
 * traceparent in tables the packet carries inline: a string travels once per
 * packet, the first time it is used, right after the header that refers to
 * it. A cast of `bump` with no arguments is one integer on the wire.
 *
 * Header bits, low to high:
 *   call / cast: tag (2), argument count (6; 63 = the count follows), method index (11), traceparent index (11)
 *   ok / err:    tag (2), call id (28)
 * Elements per message:
 *   call: header, id, [method], [traceparent], [count], ...args
 *   cast: header, [method], [traceparent], [count], ...args
 *   ok:   header, value
 *   err:  header, serialized error
 * where [method] and [traceparent] are there when the index is the next free
 * one in the packet's table (a string not used earlier in the packet). Every
 * header stays below 2^30, a small integer on every V8 build. Tables live
 * and die with one packet, so a packet that is lost (messageerror) takes no
 * later packet with it.
 */
import type { SerializedError } from './errors.js';
import type { CallMessage, CallPacket } from './messages.js';

const CALL = 0;
const CAST = 1;
const OK = 2;
const ERR = 3;

const COUNT_SHIFT = 2;
const COUNT_FOLLOWS = 63;
const METHOD_SHIFT = 8;
const TRACE_SHIFT = 19;
const INDEX_MASK = 0x7ff;

/**
 * Messages per packet. Large bursts are split so one postMessage never holds
 * an unbounded array; it also keeps each string table under its 2048 entries.
 */
export const PACKET_MESSAGES = 1024;

/** Call ids run from 1 to this and wrap: a reply carries its id in its header, beside the tag. */
export const MAX_CALL_ID = 0x0fffffff;

/** What a packet's messages are handed to, one method per kind, in order. */
export interface PacketSink {
  call(id: number, method: string, traceparent: string, args: unknown[]): void;
  cast(method: string, traceparent: string, args: unknown[]): void;
  ok(id: number, value: unknown): void;
  err(id: number, error: SerializedError): void;
}

/** Arguments of a message that has none: one shared array, never handed out to be changed. */
const NO_ARGS: unknown[] = [];

/** One packet's strings of one kind (method names, traceparents): their indexes, in order of first use. */
class StringTable {
  readonly #indexes = new Map<string, number>();
  // The last string and its index: a burst to one method in one context skips the Map.
  #last: string | undefined = undefined;
  #lastIndex = 0;
  /** Set by indexOf: the string is new to the packet, so it travels right after the header. */
  added = false;

  indexOf(value: string): number {
    if (value === this.#last) {
      this.added = false;
      return this.#lastIndex;
    }
    let index = this.#indexes.get(value);
    this.added = index === undefined;
    if (index === undefined) {
      index = this.#indexes.size;
      this.#indexes.set(value, index);
    }
    this.#last = value;
    this.#lastIndex = index;
    return index;
  }

  clear(): void {
    this.#indexes.clear();
    this.#last = undefined;
  }
}

/** Builds one packet at a time. */
export class PacketWriter {
  #packet: CallPacket = [];
  #messages = 0;
  readonly #methods = new StringTable();
  readonly #traces = new StringTable();

  get messages(): number {
    return this.#messages;
  }

  get full(): boolean {
    return this.#messages >= PACKET_MESSAGES;
  }

  call(id: number, method: string, traceparent: string, args: readonly unknown[]): void {
    this.#request(CALL, id, method, traceparent, args);
  }

  cast(method: string, traceparent: string, args: readonly unknown[]): void {
    this.#request(CAST, 0, method, traceparent, args);
  }

  ok(id: number, value: unknown): void {
    this.#packet.push(OK | (id << COUNT_SHIFT), value);
    this.#messages += 1;
  }

  err(id: number, error: SerializedError): void {
    this.#packet.push(ERR | (id << COUNT_SHIFT), error);
    this.#messages += 1;
  }

  write(message: CallMessage): void {
    switch (message.t) {
      case 'call':
        this.call(message.id, message.m, message.tp, message.a);
        return;
      case 'cast':
        this.cast(message.m, message.tp, message.a);
        return;
      case 'ok':
        this.ok(message.id, message.v);
        return;
      case 'err':
        this.err(message.id, message.e);
        return;
    }
  }

  /** The packet so far (undefined when empty); the writer starts a new one. */
  take(): CallPacket | undefined {
    if (this.#messages === 0) return undefined;
    const packet = this.#packet;
    this.#packet = [];
    this.#messages = 0;
    this.#methods.clear();
    this.#traces.clear();
    return packet;
  }

  #request(tag: number, id: number, method: string, traceparent: string, args: readonly unknown[]): void {
    // Only strings go in the tables (a caller from plain JavaScript may pass anything).
    if (typeof method !== 'string') method = String(method);
    if (typeof traceparent !== 'string') traceparent = String(traceparent);
    const packet = this.#packet;
    const methods = this.#methods;
    const traces = this.#traces;
    const methodIndex = methods.indexOf(method);
    const traceIndex = traces.indexOf(traceparent);
    const count = args.length;
    packet.push(
      tag |
        (Math.min(count, COUNT_FOLLOWS) << COUNT_SHIFT) |
        (methodIndex << METHOD_SHIFT) |
        (traceIndex << TRACE_SHIFT),
    );
    if (tag === CALL) packet.push(id);
    if (methods.added) packet.push(method);
    if (traces.added) packet.push(traceparent);
    if (count >= COUNT_FOLLOWS) packet.push(count);
    for (let k = 0; k < count; k += 1) packet.push(args[k]);
    this.#messages += 1;
  }
}

/**
 * Hands each message in the packet to the sink, in order. A malformed packet
 * (not one this module wrote) stops at the bad entry.
 */
export function readPacket(packet: CallPacket, sink: PacketSink): void {
  const methods: string[] = [];
  const traces: string[] = [];
  const length = packet.length;
  let i = 0;
  while (i < length) {
    const header = packet[i];
    if (typeof header !== 'number' || (header | 0) !== header || header < 0) return;
    const tag = header & 3;
    if (tag === OK) {
      sink.ok(header >>> COUNT_SHIFT, packet[i + 1]);
      i += 2;
      continue;
    }
    if (tag === ERR) {
      sink.err(header >>> COUNT_SHIFT, packet[i + 1] as SerializedError);
      i += 2;
      continue;
    }
    i += 1;
    let id = 0;
    if (tag === CALL) {
      id = packet[i] as number;
      i += 1;
    }
    const methodIndex = (header >>> METHOD_SHIFT) & INDEX_MASK;
    if (methodIndex === methods.length) {
      methods.push(packet[i] as string);
      i += 1;
    }
    const traceIndex = (header >>> TRACE_SHIFT) & INDEX_MASK;
    if (traceIndex === traces.length) {
      traces.push(packet[i] as string);
      i += 1;
    }
    const method = methods[methodIndex];
    const traceparent = traces[traceIndex];
    if (typeof method !== 'string' || typeof traceparent !== 'string') return;
    let count = (header >>> COUNT_SHIFT) & COUNT_FOLLOWS;
    if (count === COUNT_FOLLOWS) {
      count = packet[i] as number;
      i += 1;
      if (typeof count !== 'number' || !(count >= COUNT_FOLLOWS) || i + count > length) return;
    } else if (i + count > length) return;
    const args = count === 0 ? NO_ARGS : packet.slice(i, i + count);
    i += count;
    if (tag === CALL) sink.call(id, method, traceparent, args);
    else sink.cast(method, traceparent, args);
  }
}

/** The messages of a packet as objects: for the rare paths (a batch that could not be sent). */
export function messagesOf(packet: CallPacket): CallMessage[] {
  const messages: CallMessage[] = [];
  readPacket(packet, {
    call: (id, m, tp, a) => messages.push({ t: 'call', id, m, tp, a }),
    cast: (m, tp, a) => messages.push({ t: 'cast', m, tp, a }),
    ok: (id, v) => messages.push({ t: 'ok', id, v }),
    err: (id, e) => messages.push({ t: 'err', id, e }),
  });
  return messages;
}
