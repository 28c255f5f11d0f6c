/**
 * The DNS-SD records of a controller on multicast DNS, written and read.
 * Pure functions: no socket, no clock.
 *
 * What the reference ecosystem does, and so what this does: a Spark
 * advertises the service type `_brewblox._tcp.local` with its device id as
 * the instance name, port 8332, and TXT entries `ID=<device id>`, `VERSION`,
 * `PLATFORM`, `HW`; brewblox-devcon-spark finds it by that type and matches
 * the `ID` entry (case-insensitively) against its configured device id. So a
 * tether service finds real controllers, and brewblox finds tether's
 * simulator and USB bridge.
 *
 *   PTR  _brewblox._tcp.local            -> <instance>._brewblox._tcp.local
 *   SRV  <instance>._brewblox._tcp.local -> <host>.local : <port>
 *   TXT  <instance>._brewblox._tcp.local -> ID=<24 hex> ...
 *   A    <host>.local                    -> <IPv4>
 *
 * A response is outside input: every field is checked, what is wrong is
 * counted by kind and skipped, and one packet can add only so much.
 */
import { isIPv4 } from 'node:net';
import type { Answer } from 'dns-packet';

export const CONTROLLER_SERVICE = '_brewblox._tcp.local';
/** DNS-SD's list of service types (RFC 6763 section 9). */
export const SERVICE_TYPES = '_services._dns-sd._udp.local';
/** The TXT key that carries the device id. */
export const ID_KEY = 'ID';
const DEVICE_ID = /^[0-9a-fA-F]{24}$/;

export const RECORD_LIMITS = {
  /** Records of one response looked at; the rest are counted (tooMany) and skipped. */
  recordsPerPacket: 64,
  /** Controllers one response may name. */
  servicesPerPacket: 8,
  /** A record's TTL is capped at this (s): a hostile "forever" must not pin a dead candidate. */
  maxTtlSec: 4500,
  /** One DNS label: RFC 1035's limit, in bytes. */
  labelBytes: 63,
} as const;

/** TTL (s) of what we advertise: RFC 6762's recommendation for records that name a host. */
export const ADVERTISED_TTL_SEC = 120;

// ------------------------------------------------------------------ writing

export interface AdvertisedService {
  /** Instance label, e.g. the device id. Dots and overlong names are made safe by `instanceLabel`. */
  readonly instance: string;
  /** Host label (without `.local`). */
  readonly host: string;
  readonly port: number;
  /** TXT entries; ID (the device id) is always among them. */
  readonly txt: Readonly<Record<string, string>>;
}

/** A label that survives DNS: no dots (they would split it), at most 63 bytes. */
export function instanceLabel(text: string): string {
  let label = text.replace(/\./g, '-').trim();
  while (Buffer.byteLength(label) > RECORD_LIMITS.labelBytes) label = label.slice(0, -1);
  return label === '' ? 'tether' : label;
}

/** A host label: letters, digits and hyphens only (RFC 952), at most 63 bytes. */
export function hostLabel(text: string): string {
  const label = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, RECORD_LIMITS.labelBytes);
  return label === '' ? 'tether' : label;
}

export function serviceName(service: AdvertisedService): string {
  return `${service.instance}.${CONTROLLER_SERVICE}`;
}

export function hostName(service: AdvertisedService): string {
  return `${service.host}.local`;
}

/**
 * The records that announce a service (or, with ttl 0, say goodbye): the PTR
 * as the answer, SRV, TXT and A as additionals, so one packet is enough to
 * connect. SRV, TXT and A are unique to this responder (cache-flush bit).
 */
