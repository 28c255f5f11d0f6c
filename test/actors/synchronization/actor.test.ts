/**
 * The actor shell in a real worker thread: the kernel and the commander are
 * served from the main thread (the kernel is, in the service; the commander
 * stands in for a controller), so this checks the wiring, not the logic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Block, Opcode } from '../../../protocol/index.js';
import type { CommandOptions, KernelState, SynchronizationApi } from '../../../contracts/actors.js';
import { SYNCHRONIZATION_MODULE } from '../../../actors/synchronization/actor.js';
import { ConfigSchema } from '../../../config/schema.js';
import type { TransitionRequest } from '../../../contracts/phase.js';
import { withSystem } from '../../helpers.js';
import { FakeCommander, FakeKernel, HANDSHAKE } from './fakes.js';

test('in a worker, the synchronization actor takes a new link to Synchronized through its refs', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-sync-actor-'));
  try {
    await withSystem(async (system) => {
      const kernel = new FakeKernel({ now: () => Date.now() });
      const commander = new FakeCommander();
      const kernelService = system.serve('kernel', {
        state: () => kernel.state(),
        transition: (request: TransitionRequest) => kernel.transition(request),
        disconnect: (generation: number, reason: string) => kernel.disconnect(generation, reason),
        requestRediscoveryExit: () => false,
        report: () => undefined,
      });
      const commanderService = system.serve('commander', {
        request: (opcode: Opcode, payload: Block | undefined, options?: CommandOptions) =>
          commander.request(opcode, payload as never, options),
        onResponse: () => undefined,
        onKernelState: () => undefined,
        status: () => ({ pending: 0, sent: 0, timedOut: 0, lateResponses: 0 }),
      });
      try {
        const config = ConfigSchema.parse({ stateDir: join(stateDir, 'state') });
        await system.spawn({
          id: 'synchronization',
          module: SYNCHRONIZATION_MODULE,
          config,
          heartbeat: false,
          startTimeoutMs: 5000,
        });
        const sync = system.ref<SynchronizationApi>('synchronization');
        kernel.listener = (state: KernelState) => sync.cast('onKernelState', state);

        const generation = kernel.connect();
        sync.cast('onEvent', generation, { type: 'handshake', handshake: HANDSHAKE });
        const phase = await kernel.waitFor('Synchronized', 5000);
        assert.ok(phase.name === 'Synchronized');
        assert.deepEqual(phase.sync.trace, commander.trace);
        assert.deepEqual(
          commander.sent.filter((r) => r.opcode !== 'NONE').map((r) => (r.payload as Block).id),
          [3, 2],
        );
        assert.deepEqual(await sync.call('status'), {
          step: 'synchronized',
          lastError: null,
          datastore: null,
        });
        assert.deepEqual(await readdir(join(stateDir, 'state')), []);
      } finally {
        kernelService.close();
        commanderService.close();
      }
    });
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});
