/**
 * A fake /sys and /dev in a temp dir, laid out as Linux lays them out, with
 * real symlinks, so USB discovery is tested on the same path walking it does
 * on a real machine. (Real USB hot-plug cannot be exercised here.)
 *
 *   sys/class/tty/ttyACM0 -> ../../devices/<usb>/1-1/1-1:1.0/tty/ttyACM0
 *   sys/devices/<usb>/1-1/1-1:1.0/tty/ttyACM0/device -> ../../../1-1:1.0
 *   sys/devices/<usb>/1-1/{idVendor,idProduct,serial}
 */
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, dirname } from 'node:path';

const USB_BUS = 'devices/pci0000:00/0000:00:14.0/usb1';

export interface FakeUsbDevice {
  tty: string;
  port: string;
  vendorId: string;
  productId: string;
  serial?: string;
  /** USB-serial chips (ttyUSB) sit one directory deeper than CDC ACM. */
  usbSerialChip?: boolean;
  /** Leave /dev/<tty> out (a container given only some devices). */
  noNode?: boolean;
  /** Make /dev/<tty> a link to this path (one end of a pty pair standing in for the device). */
  nodeTarget?: string;
}

export class FakeSysfs {
  readonly root: string;
  readonly sys: string;
  readonly dev: string;

  private constructor(root: string) {
    this.root = root;
    this.sys = join(root, 'sys');
    this.dev = join(root, 'dev');
  }

  static async create(): Promise<FakeSysfs> {
    const fake = new FakeSysfs(await mkdtemp(join(tmpdir(), 'tether-sysfs-')));
    await mkdir(join(fake.sys, 'class', 'tty'), { recursive: true });
    await mkdir(fake.dev, { recursive: true });
    return fake;
  }

  async addUsb(device: FakeUsbDevice): Promise<void> {
    const usbDevice = join(this.sys, USB_BUS, device.port);
    const iface = join(usbDevice, `${device.port}:1.0`);
    const parent = device.usbSerialChip === true ? join(iface, device.tty) : iface;
    const ttyDir = join(parent, 'tty', device.tty);
    await mkdir(ttyDir, { recursive: true });
    await writeFile(join(usbDevice, 'idVendor'), `${device.vendorId}\n`);
    await writeFile(join(usbDevice, 'idProduct'), `${device.productId}\n`);
    if (device.serial !== undefined) await writeFile(join(usbDevice, 'serial'), `${device.serial}\n`);
    await this.#link(join(ttyDir, 'device'), parent);
    await this.#link(join(this.sys, 'class', 'tty', device.tty), ttyDir);
    if (device.nodeTarget !== undefined) await symlink(device.nodeTarget, join(this.dev, device.tty));
    else if (device.noNode !== true) await writeFile(join(this.dev, device.tty), '');
  }

  /** The device unplugged, as sysfs and /dev show it: its class link, its USB directory and its node go. */
  async removeUsb(device: Pick<FakeUsbDevice, 'tty' | 'port'>): Promise<void> {
    await rm(join(this.sys, 'class', 'tty', device.tty), { force: true });
    await rm(join(this.sys, USB_BUS, device.port), { recursive: true, force: true });
    await rm(join(this.dev, device.tty), { force: true });
  }

  /** A virtual tty (no `device` link) and a platform UART (a `device` without USB ids). */
  async addNonUsb(): Promise<void> {
    const virtual = join(this.sys, 'devices', 'virtual', 'tty', 'tty0');
    await mkdir(virtual, { recursive: true });
    await this.#link(join(this.sys, 'class', 'tty', 'tty0'), virtual);
    const uart = join(this.sys, 'devices', 'platform', 'serial8250');
    const ttyS0 = join(uart, 'tty', 'ttyS0');
    await mkdir(ttyS0, { recursive: true });
    await this.#link(join(ttyS0, 'device'), uart);
    await this.#link(join(this.sys, 'class', 'tty', 'ttyS0'), ttyS0);
    await writeFile(join(this.dev, 'tty0'), '');
    await writeFile(join(this.dev, 'ttyS0'), '');
  }

  /** A udev link in /dev/serial/by-id, pointing at /dev/<tty>. */
  async addById(name: string, tty: string): Promise<string> {
    const dir = join(this.dev, 'serial', 'by-id');
    await mkdir(dir, { recursive: true });
    await writeFile(join(this.dev, tty), '');
    const path = join(dir, name);
    await this.#link(path, join(this.dev, tty));
    return path;
  }

  async removeSys(): Promise<void> {
    await rm(this.sys, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }

  /** Relative links, as sysfs has, so the walk up works wherever the temp dir is. */
  async #link(at: string, target: string): Promise<void> {
    await symlink(relative(dirname(at), target), at);
  }
}
