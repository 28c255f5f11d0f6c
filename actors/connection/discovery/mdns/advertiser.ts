/**
 * Advertising controllers on multicast DNS, for what stands in for one: the
 * simulator (`tether sim`, and the service's built-in one) and the USB
 * bridge, one entry per controller it serves. Records as a Spark writes them
 * (records.ts), so brewblox finds these too.
 *
 * A responder, not a full mDNS stack: it answers questions about
 * `_brewblox._tcp.local`, a service instance, or its host; announces a
 * service when it starts (twice, a second apart, RFC 6762 section 8.3) and
 * says goodbye (TTL 0) when it stops. No probing or conflict resolution:
 * instance names carry the device id, which is unique by construction.
 *
 * Which address goes in the A record depends on where the service listens:
 *
 *   a specific IPv4 address   that address
 *   loopback (127.0.0.1)      that address, but only to a querier on this machine,
 *                             and announced only when mDNS itself runs on loopback
 *   0.0.0.0                   the address of ours on the querier's subnet (127.0.0.1
 *                             to a querier on loopback), else all of ours
 *
 * Queries are outside input: a packet that does not decode is counted and
 * skipped, at most 16 questions of one packet are looked at, and a service
 * is multicast at most once a second however often it is asked (RFC 6762
 * section 6: a question within that second is answered when it is up, once
 * for all of them), so a flood of queries cannot turn into a flood of answers.
 */
import type { RemoteInfo } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Answer } from 'dns-packet';
import type { ActorLogger } from '../../../../runtime/actor.js';
import { LogLimiter } from '../../../../runtime/log-limiter.js';
import {
  CONTROLLER_SERVICE,
  ID_KEY,
  SERVICE_TYPES,
  hostLabel,
  hostName,
  instanceLabel,
  serviceName,
  serviceRecords,
  serviceTypeRecord,
  type AdvertisedService,
} from './records.js';
import {
  isLoopbackAddress,
  localAddressCheck,
  openMdnsSocket,
  type MdnsSocket,
  type MdnsSocketOptions,
} from './socket.js';

export interface MdnsAdvertiserOptions extends MdnsSocketOptions {
  log: ActorLogger;
  now?: () => number;
}

export interface ServiceAd {
  /** 24 hex digits: the TXT `ID` entry that discovery matches. */
  deviceId: string;
  /** Instance label; default the device id (as a Spark names itself). */
  instance?: string;
  /** Host label, without `.local`. */
  host: string;
  /** TCP port clients connect to. */
  port: number;
  /** Where that TCP server listens: decides the A records (see above). */
  listenHost: string;
  /** More TXT entries (VERSION, PLATFORM, HW). */
  txt?: Record<string, string>;
}

export interface Advertisement {
  readonly name: string;
  /** Says goodbye and stops answering for this service. Idempotent. */
  withdraw(): Promise<void>;
}

export interface MdnsAdvertiserCounters {
  queries: number;
  answers: number;
  /** Answers held back because the service was multicast less than a second before. */
  rateLimited: number;
  malformed: number;
  networkErrors: number;
}

export const ADVERTISER_LIMITS = {
  questionsPerPacket: 16,
  /** RFC 6762 section 6: a record is multicast at most once per second. */
  minAnswerGapMs: 1000,
  /** The second announcement follows the first after this long. */
  announceGapMs: 1000,
  services: 64,
} as const;

interface Entry {
  readonly service: AdvertisedService;
  readonly listenHost: string;
  lastAnsweredAt: number;
  announceTimer: NodeJS.Timeout | undefined;
  /** An answer held back by the one-second rule, sent when the second is up (one at most). */
  deferred: { timer: NodeJS.Timeout; querier: Querier } | undefined;
}

interface Querier {
  address: string;
  local: boolean;
}

