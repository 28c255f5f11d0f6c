#!/usr/bin/env node
/**
 * The `tether` command line. Each subcommand lives in its own module and
 * registers itself here.
 *
 * A command line commander cannot read (an unknown option, an option
 * without its value, an unknown command) is a configuration error like any
 * other: commander prints what is wrong, and the exit code is 78
 * (EX_CONFIG), which the systemd unit does not restart on. Help and
 * version still exit 0.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_CONFIG } from '../config/index.js';
import { registerConfigCommand } from './config-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerLifecycleCommand } from './lifecycle-command.js';
import { registerRunCommand } from './run-command.js';
import { registerSimCommand } from './sim-command.js';
import { registerStatusCommands } from './status-command.js';
import { registerBlockCommands } from './block-command.js';
import { registerTaskCommands } from './task-command.js';
import { registerUsbBridgeCommand } from './usb-bridge-command.js';
import { packageVersion } from './version.js';

const program = new Command('tether')
  .description('Spark controller device service on a supervised actor runtime')
  .version(packageVersion(), '-V, --version', 'print the version and exit');
// Before the subcommands are added: each one takes the setting over from its parent when made.
program.exitOverride();
registerConfigCommand(program);
registerRunCommand(program);
registerDemoCommand(program);
registerSimCommand(program);
registerStatusCommands(program);
registerTaskCommands(program);
registerBlockCommands(program);
registerUsbBridgeCommand(program);
registerLifecycleCommand(program);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode === 0 ? 0 : EXIT_CONFIG;
}
