/**
 * The controller simulator, embeddable: a TCP server (port 8332 by default,
 * 0 for an ephemeral one) and any number of serial ports (real devices or
 * socat pseudo-terminals), all in front of one simulated controller.
 *
 *     const sim = await startSimulator({ port: 0 });
 *     sim.faults.silent = true;
 *     const { path } = await sim.attachPty();   // a client opens `path` as a serial port
 *     await sim.close();                         // releases sockets, ports, socat, timers
 *
 * With `mdns`, the TCP server is advertised on multicast DNS as a Spark
 * advertises itself (`_brewblox._tcp`, TXT ID = the device id), so a service
 * in discovery mode `mdns` finds it. An advertiser that cannot start (no
 * multicast here) is logged and the simulator runs without it.
 */
import net from 'node:net';
import { once } from 'node:events';
import type { RequestFrame } from '../protocol/index.js';
import { SimulatorClosedError } from './errors.js';
import { openSerialLink, type SerialLink } from '../actors/connection/transport/index.js';
import { SimController, type ControllerStats, type SessionPort } from './controller.js';
import { SIM_DEFAULTS, type FaultSettings, type SimIdentity } from './defaults.js';
import { Faults } from './faults.js';
import { openPtyPair, type PtyPair } from './pty-pair.js';
import { MdnsAdvertiser, type Advertisement } from '../actors/connection/discovery/mdns/index.js';
import type { ActorLogger } from '../runtime/actor.js';
import { hostname } from 'node:os';

export interface SimulatorOptions extends Partial<SimIdentity> {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8332; 0 picks a free port (tests); `false` runs without TCP (serial only). */
  port?: number | false;
  /** Faults on from the start. */
  faults?: Partial<FaultSettings>;
  /** User blocks before INSUFFICIENT_STORAGE; default 200. */
  capacity?: number;
  /** REBOOT response to reset; default 50 ms. */
  rebootDelayMs?: number;
  log?: (line: string) => void;
  /** Advertise the TCP server on multicast DNS; off when absent. */
  mdns?: SimulatorMdnsOptions;
}

export interface SimulatorMdnsOptions {
  /** UDP port; default 5353. */
  port?: number;
  /** IPv4 address of the interface; '' for all. */
  interface?: string;
  /** Host label in the SRV record; default `tether-sim-<hostname>`. */
  host?: string;
}