export function serviceRecords(
  service: AdvertisedService,
  addresses: readonly string[],
  ttl: number = ADVERTISED_TTL_SEC,
): { answers: Answer[]; additionals: Answer[] } {
  const name = serviceName(service);
  const target = hostName(service);
  return {
    answers: [{ name: CONTROLLER_SERVICE, type: 'PTR', ttl, data: name }],
    additionals: [
      { name, type: 'SRV', ttl, flush: true, data: { port: service.port, target, priority: 0, weight: 0 } },
      {
        name,
        type: 'TXT',
        ttl,
        flush: true,
        data: Object.entries(service.txt).map(([key, value]) => `${key}=${value}`),
      },
      ...addresses.map((address): Answer => ({ name: target, type: 'A', ttl, flush: true, data: address })),
    ],
  };
}

/** The answer to "which service types are here" (DNS-SD enumeration). */
export function serviceTypeRecord(ttl: number = ADVERTISED_TTL_SEC): Answer {
  return { name: SERVICE_TYPES, type: 'PTR', ttl, data: CONTROLLER_SERVICE };
}

// ------------------------------------------------------------------ reading

/** A controller seen on the network: where to connect, and who it says it is. */
export interface Sighting {
  /** Lower case, as the reference service compares it. */
  readonly deviceId: string;
  /** Full service instance name, lower case: the cache key. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly ttlSec: number;
}

export type SkipKind =
  /** More records or services in one packet than RECORD_LIMITS allow. */
  | 'tooMany'
  /** A PTR to our type whose SRV is missing or malformed. */
  | 'incomplete'
  /** No ID entry in the TXT record. */
  | 'noId'
  /** An ID entry that is not 24 hex digits. */
  | 'badId'
  /** SRV port 0 or out of range. */
  | 'badPort'
  /** An A record that is no usable unicast IPv4 address, or loopback from another host. */
  | 'badAddress';

export interface ReadResult {
  sightings: Sighting[];
  /** Service names (lower case) whose records came with TTL 0: gone. */
  goodbyes: string[];
  skipped: Partial<Record<SkipKind, number>>;
}

export interface Sender {
  address: string;
  /** The sender is this machine (loopback, or one of its own addresses). */
  local: boolean;
}

/**
 * What a response says about controllers. Only records about our service
 * type count; everything else in the packet (other services on the LAN) is
 * ignored without being counted as a problem.
 */
export function readResponse(packet: unknown, sender: Sender): ReadResult {
  const result: ReadResult = { sightings: [], goodbyes: [], skipped: {} };
  const skip = (kind: SkipKind, n = 1): void => {
    result.skipped[kind] = (result.skipped[kind] ?? 0) + n;
  };
  const all = [...records(packet, 'answers'), ...records(packet, 'additionals')];
  if (all.length > RECORD_LIMITS.recordsPerPacket)
    skip('tooMany', all.length - RECORD_LIMITS.recordsPerPacket);
  const kept = all.slice(0, RECORD_LIMITS.recordsPerPacket);

  const services = new Map<string, number>(); // name -> PTR ttl
  const suffix = `.${CONTROLLER_SERVICE}`;
  for (const record of kept) {
    if (
      record.type === 'PTR' &&
      lower(record.name) === CONTROLLER_SERVICE &&
      typeof record.data === 'string'
    ) {
      const name = lower(record.data);
      if (name.endsWith(suffix) && name.length > suffix.length) services.set(name, ttlOf(record));
    } else if (
      record.type === 'SRV' &&
      lower(record.name).endsWith(suffix) &&
      !services.has(lower(record.name))
    ) {
      // An SRV without its PTR (an answer to a direct SRV question) names the service too.
      services.set(lower(record.name), ttlOf(record));
    }
  }
  const names = [...services.keys()];
  if (names.length > RECORD_LIMITS.servicesPerPacket)
    skip('tooMany', names.length - RECORD_LIMITS.servicesPerPacket);

  for (const name of names.slice(0, RECORD_LIMITS.servicesPerPacket)) {
    const ptrTtl = services.get(name) ?? 0;
    const srv = kept.find((r) => r.type === 'SRV' && lower(r.name) === name);
    if (ptrTtl === 0 || (srv !== undefined && ttlOf(srv) === 0)) {
      result.goodbyes.push(name);
      continue;
    }
    const target = srv === undefined ? undefined : srvData(srv.data);
    if (srv === undefined || target === undefined) {
      skip('incomplete');
      continue;
    }
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) {
      skip('badPort');
      continue;
    }
    const txt = kept.find((r) => r.type === 'TXT' && lower(r.name) === name);
    const id = txt === undefined ? undefined : txtValue(txt.data, ID_KEY);
    if (id === undefined) {
      skip('noId');
      continue;
    }
    if (!DEVICE_ID.test(id)) {
      skip('badId');
      continue;
    }
    const address = pickAddress(kept, lower(target.target), sender);
    if (address === undefined) {
      skip('badAddress');
      continue;
    }
    result.sightings.push({
      deviceId: id.toLowerCase(),
      name,
      host: lower(target.target),
      port: target.port,
      address,
      ttlSec: Math.min(ptrTtl, ttlOf(srv), txt === undefined ? Infinity : ttlOf(txt)),
    });
  }
  return result;
}

