#!/usr/bin/env node
/**
 * A `tether` program with only the config command, so the CLI tests can run
 * it as a real process (exit code, stdout, stderr) independently of what
 * else `cli/tether.ts` registers.
 */
import { Command } from 'commander';
import { registerConfigCommand } from '../../cli/config-command.js';

const program = new Command('tether');
registerConfigCommand(program);
await program.parseAsync(process.argv);
