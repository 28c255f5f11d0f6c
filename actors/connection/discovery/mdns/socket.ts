/**
 * One multicast DNS socket (the `multicast-dns` package) with what tether
 * needs around it: opening settles (ready or the bind error, within a
 * deadline), closing settles, and what arrives is sorted into responses,
 * queries, malformed packets and network trouble for the caller to count.
 *
 * `interface` names the IPv4 address of one network interface (what the
 * tests use: 127.0.0.1). The socket is then still bound to 0.0.0.0, because
 * a socket bound to 127.0.0.1 never sees packets addressed to the group.
 */
import type { RemoteInfo } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import makeMdns from 'multicast-dns';
import type { Answer, Question } from 'dns-packet';

export interface MdnsSocketOptions {
  /** UDP port; default 5353. */
  port?: number;
  /** IPv4 address of the interface to use; '' or absent for all. */
  interface?: string;
  /** How long binding may take; default 5000 ms. */
  openTimeoutMs?: number;
}

export interface MdnsSocketHandlers {
  onResponse?(packet: unknown, sender: RemoteInfo): void;
  onQuery?(packet: unknown, sender: RemoteInfo): void;
  /** A packet that did not decode as DNS. */
  onMalformed?(error: Error): void;
  /** A send, membership or socket error: the network, not the peer. */
  onNetworkError?(error: Error): void;
}

export interface MdnsSocket {
  query(questions: Question[]): Promise<void>;
  respond(answers: Answer[], additionals?: Answer[]): Promise<void>;
  /** Idempotent; resolves once the socket is closed. */
  close(): Promise<void>;
}

export const MDNS_DEFAULTS = { port: 5353, openTimeoutMs: 5000 } as const;

export function openMdnsSocket(
  options: MdnsSocketOptions,
  handlers: MdnsSocketHandlers,
): Promise<MdnsSocket> {
  const iface = options.interface ?? '';
  const mdns = makeMdns({
    port: options.port ?? MDNS_DEFAULTS.port,
    ...(iface === '' ? {} : { interface: iface, bind: '0.0.0.0' }),
    reuseAddr: true,
    loopback: true,
  });
  mdns.on('response', (packet, rinfo) => handlers.onResponse?.(packet, rinfo));
  mdns.on('query', (packet, rinfo) => handlers.onQuery?.(packet, rinfo));
  // multicast-dns reports both decode failures and socket trouble as warnings; socket errors carry a code.
  mdns.on('warning', (error: Error) => {
    if (isSystemError(error)) handlers.onNetworkError?.(error);
    else handlers.onMalformed?.(error);
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      try {
        mdns.destroy(() => resolve());
      } catch {
        resolve(); // a socket that never bound cannot be closed, and is closed all the same
      }
    }));
  const send = (run: (done: (error: Error | null) => void) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      if (closing !== undefined) {
        resolve();
        return;
      }
      run((error) => (error === null || error === undefined ? resolve() : reject(error)));
    });

  const socket: MdnsSocket = {
    query: (questions) => send((done) => mdns.query({ questions }, (error) => done(error))),
    respond: (answers, additionals = []) =>
      send((done) => mdns.respond({ answers, additionals }, (error) => done(error))),
    close,
  };

  return new Promise<MdnsSocket>((resolve, reject) => {
    const timeoutMs = options.openTimeoutMs ?? MDNS_DEFAULTS.openTimeoutMs;
    let open = false;
    const fail = (error: Error): void => {
      clearTimeout(timer);
      mdns.off('ready', ready);
      void close().then(() => reject(error));
    };
    const timer = setTimeout(
      () => fail(new Error(`the mDNS socket did not bind within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const ready = (): void => {
      clearTimeout(timer);
      open = true;
      resolve(socket);
    };
    // Always listened to: an 'error' nobody listens to would throw. Before ready it fails the open;
    // after, it is network trouble (EACCES, EADDRINUSE), never a throw.
    mdns.on('error', (error: Error) => {
      if (open) handlers.onNetworkError?.(error);
      else if (closing === undefined) fail(error);
    });
    mdns.once('ready', ready);
  });
}

/**
 * A check of "is this address this machine" (loopback, or one of its own
 * IPv4 addresses). The list of addresses is read again at most every
 * `ttlMs`, so a flood of packets does not read it once each.
 */
export function localAddressCheck(
  now: () => number = Date.now,
  ttlMs = 30_000,
): (address: string) => boolean {
  let known: { addresses: Set<string>; at: number } | undefined;
  return (address) => {
    if (isLoopbackAddress(address)) return true;
    const at = now();
    if (known === undefined || at - known.at > ttlMs) known = { addresses: ownAddresses(), at };
    return known.addresses.has(address);
  };
}

function ownAddresses(): Set<string> {
  const found = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4') found.add(entry.address);
  }
  return found;
}

export function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.');
}

function isSystemError(error: Error): boolean {
  return typeof (error as { code?: unknown }).code === 'string';
}
