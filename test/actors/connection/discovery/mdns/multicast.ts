/**
 * Real multicast DNS for tests, on loopback: every test takes a port of its
 * own (not 5353), so parallel test files and the machine's own mDNS never
 * hear each other, and the interface is 127.0.0.1, which carries multicast
 * here (checked: a datagram to 224.0.0.251 from one socket reaches another
 * socket joined on 127.0.0.1).
 */
import dgram from 'node:dgram';
import makeMdns from 'multicast-dns';
import type { Answer } from 'dns-packet';
import { Recorder } from '../../../../recorder.js';

export const LOOPBACK = '127.0.0.1';
const GROUP = '224.0.0.251';

/** A port for one test's mDNS traffic (random, away from 5353 and the ephemeral range). */
export function testMdnsPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

export interface Peer {
  /** Every response seen on the port (ours and everyone else's). */
  readonly responses: Recorder<{ answers: Answer[]; additionals: Answer[] }>;
  query(name: string, type: 'PTR' | 'SRV' | 'A'): Promise<void>;
  respond(answers: Answer[], additionals?: Answer[]): Promise<void>;
  /** Sends bytes as they are (garbage, truncated packets) to the group. */
  sendRaw(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Another mDNS node on the test port: a querier, or a hostile responder. */
export async function openPeer(port: number): Promise<Peer> {
  const mdns = makeMdns({ port, interface: LOOPBACK, bind: '0.0.0.0', loopback: true });
  const responses = new Recorder<{ answers: Answer[]; additionals: Answer[] }>();
  mdns.on('response', (packet) =>
    responses.push({ answers: packet.answers, additionals: packet.additionals }),
  );
  mdns.on('warning', () => {});
  await new Promise<void>((resolve, reject) => {
    mdns.once('ready', resolve);
    mdns.once('error', reject);
  });
  const raw = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) => raw.bind(0, LOOPBACK, resolve));
  raw.setMulticastInterface(LOOPBACK);
  const sent = (resolve: () => void, reject: (e: Error) => void) => (error: Error | null) =>
    error ? reject(error) : resolve();
  return {
    responses,
    query: (name, type) =>
      new Promise((resolve, reject) => mdns.query({ questions: [{ name, type }] }, sent(resolve, reject))),
    respond: (answers, additionals = []) =>
      new Promise((resolve, reject) => mdns.respond({ answers, additionals }, sent(resolve, reject))),
    sendRaw: (bytes) => new Promise((resolve, reject) => raw.send(bytes, port, GROUP, sent(resolve, reject))),
    close: async () => {
      await new Promise<void>((resolve) => mdns.destroy(() => resolve()));
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    },
  };
}
