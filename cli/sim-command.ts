/**
 * `tether sim`: the controller simulator on its own.
 *
 *     tether sim --port 8332 [--pty /tmp/spark] [--device-id HEX] [--proto-version HEX] [fault flags]
 *
 * The TCP server is advertised on multicast DNS as a Spark advertises itself
 * (`_brewblox._tcp`, TXT ID = the device id) unless `--no-mdns`; on the
 * default 127.0.0.1 only this machine's queriers get an answer.
 *
 * While it runs, faults are driven by text commands on stdin, one per line
 * (`help` lists them, e.g. `silent on`, `reset WATCHDOG`, `noise 200`), and
 * by signals when stdin is not at hand: SIGUSR1 resets the controller,
 * SIGUSR2 toggles silent. SIGINT/SIGTERM close everything and exit 0.
 */
import { createInterface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { applyControlLine, startSimulator, type Simulator, type SimulatorOptions } from '../sim/index.js';
import { SIM_DEFAULTS } from '../sim/defaults.js';
import { integer, ipv4OrEmpty } from './arguments.js';

interface SimFlags {
  host: string;
  port: number;
  tcp: boolean;
  pty?: string;
  serial?: string;
  deviceId?: string;
  protoVersion?: string;
  firmwareVersion?: string;
  platform?: string;
  silent?: boolean;
  slow?: number;
  handshakeAfterNone?: boolean;
  handshakeDelay?: number;
  annotate?: boolean;
  setupMode?: boolean;
  quiet?: boolean;
  mdns: boolean;
  mdnsPort: number;
  mdnsInterface: string;
}

function hexField(length: number) {
  return (value: string): string => {
    if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(value)) {
      throw new InvalidArgumentError(`expected ${length} hex digits`);
    }
    return value;
  };
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description(
      'run the Spark controller simulator (TCP and/or a pseudo-terminal); faults by stdin commands',
    )
    .option('--host <host>', 'address to listen on', SIM_DEFAULTS.host)
    .option('--port <port>', 'TCP port (0: any free port)', integer(0, 65535), SIM_DEFAULTS.port)
    .option('--no-tcp', 'no TCP server (serial only)')
    .option(
      '--pty <path>',
      'also make a pseudo-terminal pair (socat); clients open PATH as their serial port',
    )
    .option('--serial <path>', 'also speak on an existing serial device')
    .option('--device-id <hex>', 'device id in the handshake (24 hex digits)', hexField(24))
    .option('--proto-version <hex>', 'proto_version in the handshake (8 hex digits)', hexField(8))
    .option('--firmware-version <hex>', 'firmware_version in the handshake (8 hex digits)', hexField(8))
    .option('--platform <name>', 'platform in the handshake')
    .option('--silent', 'start unplugged: accept requests, answer nothing')
    .option('--slow <ms>', 'delay every response', integer(0, 600_000))
    .option('--handshake-after-none', 'send the handshake only after a NONE request')
    .option('--handshake-delay <ms>', 'send the connect handshake late', integer(0, 600_000))
    .option('--annotate', 'inject log annotations inside data lines')
    .option('--setup-mode', 'start in listening (setup) mode')
    .option('--quiet', 'do not log what the simulator does')
    .option('--no-mdns', 'do not advertise on multicast DNS')
    .option('--mdns-port <port>', 'UDP port of multicast DNS', integer(1, 65535), 5353)
    .option(
      '--mdns-interface <ipv4>',
      'IPv4 address of the interface to advertise on ("" for all)',
      ipv4OrEmpty,
      '',
    )
    .addHelpText('after', '\nWhile running, type "help" on stdin for the fault commands.')
    .action(async (flags: SimFlags) => {
      await runSim(flags);
    });
}

async function runSim(flags: SimFlags): Promise<void> {
  const log = flags.quiet === true ? undefined : (line: string) => process.stderr.write(`sim: ${line}\n`);
  const options: SimulatorOptions = {
    host: flags.host,
    port: flags.tcp ? flags.port : false,
    faults: {
      ...(flags.silent === true ? { silent: true } : {}),
      ...(flags.slow === undefined ? {} : { responseDelayMs: flags.slow }),
      ...(flags.handshakeAfterNone === true ? { handshakeOnlyAfterNone: true } : {}),
      ...(flags.handshakeDelay === undefined ? {} : { handshakeDelayMs: flags.handshakeDelay }),
      ...(flags.annotate === true ? { annotateLines: true } : {}),
    },
    ...(flags.deviceId === undefined ? {} : { deviceId: flags.deviceId }),
    ...(flags.protoVersion === undefined ? {} : { protoVersion: flags.protoVersion }),
    ...(flags.firmwareVersion === undefined ? {} : { firmwareVersion: flags.firmwareVersion }),
    ...(flags.platform === undefined ? {} : { platform: flags.platform }),
    ...(log === undefined ? {} : { log }),
    ...(flags.mdns && flags.tcp ? { mdns: { port: flags.mdnsPort, interface: flags.mdnsInterface } } : {}),
  };
  const sim = await startSimulator(options);
  try {
    if (flags.pty !== undefined) await sim.attachPty({ clientPath: flags.pty });
    if (flags.serial !== undefined) await sim.attachSerial(flags.serial);
    if (flags.setupMode === true) sim.faults.enterSetupMode();
  } catch (error) {
    await sim.close();
    throw error;
  }
  const where = [
    sim.address === undefined ? undefined : `tcp ${sim.address.host}:${sim.address.port}`,
    flags.pty === undefined ? undefined : `pty ${flags.pty}`,
    flags.serial === undefined ? undefined : `serial ${flags.serial}`,
  ].filter((w) => w !== undefined);
  await serve(sim, `simulator ready: ${where.join(', ')} (type "help" for fault commands)\n`);
}

/**
 * Runs until SIGINT/SIGTERM; stdin lines are control commands (an ended
 * stdin just stops them). `readyLine` is written once the signals are
 * handled: whoever waits for it may signal at once.
 */
function serve(sim: Simulator, readyLine: string): Promise<void> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin, terminal: false });
    lines.on('line', (line) => {
      const reply = applyControlLine(sim, line);
      if (reply !== '') process.stdout.write(`${reply}\n`);
    });
    const onReset = (): void => sim.faults.reset();
    const onSilent = (): void => {
      sim.faults.silent = !sim.faults.silent;
    };
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGUSR1', onReset);
      process.off('SIGUSR2', onSilent);
      lines.close();
      process.stdin.destroy();
      void sim.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGUSR1', onReset);
    process.on('SIGUSR2', onSilent);
    process.stdout.write(readyLine);
  });
}
