import type { Command } from 'commander';

/** `tether sim`: runs the controller simulator on its own (filled in by the controller-link work). */
export function registerSimCommand(_program: Command): void {}
