/**
 * USB serial ports without udev. `SerialPort.list()` runs `udevadm`, which
 * containers and minimal machines lack, so this reads the kernel's own view:
 *
 *   /sys/class/tty/ttyACM0/device -> .../usb1/1-1/1-1:1.0     (the USB interface)
 *   .../usb1/1-1/{idVendor,idProduct,serial}                  (the USB device, a few levels up)
 *
 * and, only when /sys/class/tty cannot be read, the udev-made links in
 * /dev/serial/by-id (`usb-Particle_P1_<serial>-if00`), which name a serial
 * number but no VID:PID. Both roots are parameters so tests build a fake tree
 * in a temp dir. Nothing here throws: an unreadable directory or file means
 * "no port there" and is reported in `problems` for a log line.
 */
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, isAbsolute } from 'node:path';

export interface UsbSerialPort {
  /** What to open: `/dev/ttyACM0`, or a `/dev/serial/by-id/...` link. */
  path: string;
  /** Upper-case hex, 4 digits; absent when only by-id was readable. */
  vendorId?: string;
  productId?: string;
  serialNumber?: string;
  /** Manufacturer string from by-id (`Particle`), when that is all there is. */
  vendor?: string;
  via: 'sysfs' | 'by-id';
}

export interface UsbScanOptions {
  /** Default `/sys`. */
  sysRoot?: string;
  /** Default `/dev`. */
  devRoot?: string;
}

export interface UsbScan {
  ports: UsbSerialPort[];
  /** What could not be read, for one log line (never an exception). */
  problems: string[];
}

/** From a tty's `device` link up to the USB device: interface, then device (ttyUSB adds one level). */
const MAX_LEVELS_UP = 4;

export async function scanUsbSerialPorts(options: UsbScanOptions = {}): Promise<UsbScan> {
  const sysRoot = options.sysRoot ?? '/sys';
  const devRoot = options.devRoot ?? '/dev';
  const problems: string[] = [];
  const classDir = join(sysRoot, 'class', 'tty');
  let names: string[] | undefined;
  try {
    names = await readdir(classDir);
  } catch (error) {
    problems.push(`${classDir}: ${describe(error)}`);
  }
  if (names !== undefined) {
    const ports: UsbSerialPort[] = [];
    for (const name of names.sort()) {
      const port = await fromSysfs(sysRoot, devRoot, classDir, name);
      if (port !== undefined) ports.push(port);
    }
    return { ports, problems };
  }
  return { ports: await fromById(devRoot, problems), problems };
}

async function fromSysfs(
  sysRoot: string,
  devRoot: string,
  classDir: string,
  name: string,
): Promise<UsbSerialPort | undefined> {
  let dir: string;
  let top: string;
  try {
    // Virtual ttys (tty0, ptmx) have no `device` link: realpath fails, not a USB port.
    dir = await realpath(join(classDir, name, 'device'));
    top = await realpath(sysRoot);
  } catch {
    return undefined;
  }
  for (let level = 0; level <= MAX_LEVELS_UP && within(top, dir); level++) {
    const vendorId = await readId(join(dir, 'idVendor'));
    const productId = await readId(join(dir, 'idProduct'));
    if (vendorId !== undefined && productId !== undefined) {
      const path = join(devRoot, name);
      // The node may be absent (a container given only some devices): nothing to open then.
      if (!(await exists(path))) return undefined;
      const serialNumber = await readText(join(dir, 'serial'));
      return {
        path,
        vendorId,
        productId,
        ...(serialNumber === undefined || serialNumber === '' ? {} : { serialNumber }),
        via: 'sysfs',
      };
    }
    dir = dirname(dir);
  }
  return undefined;
}

/** `usb-<vendor>_<model>_<serial>-if<nn>` (`-port<n>` for some USB-serial chips). */
const BY_ID_NAME = /^usb-(.*)_([^_]+)-if[0-9a-fA-F]+(?:-port\d+)?$/;

async function fromById(devRoot: string, problems: string[]): Promise<UsbSerialPort[]> {
  const dir = join(devRoot, 'serial', 'by-id');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    problems.push(`${dir}: ${describe(error)}`);
    return [];
  }
  const ports: UsbSerialPort[] = [];
  for (const name of names.sort()) {
    const match = BY_ID_NAME.exec(name);
    if (match === null) continue;
    const [, label = '', serialNumber = ''] = match;
    const vendor = label.split('_')[0] ?? '';
    ports.push({ path: join(dir, name), serialNumber, vendor, via: 'by-id' });
  }
  return ports;
}

/** The vendor name in by-id links of the controllers whose VID is 2B04. */
const PARTICLE_VENDOR = 'particle';

/**
 * The ports to try, in path order: VID:PID among `ids` (any case) and, when
 * `deviceId` is set, a serial number equal to it (any case). A by-id port has
 * no VID:PID, so it counts only by its serial number when a device id is set,
 * or by its vendor name (Particle) when none is.
 */
export function matchUsbPorts(
  ports: UsbSerialPort[],
  ids: readonly string[],
  deviceId: string,
): UsbSerialPort[] {
  const wanted = new Set(ids.map((id) => id.toUpperCase()));
  const device = deviceId.toLowerCase();
  return ports.filter((port) => {
    if (device !== '' && port.serialNumber?.toLowerCase() !== device) return false;
    if (port.vendorId !== undefined && port.productId !== undefined) {
      return wanted.has(`${port.vendorId}:${port.productId}`);
    }
    return device !== '' || port.vendor?.toLowerCase() === PARTICLE_VENDOR;
  });
}

// ------------------------------------------------------------------ helpers

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function readId(path: string): Promise<string | undefined> {
  const text = await readText(path);
  return text !== undefined && /^[0-9a-fA-F]{4}$/.test(text) ? text.toUpperCase() : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function describe(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) return String(error.code);
  return error instanceof Error ? error.message : String(error);
}
