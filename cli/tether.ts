#!/usr/bin/env node
/**
 * The `tether` command line. Each subcommand lives in its own module and
 * registers itself here.
 */
import { Command } from 'commander';
import { registerConfigCommand } from './config-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerLifecycleCommand } from './lifecycle-command.js';
import { registerRunCommand } from './run-command.js';
import { registerSimCommand } from './sim-command.js';
import { registerStatusCommands } from './status-command.js';

const program = new Command('tether').description(
  'Spark controller device service on a supervised actor runtime',
);
registerConfigCommand(program);
registerRunCommand(program);
registerDemoCommand(program);
registerSimCommand(program);
registerStatusCommands(program);
registerLifecycleCommand(program);
await program.parseAsync(process.argv);
