/**
 * Reboot and firmware update: the two tasks that take the controller away
 * and wait for it to come back, without the service restarting. Each is a
 * sequence of named states with a timeout and a failure count each
 * (lifeguard.ts); the task is FAILED naming the state that ran out.
 *
 *   reboot:           command (REBOOT) -> disconnect -> reconnect -> synchronize
 *   firmware.update:  command (FIRMWARE_UPDATE) -> updater -> disconnect -> reconnect -> synchronize
 *
 * - command: the request; a timeout or a commander that restarted under it
 *   is retried. A link lost before the answer is taken as done: the
 *   controller resets right after it answers, and the states that follow
 *   tell whether it really did (the reset reason, the firmware version).
 * - updater: the `<!FIRMWARE_UPDATER>` event (component state).
 * - disconnect: the link the command went out on drops; retried by closing it.
 * - reconnect: a new link on which the controller answered (Acknowledged);
 *   retried by closing a link it does not answer on, so a fresh one is tried.
 * - synchronize: that link reaches Synchronized; retried likewise. A reboot
 *   then checks the reset reason, an update the firmware version (the one
 *   asked for, or else the one the updater announced).
 *
 * Link losses are part of these tasks, and every wait watches the kernel in
 * the main thread, so a restart of any actor meanwhile changes nothing; a
 * commander restarted under the command is one of the command's failures.
 */
import { z } from 'zod';
import type { AckInfo, Phase } from '../../contracts/phase.js';
import { RESET_DATA, RESET_REASONS } from '../../protocol/index.js';
import { TetherError } from '../../errors/index.js';
import { FirmwareMismatchError, UnexpectedResetError } from '../errors.js';
import { LifeGuard } from '../lifeguard.js';
import type { StateLimits } from '../lifeguard.js';
import type { JobContext } from '../local-executor.js';
import type { KernelPort, SynchronizedPhase, TaskDeps } from './deps.js';
import { synchronizedPhase } from './deps.js';

export const RebootArgs = z.strictObject({});
export const FirmwareUpdateArgs = z.strictObject({
  /** The firmware version to expect afterwards (8 hex digits); default: the one the updater announces. */
  firmwareVersion: z
    .string()
    .regex(/^[0-9a-fA-F]{8}$/, { error: 'expected the 8 hex digits of a firmware version' })
    .optional(),
});

export interface RestartResult {
  /** The states passed, in order. */
  passed: string[];
  /** Failed attempts per state (retried). */
  failures: Record<string, number>;
  generation: number;
  resetReason: string;
  resetData: string;
  firmwareVersion: string;
  previousFirmwareVersion: string;
  /** From the command to Synchronized again (ms). */
  tookMs: number;
}

/** Errors after which sending the command again makes sense: nobody heard it, or nobody answered. */
function retryable(error: unknown): boolean {
  return (
    TetherError.is(error, 'TETHER_COMMAND_TIMEOUT') ||
    TetherError.is(error, 'TETHER_CALL_TIMEOUT') ||
    TetherError.is(error, 'TETHER_ACTOR_DOWN') ||
    TetherError.is(error, 'TETHER_STASH_FULL') ||
    TetherError.is(error, 'TETHER_COMMANDER_BUSY')
  );
}

/** The controller reset before its answer got out: the command did its work. */
function resetUnderIt(error: unknown): boolean {
  return TetherError.is(error, 'TETHER_LINK_LOST');
}

async function sendCommand(
  guard: LifeGuard,
  deps: TaskDeps,
  opcode: 'REBOOT' | 'FIRMWARE_UPDATE',
  limits: StateLimits,
): Promise<void> {
  await guard.step(
    'command',
    limits,
    async () => {
      try {
        await deps.commander.request(opcode, undefined, { timeoutMs: limits.timeoutMs });
      } catch (error) {
        if (!resetUnderIt(error)) throw error;
      }
    },
    retryable,
  );
}

/** disconnect -> reconnect -> synchronize, after the command (and the updater) on the link of `g0`. */
async function comeBack(
  guard: LifeGuard,
  kernel: KernelPort,
  g0: number,
  states: { disconnect: StateLimits; reconnect: StateLimits; synchronize: StateLimits },
  context: JobContext,
  checkAck: (ack: AckInfo) => void,
): Promise<SynchronizedPhase> {
  const phase = (): Phase => kernel.state.phase;
  context.progress(40, 'waiting for the link to drop');
  await guard.wait(
    'disconnect',
    states.disconnect,
    () => (phase().generation > g0 || phase().name === 'Disconnected' ? true : undefined),
    { onTimeout: () => kernel.disconnect(g0, 'the controller did not drop the link after the command') },
  );
  context.progress(55, 'waiting for the controller to answer on a new link');
  /** Closes a new link that is stuck short of where the state wants it, so a fresh one is tried. */
  const nudge = (why: string) => (): void => {
    const now = phase();
    if (now.generation > g0 && now.name !== 'Disconnected' && now.name !== 'Synchronized') {
      kernel.disconnect(now.generation, why);
    }
  };
  await guard.wait(
    'reconnect',
    states.reconnect,
    () => {
      const now = phase();
      if (now.generation <= g0 || (now.name !== 'Acknowledged' && now.name !== 'Synchronized'))
        return undefined;
      checkAck(now.ack);
      return true;
    },
    { onTimeout: nudge('the controller did not answer on the new link') },
  );
  context.progress(75, 'waiting for Synchronized');
  return guard.wait(
    'synchronize',
    states.synchronize,
    () => {
      const now = phase();
      if (now.generation <= g0) return undefined;
      if (now.name === 'Acknowledged') checkAck(now.ack);
      return now.name === 'Synchronized' ? now : undefined;
    },
    { onTimeout: nudge('the controller did not synchronize in time') },
  );
}

