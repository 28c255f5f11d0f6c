/**
 * Finding controllers on multicast DNS: ask for `_brewblox._tcp.local`,
 * keep what answers (and what announces itself unasked) in a small cache
 * with the records' TTLs, and hand out the ones whose device id matches.
 *
 * Asking follows RFC 6762's continuous querying: the first query at once,
 * then 1 s, 2 s, 4 s ... apart, at most a minute, for as long as nobody
 * answers; an answer starts the schedule over. Between queries the socket
 * keeps listening, so a controller that announces itself when it comes up is
 * seen without waiting for the next query. A cached controller that lets two
 * queries in a row go unanswered is dropped (RFC 6762 section 10.5), as is
 * one that says goodbye (TTL 0).
 *
 * Everything off the network is outside input: a packet that does not
 * decode, an answer with a device id of the wrong shape, a port of 0, a
 * flood of answers. Each is counted by kind and skipped; the log says so at
 * most once per kind per 10 s. The cache has a fixed size.
 */
import type { RemoteInfo } from 'node:dgram';
import type { ActorLogger } from '../../../../runtime/actor.js';
import { LogLimiter } from '../../../../runtime/log-limiter.js';
import { CONTROLLER_SERVICE, readResponse, type Sighting, type SkipKind } from './records.js';
import { localAddressCheck, openMdnsSocket, type MdnsSocket, type MdnsSocketOptions } from './socket.js';

export interface MdnsBrowserOptions extends MdnsSocketOptions {
  log: ActorLogger;
  /** How long `find` waits for answers after a query; default 1000 ms. */
  answerWaitMs?: number;
  /** Query schedule: first gap and longest gap; default 1 s and 60 s. */
  queryBackoff?: { firstMs: number; maxMs: number };
  /** Controllers cached at once; default 32. */
  maxSightings?: number;
  now?: () => number;
}

export interface MdnsBrowserCounters {
  queries: number;
  responses: number;
  /** Packets that did not decode as DNS. */
  malformed: number;
  /** Send, bind and membership errors. */
  networkErrors: number;
  /** Answers skipped, by why. */
  skipped: Record<SkipKind, number>;
  /** Cached controllers pushed out by newer ones when the cache was full. */
  evicted: number;
  /** Controllers in the cache now. */
  cached: number;
}

export const MDNS_BROWSER_DEFAULTS = {
  answerWaitMs: 1000,
  queryBackoff: { firstMs: 1000, maxMs: 60_000 },
  maxSightings: 32,
  /** Queries a cached controller may leave unanswered before it is dropped. */
  unansweredLimit: 2,
  /** Reopening a socket that failed to bind: first and longest wait. */
  reopenBackoff: { firstMs: 1000, maxMs: 60_000 },
  /** How long the list of this machine's own addresses is trusted. */
  localAddressesMs: 30_000,
} as const;

interface Entry extends Sighting {
  expiresAt: number;
  seenAt: number;
  unanswered: number;
}