export interface Simulator {
  /** Where the TCP server listens; undefined without TCP. */
  readonly address: { host: string; port: number } | undefined;
  readonly faults: Faults;
  /** Requests, responses, bad request frames, resets so far (a copy). */
  readonly stats: ControllerStats;
  /** Open connections (TCP and serial). */
  readonly connections: number;
  /** The mDNS service name when advertised (undefined without mdns, or when the advertiser failed). */
  readonly advertised: string | undefined;
  /** Called with every request that decoded (answered or not); returns a function that unsubscribes. */
  onRequest(listener: (request: RequestFrame) => void): () => void;
  /** Speaks the protocol on an existing serial device (e.g. one end of a pty pair). */
  attachSerial(path: string): Promise<void>;
  /** Makes a socat pty pair, takes one end, and returns the path a client opens as its serial port. */
  attachPty(options?: { clientPath?: string }): Promise<{ path: string }>;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const identity: Partial<SimIdentity> = {};
  for (const key of [
    'firmwareVersion',
    'protoVersion',
    'firmwareDate',
    'protoDate',
    'systemVersion',
    'platform',
    'deviceId',
  ] as const) {
    const value = options[key];
    if (value !== undefined) identity[key] = value;
  }
  const controller = new SimController({
    identity,
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(options.capacity === undefined ? {} : { capacity: options.capacity }),
    ...(options.rebootDelayMs === undefined ? {} : { rebootDelayMs: options.rebootDelayMs }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  const sim = new SimulatorImpl(controller);
  const port = options.port ?? SIM_DEFAULTS.port;
  if (port !== false) {
    try {
      await sim.listen(options.host ?? SIM_DEFAULTS.host, port);
    } catch (error) {
      await sim.close();
      throw error;
    }
    if (options.mdns !== undefined) await sim.advertise(options.mdns, controller.identity, options.log);
  }
  return sim;
}

class SimulatorImpl implements Simulator {
  readonly faults: Faults;
  readonly #controller: SimController;
  #server: net.Server | undefined;
  #address: { host: string; port: number } | undefined;
  readonly #sockets = new Set<net.Socket>();
  readonly #serials = new Set<SerialLink>();
  readonly #ptys = new Set<PtyPair>();
  #advertiser: MdnsAdvertiser | undefined;
  #advertisement: Advertisement | undefined;
  #closing: Promise<void> | undefined;

  constructor(controller: SimController) {
    this.#controller = controller;
    this.faults = new Faults(controller);
  }

  get address(): { host: string; port: number } | undefined {
    return this.#address;
  }

  get stats(): ControllerStats {
    return { ...this.#controller.stats };
  }

  get connections(): number {
    return this.#controller.sessionCount;
  }

  get advertised(): string | undefined {
    return this.#advertisement?.name;
  }

  async advertise(
    options: SimulatorMdnsOptions,
    identity: { deviceId: string; firmwareVersion: string; platform: string },
    log: ((line: string) => void) | undefined,
  ): Promise<void> {
    const address = this.#address;
    if (address === undefined) return;
    const logger = lineLogger(log);
    try {
      this.#advertiser = await MdnsAdvertiser.start({
        ...(options.port === undefined ? {} : { port: options.port }),
        ...(options.interface === undefined ? {} : { interface: options.interface }),
        log: logger,
      });
    } catch (error) {
      logger.warn('mDNS: not advertising (the multicast socket cannot open)', {
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    this.#advertisement = this.#advertiser.advertise({
      deviceId: identity.deviceId,
      host: options.host ?? `tether-sim-${hostname()}`,
      port: address.port,
      listenHost: address.host,
      txt: { VERSION: identity.firmwareVersion, PLATFORM: identity.platform, HW: 'tether simulator' },
    });
    this.#controller.log(`advertised on mDNS as ${this.#advertisement.name}`);
  }

  onRequest(listener: (request: RequestFrame) => void): () => void {
    return this.#controller.onRequest(listener);
  }

  async listen(host: string, port: number): Promise<void> {
    const server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server = server;
    server.listen(port, host);
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]) => Promise.reject(error as Error)),
    ]);
    const bound = server.address() as net.AddressInfo;
    this.#address = { host, port: bound.port };
    this.#controller.log(`listening on ${host}:${bound.port}`);
  }

  #accept(socket: net.Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    const port: SessionPort = {
      kind: 'tcp',
      name: `${socket.remoteAddress}:${socket.remotePort}`,
      write: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
      drop: () => socket.resetAndDestroy(),
    };
    const session = this.#controller.connect(port);
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    // A client that vanishes mid-write is the client's problem, never the simulator's crash.
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#sockets.delete(socket);
      session.close();
      this.#controller.log(`connection ${port.name} closed`);
    });
  }

  async attachSerial(path: string): Promise<void> {
    if (this.#closing !== undefined) throw new SimulatorClosedError();
    const link = await openSerialLink({ path });
    if (this.#closing !== undefined) {
      await link.close();
      throw new SimulatorClosedError();
    }
    this.#serials.add(link);
    const session = this.#controller.connect({
      kind: 'serial',
      name: path,
      write: (bytes) => {
        // A write failing on a vanished device is what a controller sees too: nothing.
        link.write(bytes).catch(() => {});
      },
      drop: () => {},
    });
    link.onData((chunk) => session.receive(chunk));
    link.onError(() => {});
    link.onClose(() => {
      this.#serials.delete(link);
      session.close();
    });
  }

  async attachPty(options: { clientPath?: string } = {}): Promise<{ path: string }> {
    if (this.#closing !== undefined) throw new SimulatorClosedError();
    const clientPath = options.clientPath;
    const pair = await openPtyPair(
      clientPath === undefined ? {} : { pathA: `${clientPath}.sim`, pathB: clientPath },
    );
    this.#ptys.add(pair);
    try {
      await this.attachSerial(pair.pathA);
    } catch (error) {
      this.#ptys.delete(pair);
      await pair.close();
      throw error;
    }
    this.#controller.log(`serial (pty) at ${pair.pathB}`);
    return { path: pair.pathB };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Goodbye first, so nobody is sent to a server that is about to go.
    await this.#advertiser?.close();
    this.#controller.close();
    const server = this.#server;
    const serverClosed =
      server === undefined || !server.listening
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([serverClosed, ...[...this.#serials].map((link) => link.close())]);
    await Promise.all([...this.#ptys].map((pair) => pair.close()));
    this.#ptys.clear();
  }
}

/** The simulator logs lines; the advertiser logs messages with fields. */
function lineLogger(log: ((line: string) => void) | undefined): ActorLogger {
  const write =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void =>
      log?.(
        `${level === 'info' ? '' : `${level}: `}${msg}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`,
      );
  return { debug: () => {}, info: write('info'), warn: write('warn'), error: write('error') };
}