/**
 * The target's A record, when one came: a usable unicast address, and
 * loopback only from this machine (a packet from elsewhere pointing us at
 * 127.0.0.1 would aim us at our own ports). With no A record at all, the
 * sender's own address: on mDNS the responder is the host it speaks for.
 */
function pickAddress(all: readonly RecordLike[], target: string, sender: Sender): string | undefined {
  const candidates = all.filter((r) => r.type === 'A' && lower(r.name) === target);
  if (candidates.length === 0) return usable(sender.address, sender) ? sender.address : undefined;
  for (const record of candidates) {
    if (typeof record.data === 'string' && usable(record.data, sender)) return record.data;
  }
  return undefined;
}

function usable(address: string, sender: Sender): boolean {
  if (!isIPv4(address)) return false;
  const first = Number(address.split('.')[0]);
  if (address === '0.0.0.0' || address === '255.255.255.255') return false; // 0.0.0.0: brewblox's "simulator, no address"
  if (first >= 224) return false; // multicast and reserved
  if (first === 127) return sender.local;
  return true;
}

// ------------------------------------------------------------------ helpers

interface RecordLike {
  type: unknown;
  name: unknown;
  ttl?: unknown;
  data?: unknown;
}

function records(packet: unknown, section: 'answers' | 'additionals'): RecordLike[] {
  if (typeof packet !== 'object' || packet === null) return [];
  const list = (packet as Record<string, unknown>)[section];
  if (!Array.isArray(list)) return [];
  return list.filter((r): r is RecordLike => typeof r === 'object' && r !== null);
}

function lower(value: unknown): string {
  return typeof value === 'string' ? value.toLowerCase().replace(/\.$/, '') : '';
}

function ttlOf(record: RecordLike): number {
  const ttl = record.ttl;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) return 0;
  return Math.min(Math.floor(ttl), RECORD_LIMITS.maxTtlSec);
}

function srvData(data: unknown): { port: number; target: string } | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { port, target } = data as { port?: unknown; target?: unknown };
  if (typeof port !== 'number' || typeof target !== 'string' || target === '') return undefined;
  return { port, target };
}

/** The value of `key` (any case) among TXT strings `key=value`; the first one wins, as RFC 6763 says. */
function txtValue(data: unknown, key: string): string | undefined {
  const entries = Array.isArray(data) ? data : [data];
  const wanted = key.toLowerCase();
  for (const entry of entries) {
    const text = Buffer.isBuffer(entry)
      ? entry.toString('latin1')
      : typeof entry === 'string'
        ? entry
        : undefined;
    if (text === undefined) continue;
    const eq = text.indexOf('=');
    const name = (eq === -1 ? text : text.slice(0, eq)).toLowerCase();
    if (name === wanted) return eq === -1 ? '' : text.slice(eq + 1);
  }
  return undefined;
}