export class MdnsBrowser {
  readonly #options: MdnsBrowserOptions;
  readonly #log: ActorLogger;
  readonly #now: () => number;
  readonly #limiter: LogLimiter;
  readonly #isLocal: (address: string) => boolean;
  readonly #cache = new Map<string, Entry>();
  readonly #waiters = new Set<() => void>();
  /** Kinds of trouble already logged once as a warning (a fixed set of names). */
  readonly #warned = new Set<string>();
  readonly #counters: Omit<MdnsBrowserCounters, 'cached'> = {
    queries: 0,
    responses: 0,
    malformed: 0,
    networkErrors: 0,
    skipped: { tooMany: 0, incomplete: 0, noId: 0, badId: 0, badPort: 0, badAddress: 0 },
    evicted: 0,
  };

  #socket: MdnsSocket | undefined;
  #opening: Promise<MdnsSocket | undefined> | undefined;
  #openFailures = 0;
  #nextOpenAt = 0;
  #queryStep = 0;
  #nextQueryAt = 0;
  #answeredSinceQuery = true;
  #closed = false;

  constructor(options: MdnsBrowserOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#limiter = new LogLimiter({ periodMs: 10_000, burst: 1 });
    this.#isLocal = localAddressCheck(this.#now, MDNS_BROWSER_DEFAULTS.localAddressesMs);
  }

  get counters(): MdnsBrowserCounters {
    return {
      ...this.#counters,
      skipped: { ...this.#counters.skipped },
      cached: this.#cache.size,
    };
  }

  /**
   * Controllers whose device id is `deviceId` (any case; '' for any), most
   * recently seen first. Queries when the schedule says so; with `wait`, a
   * round that queried and has nothing yet waits (answerWaitMs at most) for
   * the first match. Never throws: a socket that cannot open finds nothing.
   */
  async find(deviceId: string, options: { wait: boolean }): Promise<Sighting[]> {
    if (this.#closed) return [];
    const socket = await this.#open();
    if (socket === undefined || this.#closed) return [];
    this.#prune();
    const wanted = deviceId.toLowerCase();
    const matching = (): Sighting[] =>
      [...this.#cache.values()]
        .filter((entry) => wanted === '' || entry.deviceId === wanted)
        .sort((a, b) => b.seenAt - a.seenAt)
        .map(({ deviceId: id, name, host, port, address, ttlSec }) => ({
          deviceId: id,
          name,
          host,
          port,
          address,
          ttlSec,
        }));
    const queried = this.#now() >= this.#nextQueryAt ? this.#query(socket) : false;
    const found = matching();
    if (found.length > 0 || !options.wait || !queried) return found;
    await this.#waitFor(
      () => matching().length > 0,
      this.#options.answerWaitMs ?? MDNS_BROWSER_DEFAULTS.answerWaitMs,
    );
    return matching();
  }

  /** Closes the socket; a `find` waiting for answers returns at once. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of [...this.#waiters]) wake();
    const socket = this.#socket ?? (await this.#opening);
    this.#socket = undefined;
    await socket?.close();
  }

  // ------------------------------------------------------------ the socket

  #open(): Promise<MdnsSocket | undefined> {
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    if (this.#opening !== undefined) return this.#opening;
    if (this.#now() < this.#nextOpenAt) return Promise.resolve(undefined);
    this.#opening = openMdnsSocket(this.#options, {
      onResponse: (packet, sender) => this.#onResponse(packet, sender),
      onMalformed: (error) => {
        this.#counters.malformed += 1;
        this.#limited('malformed', 'mDNS: a packet that is not DNS was skipped', { error: error.message });
      },
      onNetworkError: (error) => {
        this.#counters.networkErrors += 1;
        this.#limited('network', 'mDNS: network error', { error: error.message });
      },
    }).then(
      (socket) => {
        this.#opening = undefined;
        this.#openFailures = 0;
        if (this.#closed) {
          void socket.close();
          return undefined;
        }
        this.#socket = socket;
        return socket;
      },
      (error: unknown) => {
        this.#opening = undefined;
        this.#openFailures += 1;
        this.#counters.networkErrors += 1;
        const { firstMs, maxMs } = MDNS_BROWSER_DEFAULTS.reopenBackoff;
        const waitMs = Math.min(firstMs * 2 ** (this.#openFailures - 1), maxMs);
        this.#nextOpenAt = this.#now() + waitMs;
        this.#limited('open', 'mDNS: cannot open the multicast socket; finding nothing for now', {
          error: error instanceof Error ? error.message : String(error),
          port: this.#options.port,
          interface: this.#options.interface,
          retryInMs: waitMs,
        });
        return undefined;
      },
    );
    return this.#opening;
  }

  // ------------------------------------------------------------- queries

  /** Sends a query and sets when the next is due; returns whether it was sent. */
  #query(socket: MdnsSocket): boolean {
    const now = this.#now();
    // Passive observation of failures: a cached controller that ignored the last queries is gone.
    for (const [name, entry] of this.#cache) {
      if (entry.unanswered >= MDNS_BROWSER_DEFAULTS.unansweredLimit) this.#cache.delete(name);
      else entry.unanswered += 1;
    }
    this.#queryStep = this.#answeredSinceQuery ? 0 : this.#queryStep + 1;
    this.#answeredSinceQuery = false;
    const { firstMs, maxMs } = this.#options.queryBackoff ?? MDNS_BROWSER_DEFAULTS.queryBackoff;
    this.#nextQueryAt = now + queryGap(this.#queryStep, firstMs, maxMs);
    this.#counters.queries += 1;
    socket.query([{ name: CONTROLLER_SERVICE, type: 'PTR' }]).catch((error: unknown) => {
      this.#counters.networkErrors += 1;
      this.#limited('send', 'mDNS: the query could not be sent', {
        error: error instanceof Error ? error.message : String(error),
      });
    });
    return true;
  }

  #onResponse(packet: unknown, sender: RemoteInfo): void {
    if (this.#closed) return;
    this.#counters.responses += 1;
    const read = readResponse(packet, { address: sender.address, local: this.#isLocal(sender.address) });
    for (const [kind, count] of Object.entries(read.skipped) as [SkipKind, number][]) {
      this.#counters.skipped[kind] += count;
      this.#limited(`skip:${kind}`, 'mDNS: skipped an answer', { why: kind, from: sender.address });
    }
    for (const name of read.goodbyes) this.#cache.delete(name);
    const now = this.#now();
    for (const sighting of read.sightings) {
      const known = this.#cache.get(sighting.name);
      if (
        known === undefined &&
        this.#cache.size >= (this.#options.maxSightings ?? MDNS_BROWSER_DEFAULTS.maxSightings)
      ) {
        this.#evictOne();
      }
      this.#cache.set(sighting.name, {
        ...sighting,
        seenAt: now,
        expiresAt: now + sighting.ttlSec * 1000,
        unanswered: 0,
      });
      this.#answeredSinceQuery = true;
      if (known === undefined || known.address !== sighting.address || known.port !== sighting.port) {
        this.#limited('found', 'mDNS: controller found', {
          deviceId: sighting.deviceId,
          address: `${sighting.address}:${sighting.port}`,
          name: sighting.name,
        });
      }
    }
    if (read.sightings.length > 0) for (const wake of [...this.#waiters]) wake();
  }

  // ------------------------------------------------------------- helpers

  #prune(): void {
    const now = this.#now();
    for (const [name, entry] of this.#cache) if (entry.expiresAt <= now) this.#cache.delete(name);
  }

  /** Makes room: the entry that expires first goes. */
  #evictOne(): void {
    let victim: [string, Entry] | undefined;
    for (const pair of this.#cache)
      if (victim === undefined || pair[1].expiresAt < victim[1].expiresAt) victim = pair;
    if (victim !== undefined) this.#cache.delete(victim[0]);
    this.#counters.evicted += 1;
  }

  #waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const wake = (): void => {
        if (this.#closed || condition()) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /**
   * Rate-limited: one line per kind per 10 s. Found controllers are info; trouble is a warning the
   * first time and debug after, since a neighbour on the LAN (a Spark 4 with its shorter id) can
   * be the cause for as long as the service runs.
   */
  #limited(kind: string, msg: string, fields: Record<string, unknown>): void {
    const suppressed = this.#limiter.admit(kind, this.#now());
    if (suppressed === undefined) return;
    const level = kind === 'found' ? 'info' : this.#warned.has(kind) ? 'debug' : 'warn';
    this.#warned.add(kind);
    this.#log[level](msg, suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields);
  }
}

/** The wait before query number `step` + 1 (step 0 is right after an answered query). */
export function queryGap(step: number, firstMs: number, maxMs: number): number {
  return Math.min(firstMs * 2 ** Math.min(step, 30), maxMs);
}