function resetName(code: string): string {
  return (RESET_REASONS as Record<string, string>)[code.toUpperCase()] ?? `0x${code}`;
}

function result(
  guard: LifeGuard,
  before: SynchronizedPhase,
  after: SynchronizedPhase,
  startedAt: number,
): RestartResult {
  const { handshake } = after.ack;
  return {
    passed: [...guard.progress.passed],
    failures: { ...guard.progress.failures },
    generation: after.generation,
    resetReason: resetName(handshake.resetReason),
    resetData:
      (RESET_DATA as Record<string, string>)[handshake.resetData.toUpperCase()] ?? `0x${handshake.resetData}`,
    firmwareVersion: handshake.firmwareVersion,
    previousFirmwareVersion: before.ack.handshake.firmwareVersion,
    tookMs: Date.now() - startedAt,
  };
}

/** The incompatible or wrong controller a link came back with ends the task at once. */
function incompatible(ack: AckInfo): string | undefined {
  if (ack.firmwareError !== undefined) return 'this build does not support its protocol version';
  if (ack.identityError !== undefined) return 'it is not the configured device';
  return undefined;
}

export async function reboot(deps: TaskDeps, context: JobContext): Promise<RestartResult> {
  const settings = deps.settings.kinds.reboot;
  const before = synchronizedPhase(deps.kernel, 'REBOOT');
  const guard = new LifeGuard(deps.kernel, context.signal);
  const startedAt = Date.now();
  try {
    context.progress(5, 'sending REBOOT');
    await sendCommand(guard, deps, 'REBOOT', settings.states.command);
    const after = await comeBack(guard, deps.kernel, before.generation, settings.states, context, (ack) => {
      const problem = incompatible(ack);
      if (problem !== undefined) {
        throw new FirmwareMismatchError(
          before.ack.handshake.firmwareVersion,
          ack.handshake.firmwareVersion,
          problem,
          guard.partial(),
        );
      }
    });
    const reason = resetName(after.ack.handshake.resetReason);
    if (!(settings.resetReasons as readonly string[]).includes(reason)) {
      throw new UnexpectedResetError(settings.resetReasons.join(' or '), reason, guard.partial());
    }
    context.progress(100, `back, reset reason ${reason}`);
    return result(guard, before, after, startedAt);
  } finally {
    guard.close();
  }
}

export async function firmwareUpdate(
  deps: TaskDeps,
  args: z.output<typeof FirmwareUpdateArgs>,
  context: JobContext,
): Promise<RestartResult & { expectedFirmwareVersion: string }> {
  const settings = deps.settings.kinds.firmwareUpdate;
  const before = synchronizedPhase(deps.kernel, 'FIRMWARE_UPDATE');
  const g0 = before.generation;
  const guard = new LifeGuard(deps.kernel, context.signal);
  const startedAt = Date.now();
  try {
    context.progress(5, 'sending FIRMWARE_UPDATE');
    await sendCommand(guard, deps, 'FIRMWARE_UPDATE', settings.states.command);
    context.progress(20, 'waiting for the updater');
    const announced = await guard.wait('updater', settings.states.updater, () => {
      for (const seen of guard.seen) {
        if (seen.type !== 'component' || seen.change.generation < g0) continue;
        const { report } = seen.change;
        if (report.kind === 'updater') return report.firmwareVersion;
      }
      return undefined;
    });
    const expected = (args.firmwareVersion ?? announced).toLowerCase();
    context.progress(30, `the controller is updating to ${expected}`);
    const check = (ack: AckInfo): void => {
      const got = ack.handshake.firmwareVersion.toLowerCase();
      const problem =
        incompatible(ack) ??
        (got === expected
          ? undefined
          : `expected ${expected} (reset reason ${resetName(ack.handshake.resetReason)})`);
      if (problem !== undefined) throw new FirmwareMismatchError(expected, got, problem, guard.partial());
    };
    const after = await comeBack(guard, deps.kernel, g0, settings.states, context, check);
    context.progress(100, `running firmware ${after.ack.handshake.firmwareVersion}`);
    return { ...result(guard, before, after, startedAt), expectedFirmwareVersion: expected };
  } finally {
    guard.close();
  }
}
