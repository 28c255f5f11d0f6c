#!/usr/bin/env node
/**
 * The `tether` command line. Each subcommand lives in its own module and
 * registers itself here.
 */
import { Command } from 'commander';
import { registerConfigCommand } from './config-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerRunCommand } from './run-command.js';
import { registerSimCommand } from './sim-command.js';
import { registerStatusCommands } from './status-command.js';
import { registerUsbBridgeCommand } from './usb-bridge-command.js';
import { packageVersion } from './version.js';

const program = new Command('tether')
  .description('Spark controller device service on a supervised actor runtime')
  .version(packageVersion(), '-V, --version', 'print the version and exit');
registerConfigCommand(program);
registerRunCommand(program);
registerDemoCommand(program);
registerSimCommand(program);
registerStatusCommands(program);
registerUsbBridgeCommand(program);
await program.parseAsync(process.argv);
