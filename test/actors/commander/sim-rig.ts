/**
 * The commander (and optionally the watchdog) wired to the real simulator
 * over TCP, without worker threads: a TCP link and the real response decoder
 * stand in for the connection actor, a FakeKernel for the kernel. When the
 * kernel accepts a disconnect, the rig tells the actors and closes the link,
 * as the real kernel and connection would.
 */
import { ResponseDecoder } from '../../../protocol/index.js';
import { openTcpLink, type Link } from '../../../actors/connection/transport/index.js';
import { Commander, type CommanderSettings } from '../../../actors/commander/commander.js';
import { Watchdog, type WatchdogSettings } from '../../../actors/watchdog/watchdog.js';
import type { KernelState } from '../../../contracts/actors.js';
import type { Simulator } from '../../../sim/index.js';
import { FakeKernel, RecordingLog, stateOf } from './fakes.js';

export interface SimRig {
  commander: Commander;
  watchdog: Watchdog | undefined;
  kernel: FakeKernel;
  link: Link;
  log: RecordingLog;
  /** Resolves with the first disconnect the kernel accepted. */
  disconnected: Promise<{ generation: number; reason: string }>;
  /** Resolves at every watchdog report (a check ended); replaced after each. */
  nextReport(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export const GENERATION = 1;

export async function simRig(
  sim: Simulator,
  settings: Partial<CommanderSettings> = {},
  watchdogSettings?: WatchdogSettings,
): Promise<SimRig> {
  const link = await openTcpLink({ host: '127.0.0.1', port: sim.address!.port });
  const kernel = new FakeKernel(stateOf('Synchronized', GENERATION, Date.now()));
  const log = new RecordingLog();
  let onDisconnect: (d: { generation: number; reason: string }) => void = () => undefined;
  const disconnected = new Promise<{ generation: number; reason: string }>(
    (resolve) => (onDisconnect = resolve),
  );
  let reportWaiters: ((facts: Record<string, unknown>) => void)[] = [];

  const broadcast = (state: KernelState): void => {
    commander.onKernelState(state);
    watchdog?.onKernelState(state);
  };
  const disconnect = async (generation: number, reason: string): Promise<boolean> => {
    const accepted = await kernel.disconnect(generation, reason);
    if (accepted) {
      broadcast(kernel.current);
      onDisconnect({ generation, reason });
      void link.close();
    }
    return accepted;
  };

  const commander = new Commander(
    { timeoutMs: 2000, checkTimeoutMs: 200, recovery: 'disconnect', ...settings },
    {
      connection: {
        write: (generation, frame) => {
          if (generation === GENERATION) link.write(frame).catch(() => undefined);
        },
      },
      kernel: { state: () => kernel.state(), disconnect },
      log,
      crash: (error) => log.error('crash', { error: error.message }),
    },
  );
  const watchdog =
    watchdogSettings === undefined
      ? undefined
      : new Watchdog(watchdogSettings, {
          ping: (timeoutMs) =>
            commander.request('NONE', undefined, { minPhase: 'Connected', timeoutMs, internal: true }),
          kernel: {
            state: () => kernel.state(),
            disconnect,
            report: (facts) => {
              const waiters = reportWaiters;
              reportWaiters = [];
              for (const wake of waiters) wake(facts);
            },
          },
          log,
        });

  const decoder = new ResponseDecoder((out) => {
    watchdog?.onActivity(GENERATION, Date.now());
    if (out.kind === 'frame') commander.onResponse(GENERATION, out.frame);
  });
  link.onData((chunk) => decoder.push(chunk));
  link.onClose(() => {
    if (kernel.current.phase.name !== 'Disconnected') {
      kernel.current = stateOf('Disconnected', GENERATION, 'link closed');
      broadcast(kernel.current);
    }
  });
  broadcast(kernel.current);

  return {
    commander,
    watchdog,
    kernel,
    link,
    log,
    disconnected,
    nextReport: () => new Promise((resolve) => reportWaiters.push(resolve)),
    close: async () => {
      watchdog?.terminate();
      commander.terminate();
      await link.close();
    },
  };
}
