/**
 * `tether usb-bridge`: Spark controllers on this machine's USB, each served
 * on a TCP port, for a service (in a container, say) that uses
 * `discovery: tcp` or `mdns` and so never exits for USB rediscovery.
 *
 *     tether usb-bridge [--host 127.0.0.1] [--port 8332] [--pin ID=PORT ...]
 *                       [--http-host 127.0.0.1] [--http-port 8330 | --no-http]
 *                       [--no-mdns] [--mdns-port 5353] [--mdns-interface IPV4]
 *                       [--ids 2B04:C006,2B04:C008] [--baud-rate 115200]
 *                       [--interval 2000] [--sys-root /sys] [--dev-root /dev]
 *
 * Runs until SIGINT or SIGTERM, then closes every port (saying goodbye on
 * mDNS first) and exits 0. Logs are JSON lines, as the service's are.
 * Exit codes: 0 after a clean stop, 1 for a bad flag or when the listing
 * cannot listen.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { CONFIG_DEFAULTS } from '../config/index.js';
import { UsbBridge, startBridgeHttp, type BridgeHttp } from '../bridge/index.js';
import type { ActorLogger } from '../runtime/actor.js';
import { createLogger, type Logger } from '../runtime/index.js';
import { integer, ipv4OrEmpty } from './arguments.js';

interface BridgeFlags {
  host: string;
  port: number;
  pin: Record<string, number>;
  httpHost: string;
  httpPort: number;
  http: boolean;
  mdns: boolean;
  mdnsPort: number;
  mdnsInterface: string;
  ids: string[];
  baudRate: number;
  interval: number;
  sysRoot: string;
  devRoot: string;
  logLevel: string;
}

export const BRIDGE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8332,
  httpHost: '127.0.0.1',
  httpPort: 8330,
  intervalMs: 2000,
} as const;

function pin(value: string, previous: Record<string, number>): Record<string, number> {
  const match = /^([0-9a-fA-F]{24})=(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65_535) {
    throw new InvalidArgumentError('expected DEVICE_ID=PORT (24 hex digits, a port 1..65535)');
  }
  return { ...previous, [match[1]!.toLowerCase()]: port };
}

function usbIds(value: string): string[] {
  const ids = value.split(',').map((id) => id.trim());
  if (ids.some((id) => !/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/.test(id))) {
    throw new InvalidArgumentError('expected VID:PID pairs, 4 hex digits each, separated by commas');
  }
  return ids;
}

export function registerUsbBridgeCommand(program: Command): void {
  program
    .command('usb-bridge')
    .description(
      'serve each Spark controller on USB on a TCP port (serialport, found by VID:PID in sysfs; no udev), listed over HTTP and mDNS',
    )
    .option('--host <address>', 'address the controllers’ TCP ports listen on', BRIDGE_DEFAULTS.host)
    .option(
      '--port <port>',
      'TCP port of the first controller; the next take the next free ones (0: any free port)',
      integer(0, 65_535),
      BRIDGE_DEFAULTS.port,
    )
    .option('--pin <id=port>', 'serve the controller with this device id on this port (repeatable)', pin, {})
    .option('--http-host <address>', 'address of the read-only JSON listing', BRIDGE_DEFAULTS.httpHost)
    .option(
      '--http-port <port>',
      'port of the listing (0: any free port)',
      integer(0, 65_535),
      BRIDGE_DEFAULTS.httpPort,
    )
    .option('--no-http', 'no listing over HTTP')
    .option('--no-mdns', 'do not advertise the controllers on multicast DNS')
    .option(
      '--mdns-port <port>',
      'UDP port of multicast DNS',
      integer(1, 65_535),
      CONFIG_DEFAULTS.discovery.mdns.port,
    )
    .option(
      '--mdns-interface <ipv4>',
      'IPv4 address of the interface to advertise on ("" for all)',
      ipv4OrEmpty,
      '',
    )
    .option('--ids <vid:pid,...>', 'USB ids of controllers', usbIds, [...CONFIG_DEFAULTS.discovery.usb.ids])
    .option(
      '--baud-rate <n>',
      'serial line speed',
      integer(1, 4_000_000),
      CONFIG_DEFAULTS.discovery.usb.baudRate,
    )
    .option(
      '--interval <ms>',
      'look for plugged and unplugged controllers this often',
      integer(50, 600_000),
      BRIDGE_DEFAULTS.intervalMs,
    )
    .option('--sys-root <dir>', 'where sysfs is (tests use a fake tree)', '/sys')
    .option('--dev-root <dir>', 'where the device nodes are', '/dev')
    .option('--log-level <level>', 'trace | debug | info | warn | error | fatal | silent', 'info')
    .action(async (flags: BridgeFlags) => {
      process.exitCode = await runBridge(flags);
    });
}

async function runBridge(flags: BridgeFlags): Promise<number> {
  const logger = createLogger({ level: flags.logLevel, name: 'tether-usb-bridge' });
  const log = actorLog(logger);
  const bridge = await UsbBridge.start({
    ids: flags.ids,
    baudRate: flags.baudRate,
    host: flags.host,
    basePort: flags.port,
    pinned: flags.pin,
    scanIntervalMs: flags.interval,
    sysRoot: flags.sysRoot,
    devRoot: flags.devRoot,
    mdns: flags.mdns ? { port: flags.mdnsPort, interface: flags.mdnsInterface } : false,
    log,
  });
  let http: BridgeHttp | undefined;
  if (flags.http) {
    try {
      http = await startBridgeHttp(bridge, { host: flags.httpHost, port: flags.httpPort, log });
    } catch (error) {
      logger.error({ err: error }, 'bridge: the HTTP listing cannot listen');
      await bridge.stop();
      return 1;
    }
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      logger.info({ signal }, 'USB bridge stopping');
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // After the handlers: whoever waits for this line may signal at once.
    logger.info(
      { event: 'bridge-ready', listing: http?.address.url ?? null, controllers: bridge.list().length },
      'USB bridge running',
    );
  });
  await http?.close();
  await bridge.stop();
  logger.info('USB bridge stopped');
  return 0;
}

/** The bridge logs as the actors do (message, fields); pino takes (fields, message). */
function actorLog(logger: Logger): ActorLogger {
  return {
    debug: (msg, fields) => logger.debug(fields ?? {}, msg),
    info: (msg, fields) => logger.info(fields ?? {}, msg),
    warn: (msg, fields) => logger.warn(fields ?? {}, msg),
    error: (msg, fields) => logger.error(fields ?? {}, msg),
  };
}
