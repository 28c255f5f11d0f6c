/**
 * The commander and watchdog shells in real worker threads: the kernel and
 * connection are served from the main thread (connection as a tiny
 * controller that answers every request), so this checks the wiring between
 * the actors and their refs, not the logic (see the other tests for that).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestDecoder, type ResponseFrame } from '../../../protocol/index.js';
import { COMMANDER_MODULE } from '../../../actors/commander/actor.js';
import { WATCHDOG_MODULE } from '../../../actors/watchdog/actor.js';
import { silentReason } from '../../../actors/watchdog/watchdog.js';
import type { CommanderApi, KernelState, WatchdogApi } from '../../../contracts/actors.js';
import { NotReadyError } from '../../../contracts/actors.js';
import { ConfigSchema } from '../../../config/schema.js';
import { withDeadline, withSystem } from '../../helpers.js';
import { stateOf } from '../commander/fakes.js';

test('in workers, the watchdog pings through the commander and asks the kernel to disconnect a silent link', async () => {
  await withSystem(async (system) => {
    let state: KernelState = stateOf('Disconnected', 0);
    let silent = false;
    let onDisconnect: (d: [number, string]) => void = () => undefined;
    const disconnected = new Promise<[number, string]>((resolve) => (onDisconnect = resolve));
    const reports: Record<string, unknown>[] = [];
    const kernel = system.serve('kernel', {
      state: () => state,
      transition: () => state,
      disconnect: (generation: number, reason: string) => {
        onDisconnect([generation, reason]);
        return true;
      },
      requestRediscoveryExit: () => false,
      report: (_id: string, facts: Record<string, unknown>) => void reports.push(facts),
    });
    const commanderRef = system.ref<CommanderApi>('commander');
    const watchdogRef = system.ref<WatchdogApi>('watchdog');
    // The controller behind connection: answers each request OK at once, unless silent.
    let writeGeneration = 0;
    const decoder = new RequestDecoder((out) => {
      if (out.kind !== 'frame' || silent) return;
      const response: ResponseFrame = { msgId: out.frame.msgId, error: 'OK' };
      commanderRef.cast('onResponse', writeGeneration, response);
      watchdogRef.cast('onActivity', writeGeneration, Date.now());
    });
    const connection = system.serve('connection', {
      write: (generation: number, frame: string) => {
        writeGeneration = generation;
        decoder.push(Buffer.from(frame));
      },
      closeLink: () => undefined,
      onKernelState: () => undefined,
      status: () => ({}),
    });
    try {
      const config = ConfigSchema.parse({
        commander: { timeoutMs: 1000 },
        watchdog: { idleMs: 100, timeoutMs: 100 },
      });
      for (const [id, module] of [
        ['commander', COMMANDER_MODULE],
        ['watchdog', WATCHDOG_MODULE],
      ] as const) {
        await system.spawn({ id, module, config, heartbeat: false, startTimeoutMs: 5000 });
      }
      const publish = (next: KernelState): void => {
        state = next;
        commanderRef.cast('onKernelState', next);
        watchdogRef.cast('onKernelState', next);
      };

      await assert.rejects(commanderRef.call('request', 'NONE', undefined), NotReadyError);
      publish(stateOf('Synchronized', 1, Date.now()));
      assert.equal(await commanderRef.call('request', 'NONE', undefined), undefined);
      assert.equal((await watchdogRef.call('health')).healthy, true);

      silent = true;
      const [generation, reason] = await withDeadline(disconnected, 3000, 'the watchdog disconnect');
      assert.equal(generation, 1);
      assert.equal(reason, silentReason(100));
      assert.ok(reports.length >= 1, 'the watchdog reported its check to the kernel');
      publish(stateOf('Disconnected', 1, 'controller silent'));
      const status = await commanderRef.call('status');
      assert.equal(status.pending, 0);
    } finally {
      kernel.close();
      connection.close();
    }
  });
});
