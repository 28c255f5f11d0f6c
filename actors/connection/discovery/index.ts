/**
 * Discovery: where to try connecting, by the configured mode.
 *
 *   usb   serial ports by USB VID:PID (and serial number = device id), read from /sys
 *   tcp   discovery.tcp.host:port; no host configured finds nothing
 *   mdns  controllers advertising _brewblox._tcp on multicast DNS (mdns/), with
 *         the TXT ID = device id when one is configured; asks with backoff
 *   sim   the built-in simulator, which the kernel started on 127.0.0.1:simulator.port
 *   all   usb, then tcp, then mdns (which waits for answers only when the
 *         others found nothing). Never the simulator: a production service
 *         must not fall back to a fake controller.
 *
 * Discovery never throws; what it could not read is logged once per kind of
 * problem, not on every round.
 */
import { access } from 'node:fs/promises';
import type { TetherConfig } from '../../../config/index.js';
import type { ActorLogger } from '../../../runtime/actor.js';
import { matchUsbPorts, scanUsbSerialPorts, type UsbScanOptions } from './usb.js';
import { MdnsBrowser, type MdnsBrowserCounters } from './mdns/index.js';

export {
  matchUsbPorts,
  scanUsbSerialPorts,
  type UsbScan,
  type UsbScanOptions,
  type UsbSerialPort,
} from './usb.js';
export {
  detectContainer,
  shouldExitForRediscovery,
  type ContainerProbe,
  type RediscoveryPolicy,
} from './rediscovery.js';

export type Candidate =
  | { kind: 'tcp'; host: string; port: number; address: string }
  | { kind: 'serial'; path: string; baudRate: number; address: string };

export interface DiscoveryResult {
  /** In the order to try them. */
  candidates: Candidate[];
  /** USB was searched this round (the mode includes it). */
  usbSearched: boolean;
}

export type DiscoveryMode = TetherConfig['discovery']['mode'];

export type DiscoverySettings = Pick<TetherConfig, 'discovery' | 'device' | 'simulator'>;

export class Discovery {
  readonly #settings: DiscoverySettings;
  readonly #log: ActorLogger;
  readonly #usbOptions: UsbScanOptions;
  readonly #reported = new Set<string>();
  #browser: MdnsBrowser | undefined;
  #closed = false;

  constructor(settings: DiscoverySettings, log: ActorLogger, usbOptions: UsbScanOptions = {}) {
    this.#settings = settings;
    this.#log = log;
    this.#usbOptions = usbOptions;
  }

  get includesUsb(): boolean {
    const { mode } = this.#settings.discovery;
    return mode === 'usb' || mode === 'all';
  }

  async discover(): Promise<DiscoveryResult> {
    const { mode } = this.#settings.discovery;
    const candidates: Candidate[] = [];
    if (mode === 'usb' || mode === 'all') candidates.push(...(await this.#usb()));
    if (mode === 'tcp' || mode === 'all') candidates.push(...this.#tcp(mode === 'tcp'));
    if (mode === 'mdns' || mode === 'all') candidates.push(...(await this.#mdns(candidates.length === 0)));
    if (mode === 'sim') candidates.push(...this.#sim());
    return { candidates, usbSearched: this.includesUsb };
  }

  /** What mDNS discovery has counted (undefined before its first round). */
  get mdnsCounters(): MdnsBrowserCounters | undefined {
    return this.#browser?.counters;
  }

  /** Releases the mDNS socket; a round waiting for answers returns at once. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#browser?.close();
  }

  async #usb(): Promise<Candidate[]> {
    const { discovery, device } = this.#settings;
    if (discovery.usb.path !== '') return this.#fixedSerialPath(discovery.usb.path, discovery.usb.baudRate);
    const scan = await scanUsbSerialPorts(this.#usbOptions);
    for (const problem of scan.problems) {
      this.#once(
        `usb:${problem}`,
        'info',
        'USB discovery cannot read a source (no udev needed; trying the other)',
        {
          problem,
        },
      );
    }
    const matched = matchUsbPorts(scan.ports, discovery.usb.ids, device.id);
    if (matched.length < scan.ports.length) {
      this.#log.debug('USB discovery ignored ports', {
        ignored: scan.ports.filter((p) => !matched.includes(p)).map((p) => p.path),
      });
    }
    return matched.map((port) => ({
      kind: 'serial',
      path: port.path,
      baudRate: discovery.usb.baudRate,
      address: port.path,
    }));
  }

  /** A configured serial device (a known port, a pty): used as it is when it exists, no enumeration. */
  async #fixedSerialPath(path: string, baudRate: number): Promise<Candidate[]> {
    try {
      await access(path);
    } catch {
      this.#once(`usb:path:${path}`, 'warn', 'discovery.usb.path does not exist (yet)', { path });
      return [];
    }
    return [{ kind: 'serial', path, baudRate, address: path }];
  }

  #tcp(only: boolean): Candidate[] {
    const { host, port } = this.#settings.discovery.tcp;
    if (host === '') {
      if (only) this.#once('tcp:nohost', 'warn', 'discovery.mode is tcp but discovery.tcp.host is not set');
      return [];
    }
    return [{ kind: 'tcp', host, port, address: `tcp://${host}:${port}` }];
  }

  /** Controllers on mDNS; `wait` lets a round that asked wait for the first answer. */
  async #mdns(wait: boolean): Promise<Candidate[]> {
    if (this.#closed) return [];
    const { mdns } = this.#settings.discovery;
    this.#browser ??= new MdnsBrowser({
      port: mdns.port,
      interface: mdns.interface,
      answerWaitMs: mdns.answerWaitMs,
      log: this.#log,
    });
    const found = await this.#browser.find(this.#settings.device.id, { wait });
    return found.map((s) => ({
      kind: 'tcp',
      host: s.address,
      port: s.port,
      address: `tcp://${s.address}:${s.port}`,
    }));
  }

  #sim(): Candidate[] {
    const { port } = this.#settings.simulator;
    if (port === 0) {
      // The kernel writes the port it started the simulator on; 0 means it has not.
      this.#once(
        'sim:noport',
        'warn',
        'discovery.mode is sim but no simulator port is known (simulator.port is 0)',
      );
      return [];
    }
    return [{ kind: 'tcp', host: '127.0.0.1', port, address: `tcp://127.0.0.1:${port}` }];
  }

  #once(key: string, level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#log[level](msg, fields);
  }
}