export class MdnsAdvertiser {
  readonly #socket: MdnsSocket;
  readonly #interface: string;
  readonly #log: ActorLogger;
  readonly #now: () => number;
  readonly #limiter: LogLimiter;
  readonly #isLocal: (address: string) => boolean;
  readonly #entries = new Map<string, Entry>();
  readonly #counters: MdnsAdvertiserCounters = {
    queries: 0,
    answers: 0,
    rateLimited: 0,
    malformed: 0,
    networkErrors: 0,
  };
  #closing: Promise<void> | undefined;

  /** Opens the socket; rejects with its bind error (a port taken without address reuse, no permission). */
  static async start(options: MdnsAdvertiserOptions): Promise<MdnsAdvertiser> {
    const ref: { advertiser?: MdnsAdvertiser } = {};
    // Packets that arrive before the constructor ran find no advertiser yet: nothing to answer for.
    const socket = await openMdnsSocket(options, {
      onQuery: (packet, sender) => {
        if (ref.advertiser !== undefined) ref.advertiser.#onQuery(packet, sender);
      },
      onMalformed: (error) => {
        if (ref.advertiser !== undefined)
          ref.advertiser.#trouble('malformed', 'mDNS: a packet that is not DNS was skipped', error);
      },
      onNetworkError: (error) => {
        if (ref.advertiser !== undefined)
          ref.advertiser.#trouble('networkErrors', 'mDNS: network error', error);
      },
    });
    ref.advertiser = new MdnsAdvertiser(socket, options);
    return ref.advertiser;
  }

  private constructor(socket: MdnsSocket, options: MdnsAdvertiserOptions) {
    this.#socket = socket;
    this.#interface = options.interface ?? '';
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#limiter = new LogLimiter({ periodMs: 10_000, burst: 1 });
    this.#isLocal = localAddressCheck(this.#now);
  }

  get counters(): MdnsAdvertiserCounters {
    return { ...this.#counters };
  }

  /** Starts answering for a service and announces it. A second service by the same name replaces the first. */
  advertise(ad: ServiceAd): Advertisement {
    const service: AdvertisedService = {
      instance: instanceLabel(ad.instance ?? ad.deviceId),
      host: hostLabel(ad.host),
      port: ad.port,
      txt: { [ID_KEY]: ad.deviceId, ...ad.txt },
    };
    const name = serviceName(service).toLowerCase();
    const previous = this.#entries.get(name);
    if (previous !== undefined) stopTimers(previous);
    const entry: Entry = {
      service,
      listenHost: ad.listenHost,
      lastAnsweredAt: -Infinity,
      announceTimer: undefined,
      deferred: undefined,
    };
    if (
      this.#closing === undefined &&
      (previous !== undefined || this.#entries.size < ADVERTISER_LIMITS.services)
    ) {
      this.#entries.set(name, entry);
      this.#announce(entry, 2);
    }
    let withdrawn: Promise<void> | undefined;
    return {
      name: serviceName(service),
      withdraw: () => (withdrawn ??= this.#withdraw(name, entry)),
    };
  }

  /** Goodbye for every service, then the socket closes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const entries = [...this.#entries.entries()];
      await Promise.all(entries.map(([name, entry]) => this.#withdraw(name, entry)));
      await this.#socket.close();
    })();
    return this.#closing;
  }

  // ------------------------------------------------------------- answering

  #onQuery(packet: unknown, sender: RemoteInfo): void {
    if (this.#closing !== undefined) return;
    this.#counters.queries += 1;
    const questions = questionsOf(packet).slice(0, ADVERTISER_LIMITS.questionsPerPacket);
    const wanted = new Set<Entry>();
    let types = false;
    for (const { name, type } of questions) {
      const any = type === 'ANY';
      if (name === CONTROLLER_SERVICE && (type === 'PTR' || any)) {
        for (const entry of this.#entries.values()) wanted.add(entry);
      } else if (name === SERVICE_TYPES && (type === 'PTR' || any)) {
        types = this.#entries.size > 0;
      } else {
        for (const [key, entry] of this.#entries) {
          const service = key === name && (type === 'SRV' || type === 'TXT' || any);
          const host = hostName(entry.service) === name && (type === 'A' || any);
          if (service || host) wanted.add(entry);
        }
      }
    }
    const querier: Querier = { address: sender.address, local: this.#isLocal(sender.address) };
    const answers: Answer[] = types ? [serviceTypeRecord()] : [];
    const additionals: Answer[] = [];
    const now = this.#now();
    for (const entry of wanted) {
      const addresses = addressesFor(entry.listenHost, querier, this.#interface);
      if (addresses.length === 0) continue; // not reachable from where the question came
      const wait = entry.lastAnsweredAt + ADVERTISER_LIMITS.minAnswerGapMs - now;
      if (wait > 0) {
        // Multicast less than a second ago: answer when the second is up, once for every query until then.
        this.#counters.rateLimited += 1;
        this.#defer(entry, querier, wait);
        continue;
      }
      entry.lastAnsweredAt = now;
      const records = serviceRecords(entry.service, addresses);
      answers.push(...records.answers);
      additionals.push(...records.additionals);
    }
    if (answers.length === 0) return;
    this.#counters.answers += 1;
    this.#socket.respond(answers, additionals).catch((error: unknown) => this.#sendFailed(error));
  }

  #defer(entry: Entry, querier: Querier, waitMs: number): void {
    if (entry.deferred !== undefined) {
      entry.deferred.querier = querier;
      return;
    }
    const timer = setTimeout(() => {
      const deferred = entry.deferred;
      entry.deferred = undefined;
      if (deferred === undefined || this.#closing !== undefined) return;
      const addresses = addressesFor(entry.listenHost, deferred.querier, this.#interface);
      if (addresses.length === 0) return;
      entry.lastAnsweredAt = this.#now();
      this.#counters.answers += 1;
      const records = serviceRecords(entry.service, addresses);
      this.#socket
        .respond(records.answers, records.additionals)
        .catch((error: unknown) => this.#sendFailed(error));
    }, waitMs);
    entry.deferred = { timer, querier };
  }

  /** Unsolicited: `times` announcements a second apart, when the service is reachable beyond loopback-only queriers. */
  #announce(entry: Entry, times: number): void {
    const addresses = addressesFor(entry.listenHost, undefined, this.#interface);
    if (addresses.length === 0 || times <= 0 || this.#closing !== undefined) return;
    entry.lastAnsweredAt = this.#now();
    const records = serviceRecords(entry.service, addresses);
    this.#socket
      .respond(records.answers, records.additionals)
      .catch((error: unknown) => this.#sendFailed(error));
    if (times > 1) {
      entry.announceTimer = setTimeout(() => {
        entry.announceTimer = undefined;
        this.#announce(entry, times - 1);
      }, ADVERTISER_LIMITS.announceGapMs);
    }
  }

  async #withdraw(name: string, entry: Entry): Promise<void> {
    stopTimers(entry);
    if (this.#entries.get(name) !== entry) return;
    this.#entries.delete(name);
    // Goodbye: the same records with TTL 0, wherever they could have been heard.
    const addresses = addressesFor(entry.listenHost, undefined, this.#interface);
    const records = serviceRecords(entry.service, addresses.length > 0 ? addresses : [], 0);
    await this.#socket
      .respond(records.answers, records.additionals)
      .catch((error: unknown) => this.#sendFailed(error));
  }

  // ------------------------------------------------------------- helpers

  #sendFailed(error: unknown): void {
    this.#trouble('networkErrors', 'mDNS: an answer could not be sent', error);
  }

  #trouble(kind: 'malformed' | 'networkErrors', msg: string, error: unknown): void {
    this.#counters[kind] += 1;
    const suppressed = this.#limiter.admit(kind, this.#now());
    if (suppressed === undefined) return;
    this.#log.warn(msg, {
      error: error instanceof Error ? error.message : String(error),
      ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}),
    });
  }
}

