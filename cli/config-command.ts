/**
 * `tether config`: the configuration from the command line.
 *
 *     tether config schema                  JSON Schema for editors, on stdout
 *     tether config check FILE [--env]      "ok", or the problems on stderr and exit 78
 *     tether config print [--config FILE] [--json] [--origins] [--show-secrets]
 *                                           the effective configuration (defaults < file < TETHER_* < flags),
 *                                           secrets (http.token, mqtt.password) shown as <redacted> unless asked
 *
 * Exit codes: 0, or 78 (EX_CONFIG) for an invalid or unreadable
 * configuration. Set through `process.exitCode`, so output is flushed and
 * whatever else the process does can finish.
 *
 * The `run*` functions hold the behaviour and return the exit code; they
 * take their output streams and environment as arguments so tests can call
 * them directly.
 */
import type { Command } from 'commander';
import { Document, isNode, isSeq, stringify } from 'yaml';
import {
  ConfigError,
  ConfigNotFoundError,
  EXIT_CONFIG,
  checkConfigFiles,
  configJsonSchema,
  loadConfig,
  readConfigFile,
  resolveConfig,
  redactSecrets,
  type LoadedConfig,
  type ValueOrigin,
} from '../config/index.js';

export interface ConfigCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIo: ConfigCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect and validate the configuration');

  config
    .command('schema')
    .description('print the JSON Schema of the configuration file (for editors)')
    .action(() => {
      process.exitCode = runConfigSchema(processIo);
    });

  config
    .command('check')
    .description(`validate a configuration file; prints "ok", or each problem and exits ${EXIT_CONFIG}`)
    .argument('<file>', 'the YAML file')
    .option('--env', 'also validate the TETHER_* environment variables on top of the file')
    .action(async (file: string, flags: { env?: boolean }) => {
      process.exitCode = await runConfigCheck(file, { withEnv: flags.env === true }, processIo);
    });

  config
    .command('print')
    .description('print the effective configuration: defaults < file < TETHER_* environment')
    .option('--config <file>', 'the YAML file (default: $TETHER_CONFIG, else none)')
    .option('--json', 'print JSON instead of YAML')
    .option('--origins', 'mark each value that is not a default with where it came from')
    .option('--show-secrets', 'print the token and passwords as they are (redacted by default)')
    .action(async (flags: PrintFlags, command: Command) => {
      // Also honour a --config given before the subcommand, should the program define one globally.
      const global = command.optsWithGlobals<{ config?: string }>().config;
      process.exitCode = await runConfigPrint({ ...flags, config: flags.config ?? global }, processIo);
    });
}

export function runConfigSchema(io: Pick<ConfigCommandIo, 'stdout'>): number {
  io.stdout(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}

export async function runConfigCheck(
  file: string,
  options: { withEnv?: boolean },
  io: ConfigCommandIo = processIo,
): Promise<number> {
  return reportingConfigErrors(io, async () => {
    // The files it names (mqtt.caFile) are checked too, as `tether run` does, resolved from here.
    const loaded =
      options.withEnv === true
        ? await loadConfig({ file, env: io.env })
        : resolveConfig({ file, text: await readConfigFile(file), env: {} });
    await checkConfigFiles(loaded);
    io.stdout('ok\n');
    return 0;
  });
}

export interface PrintFlags {
  config?: string | undefined;
  json?: boolean;
  origins?: boolean;
  showSecrets?: boolean;
}

export async function runConfigPrint(flags: PrintFlags, io: ConfigCommandIo = processIo): Promise<number> {
  return reportingConfigErrors(io, async () => {
    const loaded = await loadConfig({
      ...(flags.config === undefined ? {} : { file: flags.config }),
      env: io.env,
    });
    const config = flags.showSecrets === true ? loaded.config : redactSecrets(loaded.config);
    if (flags.json === true) io.stdout(`${JSON.stringify(config, null, 2)}\n`);
    else if (flags.origins === true) io.stdout(withOrigins({ ...loaded, config }));
    else io.stdout(stringify(config));
    return 0;
  });
}

/** Configuration errors become their message on stderr and exit 78; anything else is a bug and propagates. */
async function reportingConfigErrors(io: ConfigCommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ConfigNotFoundError) {
      io.stderr(`${error.message}\n`);
      return EXIT_CONFIG;
    }
    throw error;
  }
}

function withOrigins(loaded: LoadedConfig): string {
  const doc = new Document(loaded.config);
  for (const [key, origin] of Object.entries(loaded.sources.origins)) {
    const node = doc.getIn(key.split('.'), true);
    if (!isNode(node)) continue;
    // A list on one line keeps its origin beside it instead of below its last item.
    if (isSeq(node)) node.flow = true;
    node.comment = ` from ${describeOrigin(origin)}`;
  }
  return doc.toString();
}

function describeOrigin(origin: ValueOrigin): string {
  switch (origin.source) {
    case 'file':
      return `${origin.file}:${origin.line}:${origin.column}`;
    case 'env':
      return origin.variable;
    case 'flags':
      return 'flags';
  }
}
