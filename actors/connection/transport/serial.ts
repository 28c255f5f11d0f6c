/**
 * The serial link (USB controllers): 115200 8N1, no flow control, as the
 * firmware expects. The port itself is a `TtyPort` (Node's tty handle, line
 * set by stty; see tty-port.ts for why not `serialport`'s native binding,
 * which is kept only for listing ports and for its mock in tests). An
 * unplugged USB cable usually shows up as a close with an error, but not
 * always (see protocol.md section 6): only command timeouts reveal a silent
 * device.
 */
import {
  ConnectTimeoutError,
  LinkClosedError,
  LinkOpenError,
  LinkWriteError,
  PortListUnavailableError,
} from '../errors.js';
import { LinkBase, type LinkKind } from './link.js';
import { TtyPort } from './tty-port.js';

export interface SerialSettings {
  path: string;
  /** Default 115200. */
  baudRate?: number;
  /** Default 8. */
  dataBits?: 5 | 6 | 7 | 8;
  /** Default 'none'. */
  parity?: 'none' | 'even' | 'odd';
  /** Default 1. */
  stopBits?: 1 | 2;
  /** Hardware flow control; default false. */
  rtscts?: boolean;
}

/** The slice of serialport's stream the link uses, so a mock binding or a fake can stand in. */
export interface SerialPortLike {
  readonly isOpen: boolean;
  open(callback: (error: Error | null) => void): void;
  write(data: Uint8Array, callback: (error: Error | null | undefined) => void): boolean;
  close(callback: (error: Error | null) => void): void;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: (error?: Error | null) => void): this;
}

export interface SerialLinkOptions extends SerialSettings {
  /** Default 5000. Opening a device rarely hangs, but a wedged USB driver can. */
  openTimeoutMs?: number;
  /** Makes the (unopened) port; default a `TtyPort`. Tests may pass serialport's `SerialPortMock`. */
  createPort?: (settings: Required<SerialSettings>) => SerialPortLike;
}

export const SERIAL_DEFAULTS = {
  baudRate: 115200,
  dataBits: 8,
  parity: 'none',
  stopBits: 1,
  rtscts: false,
} as const;

export function openSerialLink(options: SerialLinkOptions): Promise<SerialLink> {
  const settings: Required<SerialSettings> = {
    path: options.path,
    baudRate: options.baudRate ?? SERIAL_DEFAULTS.baudRate,
    dataBits: options.dataBits ?? SERIAL_DEFAULTS.dataBits,
    parity: options.parity ?? SERIAL_DEFAULTS.parity,
    stopBits: options.stopBits ?? SERIAL_DEFAULTS.stopBits,
    rtscts: options.rtscts ?? SERIAL_DEFAULTS.rtscts,
  };
  const timeoutMs = options.openTimeoutMs ?? 5000;
  const create = options.createPort ?? ((s) => new TtyPort(s));
  return new Promise<SerialLink>((resolve, reject) => {
    let port: SerialPortLike;
    try {
      port = create(settings);
    } catch (error) {
      // serialport throws synchronously on invalid settings.
      reject(new LinkOpenError(settings.path, error));
      return;
    }
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new ConnectTimeoutError(settings.path, timeoutMs));
      // The open may still complete later: release the port then.
      port.close(() => {});
    }, timeoutMs);
    port.open((error) => {
      if (settled) {
        if (error === null) port.close(() => {});
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (error !== null) reject(new LinkOpenError(settings.path, error));
      else resolve(new SerialLink(port, settings.path));
    });
  });
}

export class SerialLink extends LinkBase {
  readonly kind: LinkKind = 'serial';
  readonly #port: SerialPortLike;
  readonly #closed: Promise<void>;

  constructor(port: SerialPortLike, path: string) {
    super(path);
    this.#port = port;
    port.on('data', (chunk: Buffer) => this.emitData(chunk));
    port.on('error', (error: Error) => this.emitError(error));
    this.#closed = new Promise((resolve) => {
      port.on('close', (error?: Error | null) => {
        if (this.closeRequested) this.emitClose({ reason: 'local' });
        else if (error) this.emitClose({ reason: 'error', error });
        else this.emitClose({ reason: 'remote' });
        resolve();
      });
    });
  }

  protected writeOpen(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#port.write(bytes, (error) => {
        if (error === undefined || error === null) resolve();
        else if (this.closed || !this.#port.isOpen)
          reject(new LinkClosedError(this.address, { cause: error }));
        else reject(new LinkWriteError(this.address, error));
      });
    });
  }

  protected closeOpen(): Promise<void> {
    if (!this.#port.isOpen) {
      this.emitClose({ reason: 'local' });
      return Promise.resolve();
    }
    this.#port.close((error) => {
      // Closing a port whose device vanished fails, but it is closed all the same.
      if (error !== null) this.emitClose({ reason: 'local' });
    });
    return this.#closed;
  }
}

export interface SerialPortInfo {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
}

/**
 * The serial ports of this machine. On Linux serialport runs `udevadm`,
 * which containers and minimal machines lack: that rejects with
 * PortListUnavailableError, so the caller can fall back to configured paths
 * instead of treating it as "no ports".
 */
export async function listSerialPorts(): Promise<SerialPortInfo[]> {
  try {
    // Loaded here only: the binding must never load in an actor's worker (see tty-port.ts).
    const { SerialPort } = await import('serialport');
    const ports = await SerialPort.list();
    return ports.map((p) => ({
      path: p.path,
      ...(p.manufacturer === undefined ? {} : { manufacturer: p.manufacturer }),
      ...(p.serialNumber === undefined ? {} : { serialNumber: p.serialNumber }),
      ...(p.vendorId === undefined ? {} : { vendorId: p.vendorId }),
      ...(p.productId === undefined ? {} : { productId: p.productId }),
    }));
  } catch (error) {
    throw new PortListUnavailableError(error);
  }
}
