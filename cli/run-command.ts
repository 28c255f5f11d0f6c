/**
 * `tether run`: the device service. Loads the configuration (defaults <
 * file < TETHER_ environment < these flags), starts the tree, and stops it
 * in order on SIGTERM or SIGINT (a second signal exits at once).
 *
 * Exit codes: 0 after a clean stop, 75 when USB discovery asks for a fresh
 * process (rediscovery), 78 for an invalid configuration, 1 otherwise.
 */
import type { Command } from 'commander';
import {
  ConfigError,
  ConfigNotFoundError,
  EXIT_CONFIG,
  checkConfigFiles,
  loadConfig,
  parseHostPort,
} from '../config/index.js';
import type { DeepPartial, TetherConfig } from '../config/index.js';
import { startHttpApi } from '../http/index.js';
import type { HttpApi } from '../http/index.js';
import { startService } from '../kernel/service.js';
import type { Service } from '../kernel/service.js';
import { startSimulator } from '../sim/index.js';
import { traceLogFields } from '../otel/log.js';
import { startTelemetry } from '../otel/telemetry.js';
import type { Telemetry } from '../otel/telemetry.js';
import { createCliLogger } from './logging.js';
import type { LogFormat } from './logging.js';

export interface RunFlags {
  config?: string;
  device?: string;
  discovery?: string;
  tcp?: string;
  stateDir?: string;
  logLevel?: string;
  logFormat?: string;
  simIfUnconfigured?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the device service')
    .option('-c, --config <file>', 'configuration file (YAML); also TETHER_CONFIG')
    .option('--device <id>', 'device id of the controller to accept (24 hex digits)')
    .option('--discovery <mode>', 'usb | tcp | mdns | sim | all')
    .option('--tcp <host[:port]>', 'controller address for tcp discovery (IPv6 in brackets: [::1]:8332)')
    .option('--state-dir <dir>', 'where the datastore and persisted state live')
    .option('--log-level <level>', 'trace | debug | info | warn | error | fatal | silent')
    .option(
      '--log-format <format>',
      'auto (readable on a terminal, JSON lines otherwise) | json | pretty; also log.format',
    )
    .option(
      '--sim-if-unconfigured',
      'use the built-in simulated controller when no file, variable or flag sets the discovery mode (npm start)',
    )
    .action(async (flags: RunFlags) => {
      const { code, exitNow } = await run(flags);
      process.exitCode = code;
      if (exitNow) process.exit(code);
    });
}

/** The flags as a configuration layer; throws ConfigError (source "flags") for a value that cannot be one. */
export function overridesFrom(flags: RunFlags): DeepPartial<TetherConfig> {
  const overrides: DeepPartial<TetherConfig> = {};
  if (flags.device !== undefined) overrides.device = { id: flags.device };
  const discovery: DeepPartial<TetherConfig['discovery']> = {};
  if (flags.discovery !== undefined) discovery.mode = flags.discovery as TetherConfig['discovery']['mode'];
  if (flags.tcp !== undefined) {
    const address = parseHostPort(flags.tcp);
    if ('error' in address) {
      throw new ConfigError([{ source: 'flags', key: 'discovery.tcp', message: `--tcp: ${address.error}` }]);
    }
    discovery.tcp = { host: address.host, ...(address.port === undefined ? {} : { port: address.port }) };
  }
  if (Object.keys(discovery).length > 0) overrides.discovery = discovery;
  if (flags.stateDir !== undefined) overrides.stateDir = flags.stateDir;
  const log: DeepPartial<TetherConfig['log']> = {};
  if (flags.logLevel !== undefined) log.level = flags.logLevel as TetherConfig['log']['level'];
  if (flags.logFormat !== undefined) log.format = flags.logFormat as LogFormat;
  if (Object.keys(log).length > 0) overrides.log = log;
  return overrides;
}

/** The exit code, and whether to exit at once rather than wait for the event loop to drain. */
interface RunOutcome {
  code: number;
  exitNow: boolean;
}

async function run(flags: RunFlags): Promise<RunOutcome> {
  const done = (code: number): RunOutcome => ({ code, exitNow: false });
  let config: TetherConfig;
  try {
    // Every rule is the configuration's (the token rule included), so `tether config check` applies it too.
    const loaded = await loadConfig({
      ...(flags.config === undefined ? {} : { file: flags.config }),
      overrides: overridesFrom(flags),
    });
    // The files it names (mqtt.caFile) too: a missing CA is a configuration error now, not an MQTT thread failing later.
    await checkConfigFiles(loaded);
    config = loaded.config;
    const modeSet = loaded.sources.origins['discovery.mode'] !== undefined;
    const addressSet = loaded.sources.origins['discovery.tcp.host'] !== undefined;
    if (flags.simIfUnconfigured === true && !modeSet && !addressSet) {
      config = { ...config, discovery: { ...config.discovery, mode: 'sim' } };
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ConfigNotFoundError) {
      console.error(`tether: invalid configuration\n${error.message}`);
      return done(EXIT_CONFIG);
    }
    throw error;
  }

  const logger = await createCliLogger({
    level: config.log.level,
    format: config.log.format,
    mixin: traceLogFields,
  });
  // Signals are handled from the first line on: one that arrives while the
  // tree is still starting stops it as soon as it is up. (Installed before
  // that line, which is what a supervisor or a test waits for to signal.)
  let service: Service | undefined;
  let api: HttpApi | undefined;
  let stopRequested = false;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    logger.info({ signal }, 'stopping');
    stopRequested = true;
    api?.drain();
    void service?.stop(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  logger.info(
    { discovery: config.discovery.mode, device: config.device.id || '(any)', stateDir: config.stateDir },
    'tether starting',
  );
  let code: number;
  let telemetry: Telemetry | undefined;
  let flushed: boolean;
  try {
    // No program of its own in this main thread: the cheaper context (see TelemetryOptions).
    telemetry = await startTelemetry(config.telemetry, process.env, logger, { mainThreadContext: 'sync' });
    const { mdns } = config.discovery;
    service = await startService(config, {
      logger,
      telemetry,
      // The built-in simulator advertises itself on mDNS as `tether sim` does (on loopback: to this machine only).
      startSimulator: (settings) =>
        startSimulator({ ...settings, mdns: { port: mdns.port, interface: mdns.interface } }),
    });
    logger.info('supervision tree up');
    try {
      api = await startHttpApi(service, config.http, logger);
    } catch (error) {
      await service.stop(1);
      throw error;
    }
    if (stopRequested) {
      api.drain();
      void service.stop(0);
    }
    code = await service.exited;
    await api.close();
  } catch (error) {
    logger.error({ err: error }, 'the service failed to start');
    code = 1;
  } finally {
    // After the tree is down, so the last spans of its stop go out too (bounded).
    flushed = (await telemetry?.shutdown()) ?? true;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  logger.info({ exitCode: code }, 'tether stopped');
  // A flush cut at its bound leaves an export to a collector that does not
  // answer in flight, its socket open until the export's own timeout (up to
  // 5 s more): the SDK's HTTP transport has no way to abort it
  // (open-telemetry/opentelemetry-js-contrib#3349). Everything else has
  // stopped and the log is written (synchronously), so exit now.
  return { code, exitNow: !flushed };
}
