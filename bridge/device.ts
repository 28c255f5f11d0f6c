/**
 * One bridged controller: its serial port, opened with `serialport` in this
 * (main) thread, served on a TCP port of its own.
 *
 * One client at a time, as a controller on Wi-Fi serves one: a client that
 * connects while another is connected replaces it (the older connection is
 * closed). The alternative, refusing the newcomer, lets a client that died
 * without closing (a killed container, a dropped network) hold the
 * controller until TCP keepalive gives up on it, and the service that comes
 * back cannot get in; replacing it costs two misconfigured services taking
 * turns, which the log and the `replaced` counter make plain.
 *
 * Bytes pass as they are, both ways: the bridge neither frames nor parses,
 * so it cannot be wrong about the protocol. What the controller sends while
 * no client is connected is dropped (and counted): a new client starts
 * clean, as after a reconnect to a Wi-Fi controller. Buffers are bounded
 * both ways: a client that stops reading is dropped, and a client writing
 * faster than the serial line is paused until the port catches up.
 *
 * Unplugging shows up as the port closing with an error; the bridge's rescan
 * also closes a device that vanished from sysfs without a word (a USB
 * device can do that, see protocol.md section 6).
 */
import net from 'node:net';
import { once } from 'node:events';
import { SerialPort } from 'serialport';
import { openSerialLink, type Link, type SerialPortLike } from '../actors/connection/transport/index.js';
import type { ActorLogger } from '../runtime/actor.js';
import { LogLimiter } from '../runtime/log-limiter.js';

export interface DeviceSettings {
  deviceId: string;
  path: string;
  baudRate: number;
  /** Where the TCP server listens. */
  host: string;
  /** Its port; 0 for any free one. */
  port: number;
  /** Default 5000. */
  openTimeoutMs?: number;
}

export interface DeviceCounters {
  /** Clients accepted so far. */
  clients: number;
  /** Clients closed because a newer one connected. */
  replaced: number;
  /** Clients closed because they stopped reading. */
  slowClients: number;
  bytesToDevice: number;
  bytesFromDevice: number;
  /** Bytes the controller sent while no client was connected. */
  droppedFromDevice: number;
}

export const DEVICE_LIMITS = {
  /** A client's unsent bytes beyond this: it is not reading, and is dropped. */
  clientBacklogBytes: 1024 * 1024,
  /** Bytes handed to the serial port and not yet written: above this the client is paused. */
  serialBacklogBytes: 64 * 1024,
  /** TCP keepalive on clients, so a vanished one is noticed by the OS. */
  keepAliveMs: 10_000,
} as const;

export type SerialOpener = (settings: {
  path: string;
  baudRate: number;
  openTimeoutMs: number;
}) => Promise<Link>;

/** `serialport` for the port itself (in the main thread, where its native reads are safe). */
export const openWithSerialport: SerialOpener = ({ path, baudRate, openTimeoutMs }) =>
  openSerialLink({
    path,
    baudRate,
    openTimeoutMs,
    createPort: (s): SerialPortLike =>
      new SerialPort({
        path: s.path,
        baudRate: s.baudRate,
        dataBits: s.dataBits,
        parity: s.parity,
        stopBits: s.stopBits,
        rtscts: s.rtscts,
        autoOpen: false,
      }),
  });

