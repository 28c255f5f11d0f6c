/**
 * The USB bridge: every Spark controller on this machine's USB, each on a
 * TCP port of its own, so a service that cannot see USB devices plugged in
 * after it started (a container) talks TCP instead and never has to exit
 * for rediscovery.
 *
 *   scan sysfs (actors/connection/discovery/usb.ts, by VID:PID; no udev)
 *     new controller        open it (device.ts) on its port, advertise it on mDNS
 *     gone from sysfs       close it (a USB device may vanish without a close)
 *     port closed by itself unplugged: close its TCP server; the next scan reopens it
 *   scan again in scanIntervalMs; while sysfs cannot be read, back off (x2, up to 30 s)
 *
 * A controller is known by its USB serial number, which is its device id
 * (24 hex digits). A port whose serial number is not one is counted and
 * skipped: it is not a controller of ours, or not one we could tell apart
 * from the next.
 *
 * Ports: a controller keeps the port it was first given for as long as the
 * bridge runs, unplugged or not, so a replug comes back where it was. The
 * first controller gets `basePort` (8332, a controller's own port), the next
 * the next free one; `pinned` fixes a device id to a port. Opening a
 * controller that fails (busy port, EADDRINUSE) is retried with backoff
 * (0.5 s, x2, up to 30 s), as is one that keeps unplugging within seconds.
 */
import { hostname } from 'node:os';
import { matchUsbPorts, scanUsbSerialPorts } from '../actors/connection/discovery/index.js';
import { LogLimiter } from '../runtime/log-limiter.js';
import { MdnsAdvertiser, type Advertisement } from '../actors/connection/discovery/mdns/index.js';
import type { ActorLogger } from '../runtime/actor.js';
import { BridgedDevice, openWithSerialport, type DeviceCounters, type SerialOpener } from './device.js';

export interface UsbBridgeOptions {
  /** USB VID:PID pairs of controllers (default: those of discovery.usb.ids). */
  ids: readonly string[];
  baudRate: number;
  /** Where the controllers' TCP servers listen. */
  host: string;
  /** The first controller's port; the next take the next free ones. 0: any free port each. */
  basePort: number;
  /** Device id (any case) -> port. */
  pinned?: Readonly<Record<string, number>>;
  scanIntervalMs: number;
  /** Default `/sys` and `/dev` (tests point these at a fake tree). */
  sysRoot?: string;
  devRoot?: string;
  /** Advertise each controller on mDNS; false or absent for none. */
  mdns?: { port?: number; interface?: string } | false;
  log: ActorLogger;
  /** Default: serialport. */
  openSerial?: SerialOpener;
}

export type SlotState = 'opening' | 'serving' | 'unplugged' | 'retrying';

/** One controller as the listing shows it. */
export interface BridgeEntry {
  deviceId: string;
  state: SlotState;
  /** Serial device path (last seen). */
  path: string;
  host: string;
  /** TCP port it is (or will be again) served on; 0 before the first open with basePort 0. */
  port: number;
  client: string | null;
  /** When it entered this state (ms since the epoch). */
  since: number;
  /** Failed opens in a row. */
  failures: number;
  lastError: string | null;
  /** The mDNS service name, when advertised. */
  advertised: string | null;
  counters: DeviceCounters;
}

export interface BridgeCounters {
  scans: number;
  /** Scans that could not read sysfs or /dev. */
  scanProblems: number;
  /** USB serial ports with a matching VID:PID whose serial number is not a device id. */
  badSerials: number;
  opens: number;
  openFailures: number;
  unplugs: number;
}

export const BRIDGE_LIMITS = {
  /** Controllers remembered (serving or not); the oldest unplugged one is forgotten past this. */
  slots: 32,
  openBackoff: { firstMs: 500, maxMs: 30_000 },
  scanBackoffMaxMs: 30_000,
  /** A controller that unplugs sooner than this after opening counts as a failed open (backoff). */
  stableMs: 10_000,
} as const;