function stopTimers(entry: Entry): void {
  clearTimeout(entry.announceTimer);
  entry.announceTimer = undefined;
  if (entry.deferred !== undefined) clearTimeout(entry.deferred.timer);
  entry.deferred = undefined;
}

/** See the table at the top of this file. `querier` undefined: an announcement to whoever listens. */
export function addressesFor(
  listenHost: string,
  querier: { address: string; local: boolean } | undefined,
  mdnsInterface: string,
): string[] {
  const host = listenHost === 'localhost' ? '127.0.0.1' : listenHost;
  const loopbackMdns = isLoopbackAddress(mdnsInterface);
  if (host !== '0.0.0.0' && host !== '::' && host !== '') {
    if (!isIPv4(host)) return []; // an IPv6 address or a name: A records carry IPv4 only
    if (!isLoopbackAddress(host)) return [host];
    if (querier === undefined) return loopbackMdns ? [host] : [];
    return querier.local ? [host] : [];
  }
  if (loopbackMdns || (querier !== undefined && isLoopbackAddress(querier.address))) return ['127.0.0.1'];
  const own = ownInterfaces();
  if (querier !== undefined) {
    const same = own.find((i) => sameSubnet(i.address, i.netmask, querier.address));
    if (same !== undefined) return [same.address];
  }
  return own.length > 0 ? own.map((i) => i.address) : querier?.local === true ? ['127.0.0.1'] : [];
}

function ownInterfaces(): { address: string; netmask: string }[] {
  const found: { address: string; netmask: string }[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (entry.family === 'IPv4' && !entry.internal)
        found.push({ address: entry.address, netmask: entry.netmask });
    }
  }
  return found;
}

function sameSubnet(address: string, netmask: string, other: string): boolean {
  if (!isIPv4(other)) return false;
  const a = toInt(address);
  const m = toInt(netmask);
  return ((a ^ toInt(other)) & m) === 0;
}

function toInt(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | (Number(part) & 255)) >>> 0, 0);
}

function questionsOf(packet: unknown): { name: string; type: string }[] {
  if (typeof packet !== 'object' || packet === null) return [];
  const list = (packet as { questions?: unknown }).questions;
  if (!Array.isArray(list)) return [];
  const out: { name: string; type: string }[] = [];
  for (const q of list as unknown[]) {
    if (typeof q !== 'object' || q === null) continue;
    const { name, type } = q as { name?: unknown; type?: unknown };
    if (typeof name === 'string' && typeof type === 'string') {
      out.push({ name: name.toLowerCase().replace(/\.$/, ''), type });
    }
  }
  return out;
}
