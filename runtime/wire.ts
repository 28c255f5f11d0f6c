/**
 * Encoding of call messages into the flat batch layout of `CallPacket`
 * (see messages.ts), and back.
 */
import type { SerializedError } from './errors.js';
import type { CallMessage, CallPacket } from './messages.js';

const CALL = 0;
const CAST = 1;
const OK = 2;
const ERR = 3;

export function appendMessage(packet: CallPacket, message: CallMessage): void {
  switch (message.t) {
    case 'call':
      packet.push(CALL, message.id, message.m, message.tp, message.a.length, ...message.a);
      return;
    case 'cast':
      packet.push(CAST, message.m, message.tp, message.a.length, ...message.a);
      return;
    case 'ok':
      packet.push(OK, message.id, message.v);
      return;
    case 'err':
      packet.push(ERR, message.id, message.e);
      return;
  }
}

/** Calls `onMessage` for each message in the packet, in order. A malformed packet stops at the bad entry. */
export function readPacket(packet: CallPacket, onMessage: (message: CallMessage) => void): void {
  let i = 0;
  while (i < packet.length) {
    const tag = packet[i];
    if (tag === CALL) {
      const count = packet[i + 4] as number;
      onMessage({
        t: 'call',
        id: packet[i + 1] as number,
        m: packet[i + 2] as string,
        tp: packet[i + 3] as string,
        a: packet.slice(i + 5, i + 5 + count),
      });
      i += 5 + count;
    } else if (tag === CAST) {
      const count = packet[i + 3] as number;
      onMessage({
        t: 'cast',
        m: packet[i + 1] as string,
        tp: packet[i + 2] as string,
        a: packet.slice(i + 4, i + 4 + count),
      });
      i += 4 + count;
    } else if (tag === OK) {
      onMessage({ t: 'ok', id: packet[i + 1] as number, v: packet[i + 2] });
      i += 3;
    } else if (tag === ERR) {
      onMessage({ t: 'err', id: packet[i + 1] as number, e: packet[i + 2] as SerializedError });
      i += 3;
    } else {
      return;
    }
  }
}