export class BridgedDevice {
  readonly deviceId: string;
  readonly path: string;
  readonly #serial: Link;
  readonly #server: net.Server;
  readonly #log: ActorLogger;
  readonly #limiter = new LogLimiter({ periodMs: 10_000, burst: 1 });
  readonly #gone = new Set<(reason: string) => void>();
  readonly #counters: DeviceCounters = {
    clients: 0,
    replaced: 0,
    slowClients: 0,
    bytesToDevice: 0,
    bytesFromDevice: 0,
    droppedFromDevice: 0,
  };
  #client: net.Socket | undefined;
  #serialBacklog = 0;
  #port = 0;
  #closing: Promise<void> | undefined;
  #goneReason: string | undefined;

  /** Opens the serial port, then the TCP server; fails (closing what it opened) when either cannot. */
  static async open(
    settings: DeviceSettings,
    log: ActorLogger,
    openSerial: SerialOpener = openWithSerialport,
  ): Promise<BridgedDevice> {
    const serial = await openSerial({
      path: settings.path,
      baudRate: settings.baudRate,
      openTimeoutMs: settings.openTimeoutMs ?? 5000,
    });
    const device = new BridgedDevice(settings, serial, log);
    try {
      await device.#listen(settings.host, settings.port);
    } catch (error) {
      await device.close('the TCP port could not be had');
      throw error;
    }
    return device;
  }

  private constructor(settings: DeviceSettings, serial: Link, log: ActorLogger) {
    this.deviceId = settings.deviceId;
    this.path = settings.path;
    this.#serial = serial;
    this.#log = log;
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    // A listening server has no error worth a crash once bound; each is logged (rate-limited).
    this.#server.on('error', (error) =>
      this.#limited('server', 'bridge: TCP server error', { error: error.message }),
    );
    serial.onData((chunk) => this.#fromDevice(chunk));
    serial.onError((error) => this.#limited('serial', 'bridge: serial port error', { error: error.message }));
    serial.onClose((info) => {
      const why =
        info.reason === 'local'
          ? 'closed by the bridge'
          : `unplugged (${info.error?.message ?? info.reason})`;
      void this.close(why);
    });
  }

  /** The TCP port it serves on. */
  get port(): number {
    return this.#port;
  }

  /** `address:port` of the connected client, or null. */
  get client(): string | null {
    const client = this.#client;
    return client === undefined ? null : `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`;
  }

  get counters(): DeviceCounters {
    return { ...this.#counters };
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Called once, with why, when the device is gone (unplugged, or closed). */
  onGone(listener: (reason: string) => void): void {
    if (this.#goneReason !== undefined) {
      const reason = this.#goneReason;
      queueMicrotask(() => listener(reason));
      return;
    }
    this.#gone.add(listener);
  }

  /** Closes the client, the server and the serial port. Idempotent. */
  close(reason: string): Promise<void> {
    this.#closing ??= (async () => {
      this.#client?.destroy();
      this.#client = undefined;
      const serverClosed = this.#server.listening
        ? new Promise<void>((resolve) => this.#server.close(() => resolve()))
        : Promise.resolve();
      await Promise.all([serverClosed, this.#serial.close()]);
      this.#goneReason = reason;
      for (const listener of this.#gone) listener(reason);
      this.#gone.clear();
    })();
    return this.#closing;
  }

  // ------------------------------------------------------------- traffic

  async #listen(host: string, port: number): Promise<void> {
    this.#server.listen(port, host);
    await Promise.race([
      once(this.#server, 'listening'),
      once(this.#server, 'error').then(([error]) => Promise.reject(error as Error)),
    ]);
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    socket.setKeepAlive(true, DEVICE_LIMITS.keepAliveMs);
    socket.on('error', () => {}); // a reset by the peer ends in 'close' all the same
    const previous = this.#client;
    this.#client = socket;
    this.#counters.clients += 1;
    const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    if (previous !== undefined) {
      this.#counters.replaced += 1;
      this.#limited('replaced', 'bridge: a new client replaced the connected one', {
        deviceId: this.deviceId,
        client: who,
      });
      previous.destroy();
    } else {
      this.#limited('client', 'bridge: client connected', { deviceId: this.deviceId, client: who });
    }
    socket.on('data', (chunk: Buffer) => this.#toDevice(socket, chunk));
    socket.once('close', () => {
      if (this.#client === socket) this.#client = undefined;
    });
  }

  #toDevice(socket: net.Socket, chunk: Buffer): void {
    if (this.#client !== socket || this.#closing !== undefined) return;
    this.#counters.bytesToDevice += chunk.length;
    this.#serialBacklog += chunk.length;
    if (this.#serialBacklog > DEVICE_LIMITS.serialBacklogBytes) socket.pause();
    this.#serial.write(chunk).then(
      () => this.#drained(socket, chunk.length),
      (error: unknown) => {
        this.#drained(socket, chunk.length);
        // A write that fails means the port is gone; its close follows and ends everything.
        this.#limited('write', 'bridge: serial write failed', {
          deviceId: this.deviceId,
          error: error instanceof Error ? error.message : String(error),
        });
      },
    );
  }

  #drained(socket: net.Socket, bytes: number): void {
    this.#serialBacklog -= bytes;
    if (this.#serialBacklog <= DEVICE_LIMITS.serialBacklogBytes / 2 && socket.isPaused()) socket.resume();
  }

  #fromDevice(chunk: Buffer): void {
    this.#counters.bytesFromDevice += chunk.length;
    const client = this.#client;
    if (client === undefined || client.destroyed) {
      this.#counters.droppedFromDevice += chunk.length;
      return;
    }
    if (client.writableLength > DEVICE_LIMITS.clientBacklogBytes) {
      this.#counters.slowClients += 1;
      this.#counters.droppedFromDevice += chunk.length;
      this.#limited('slow', 'bridge: dropping a client that does not read', { deviceId: this.deviceId });
      client.destroy();
      return;
    }
    client.write(chunk);
  }

  #limited(kind: string, msg: string, fields: Record<string, unknown>): void {
    const suppressed = this.#limiter.admit(kind, Date.now());
    if (suppressed === undefined) return;
    const level = kind === 'client' || kind === 'replaced' ? 'info' : 'warn';
    this.#log[level](msg, suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields);
  }
}