const DEVICE_ID = /^[0-9a-fA-F]{24}$/;

interface Slot {
  readonly deviceId: string;
  path: string;
  port: number;
  state: SlotState;
  since: number;
  device: BridgedDevice | undefined;
  opening: Promise<void> | undefined;
  failures: number;
  nextOpenAt: number;
  lastError: string | null;
  advertisement: Advertisement | undefined;
  lastCounters: DeviceCounters;
}

const NO_COUNTERS: DeviceCounters = {
  clients: 0,
  replaced: 0,
  slowClients: 0,
  bytesToDevice: 0,
  bytesFromDevice: 0,
  droppedFromDevice: 0,
};

export class UsbBridge {
  readonly #options: UsbBridgeOptions;
  readonly #log: ActorLogger;
  readonly #limiter = new LogLimiter({ periodMs: 10_000, burst: 1 });
  readonly #slots = new Map<string, Slot>();
  readonly #counters: BridgeCounters = {
    scans: 0,
    scanProblems: 0,
    badSerials: 0,
    opens: 0,
    openFailures: 0,
    unplugs: 0,
  };
  readonly #listeners = new Set<() => void>();
  #advertiser: MdnsAdvertiser | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #scanFailures = 0;
  #stopping: Promise<void> | undefined;

  /** Starts the mDNS advertiser (when asked; a failure is logged, not fatal) and the first scan. */
  static async start(options: UsbBridgeOptions): Promise<UsbBridge> {
    const bridge = new UsbBridge(options);
    if (options.mdns !== undefined && options.mdns !== false) {
      try {
        bridge.#advertiser = await MdnsAdvertiser.start({ ...options.mdns, log: options.log });
      } catch (error) {
        options.log.warn('bridge: not advertising on mDNS (the multicast socket cannot open)', {
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    await bridge.scanNow();
    return bridge;
  }

  private constructor(options: UsbBridgeOptions) {
    this.#options = options;
    this.#log = options.log;
  }

  get counters(): BridgeCounters {
    return { ...this.#counters };
  }

  /** Every controller seen, serving or not, by device id. */
  list(): BridgeEntry[] {
    return [...this.#slots.values()]
      .sort((a, b) => a.deviceId.localeCompare(b.deviceId))
      .map((slot) => ({
        deviceId: slot.deviceId,
        state: slot.state,
        path: slot.path,
        host: this.#options.host,
        port: slot.port,
        client: slot.device?.client ?? null,
        since: slot.since,
        failures: slot.failures,
        lastError: slot.lastError,
        advertised: slot.advertisement?.name ?? null,
        counters: slot.device?.counters ?? slot.lastCounters,
      }));
  }

  /** Called after every change of a controller's state (tests wait on it). Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Scans at once (and then on the schedule again); resolves when this scan's opens have settled. */
  scanNow(): Promise<void> {
    if (this.#stopping !== undefined) return Promise.resolve();
    this.#scanning ??= this.#scan().finally(() => {
      this.#scanning = undefined;
      this.#schedule();
    });
    return this.#scanning;
  }

  /** Closes every controller (goodbye on mDNS first) and stops scanning. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#scanning?.catch(() => undefined);
      await this.#advertiser?.close();
      const slots = [...this.#slots.values()];
      await Promise.all(slots.map((slot) => slot.opening));
      await Promise.all(slots.map((slot) => slot.device?.close('the bridge is stopping')));
    })();
    return this.#stopping;
  }

  // ----------------------------------------------------------------- scan

  async #scan(): Promise<void> {
    this.#counters.scans += 1;
    const scan = await scanUsbSerialPorts({
      ...(this.#options.sysRoot === undefined ? {} : { sysRoot: this.#options.sysRoot }),
      ...(this.#options.devRoot === undefined ? {} : { devRoot: this.#options.devRoot }),
    });
    if (scan.problems.length > 0 && scan.ports.length === 0) {
      this.#counters.scanProblems += 1;
      this.#scanFailures += 1;
      this.#limited('scan', 'bridge: cannot read the USB devices (no udev needed; is /sys mounted?)', {
        problems: scan.problems,
      });
    } else {
      this.#scanFailures = 0;
    }
    const present = new Map<string, string>();
    for (const port of matchUsbPorts(scan.ports, this.#options.ids, '')) {
      const id = port.serialNumber ?? '';
      if (!DEVICE_ID.test(id)) {
        this.#counters.badSerials += 1;
        this.#limited('serial', 'bridge: skipped a USB serial port whose serial number is not a device id', {
          path: port.path,
        });
        continue;
      }
      present.set(id.toLowerCase(), port.path);
    }
    if (this.#stopping !== undefined) return;

    const closing: Promise<void>[] = [];
    for (const slot of this.#slots.values()) {
      const path = present.get(slot.deviceId);
      if (slot.device !== undefined && (path === undefined || path !== slot.device.path)) {
        // Gone from sysfs (or moved to another tty) without the port noticing: close it ourselves.
        closing.push(
          slot.device.close(path === undefined ? 'unplugged (gone from sysfs)' : `moved to ${path}`),
        );
      }
    }
    await Promise.all(closing);
    const opening: Promise<void>[] = [];
    const now = Date.now();
    for (const [deviceId, path] of present) {
      const slot = this.#slot(deviceId, path);
      if (slot === undefined) continue;
      slot.path = path;
      if (slot.device === undefined && slot.opening === undefined && now >= slot.nextOpenAt) {
        opening.push(this.#open(slot));
      }
    }
    await Promise.all(opening);
  }

  #schedule(): void {
    if (this.#stopping !== undefined) return;
    clearTimeout(this.#timer);
    const base = this.#options.scanIntervalMs;
    const wait =
      this.#scanFailures === 0
        ? base
        : Math.min(
            base * 2 ** Math.min(this.#scanFailures, 10),
            Math.max(base, BRIDGE_LIMITS.scanBackoffMaxMs),
          );
    this.#timer = setTimeout(() => void this.scanNow(), wait);
  }

  // ----------------------------------------------------------- controllers

  #slot(deviceId: string, path: string): Slot | undefined {
    const known = this.#slots.get(deviceId);
    if (known !== undefined) return known;
    if (this.#slots.size >= BRIDGE_LIMITS.slots) {
      const forgettable = [...this.#slots.values()]
        .filter((s) => s.device === undefined && s.opening === undefined)
        .sort((a, b) => a.since - b.since)[0];
      if (forgettable === undefined) {
        this.#limited('full', 'bridge: too many controllers; skipping one', { deviceId });
        return undefined;
      }
      this.#slots.delete(forgettable.deviceId);
    }
    const slot: Slot = {
      deviceId,
      path,
      port: this.#portFor(deviceId),
      state: 'opening',
      since: Date.now(),
      device: undefined,
      opening: undefined,
      failures: 0,
      nextOpenAt: 0,
      lastError: null,
      advertisement: undefined,
      lastCounters: NO_COUNTERS,
    };
    this.#slots.set(deviceId, slot);
    return slot;
  }

  /** A pinned port, or the first free one from basePort (0: any, chosen when it opens). */
  #portFor(deviceId: string): number {
    const pinned = Object.entries(this.#options.pinned ?? {}).find(([id]) => id.toLowerCase() === deviceId);
    if (pinned !== undefined) return pinned[1];
    const base = this.#options.basePort;
    if (base === 0) return 0;
    const taken = new Set([...this.#slots.values()].map((s) => s.port));
    for (const port of Object.values(this.#options.pinned ?? {})) taken.add(port);
    let port = base;
    while (taken.has(port) && port < 65_535) port += 1;
    return port;
  }

  #open(slot: Slot): Promise<void> {
    this.#set(slot, 'opening');
    const opened = BridgedDevice.open(
      {
        deviceId: slot.deviceId,
        path: slot.path,
        baudRate: this.#options.baudRate,
        host: this.#options.host,
        port: slot.port,
      },
      this.#log,
      this.#options.openSerial ?? openWithSerialport,
    ).then(
      (device) => this.#opened(slot, device),
      (error: unknown) => this.#openFailed(slot, error),
    );
    slot.opening = opened.finally(() => {
      slot.opening = undefined;
    });
    return slot.opening;
  }

  #opened(slot: Slot, device: BridgedDevice): void {
    if (this.#stopping !== undefined) {
      void device.close('the bridge is stopping');
      return;
    }
    this.#counters.opens += 1;
    slot.device = device;
    slot.port = device.port; // the real one, kept for a replug
    slot.lastError = null;
    const openedAt = Date.now();
    slot.advertisement = this.#advertiser?.advertise({
      deviceId: slot.deviceId,
      instance: `${slot.deviceId} usb-bridge`,
      host: `tether-bridge-${hostname()}`,
      port: device.port,
      listenHost: this.#options.host,
      txt: { HW: 'Spark (tether usb-bridge)' },
    });
    device.onGone((reason) => void this.#gone(slot, device, reason, openedAt));
    this.#log.info('bridge: serving a controller', {
      deviceId: slot.deviceId,
      path: slot.path,
      address: `${this.#options.host}:${device.port}`,
    });
    this.#set(slot, 'serving');
  }

  #openFailed(slot: Slot, error: unknown): void {
    this.#counters.openFailures += 1;
    slot.failures += 1;
    slot.lastError = error instanceof Error ? error.message : String(error);
    const wait = openBackoff(slot.failures);
    slot.nextOpenAt = Date.now() + wait;
    this.#limited(`open:${slot.deviceId}`, 'bridge: cannot open a controller; retrying', {
      deviceId: slot.deviceId,
      path: slot.path,
      port: slot.port,
      error: slot.lastError,
      retryInMs: wait,
    });
    this.#set(slot, 'retrying');
  }

  async #gone(slot: Slot, device: BridgedDevice, reason: string, openedAt: number): Promise<void> {
    if (slot.device !== device) return;
    slot.device = undefined;
    slot.lastCounters = device.counters;
    this.#counters.unplugs += 1;
    const advertisement = slot.advertisement;
    slot.advertisement = undefined;
    if (this.#stopping === undefined) {
      // Flapping (open, gone, open ...) backs off like a failed open; a stable controller reopens at once.
      if (Date.now() - openedAt < BRIDGE_LIMITS.stableMs) {
        slot.failures += 1;
        slot.nextOpenAt = Date.now() + openBackoff(slot.failures);
      } else {
        slot.failures = 0;
        slot.nextOpenAt = 0;
      }
      slot.lastError = reason;
      this.#limited(`gone:${slot.deviceId}`, 'bridge: controller gone', { deviceId: slot.deviceId, reason });
      this.#set(slot, 'unplugged');
    }
    await advertisement?.withdraw();
  }

  #set(slot: Slot, state: SlotState): void {
    if (slot.state !== state) {
      slot.state = state;
      slot.since = Date.now();
    }
    for (const listener of this.#listeners) listener();
  }

  #limited(kind: string, msg: string, fields: Record<string, unknown>): void {
    const suppressed = this.#limiter.admit(kind, Date.now());
    if (suppressed === undefined) return;
    this.#log.warn(msg, suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields);
  }
}

/** Wait before the next open after `failures` failed ones in a row. */
export function openBackoff(failures: number): number {
  const { firstMs, maxMs } = BRIDGE_LIMITS.openBackoff;
  return Math.min(firstMs * 2 ** Math.max(0, Math.min(failures - 1, 20)), maxMs);
}
