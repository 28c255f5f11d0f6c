/**
 * The commander's own errors, beyond the command errors every caller knows
 * (those are in contracts.ts). Registered so they keep their class across
 * threads.
 */
import { TetherError, registerErrorClass } from '../../errors/index.js';

/** Too many requests are already pending; the caller should slow down. */
export class CommanderBusyError extends TetherError {
  declare readonly code: 'TETHER_COMMANDER_BUSY';
  constructor(opcode: string, limit: number) {
    super('TETHER_COMMANDER_BUSY', `cannot send ${opcode}: ${limit} requests are already pending`, {
      detail: { opcode, limit },
    });
  }
}

/**
 * Thrown (asynchronously, so the worker crashes) when a command timed out,
 * the NONE check failed too, and the recovery policy is `restart`.
 */
export class CommanderRecoveryRestartError extends TetherError {
  declare readonly code: 'TETHER_COMMANDER_RECOVERY_RESTART';
  constructor(generation: number) {
    super(
      'TETHER_COMMANDER_RECOVERY_RESTART',
      `command timeout and NONE check failed on connection ${generation}: restarting the commander (recovery.commandTimeout: restart)`,
      { detail: { generation } },
    );
  }
}

registerErrorClass('TETHER_COMMANDER_BUSY', CommanderBusyError);
registerErrorClass('TETHER_COMMANDER_RECOVERY_RESTART', CommanderRecoveryRestartError);
