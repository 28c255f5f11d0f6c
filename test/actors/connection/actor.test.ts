/**
 * The connection actor in a real worker thread, under a supervisor, with a
 * fake kernel and fake peers served from the main thread, against the
 * simulator over TCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONNECTION_MODULE } from '../../../actors/connection/actor.js';
import { encodeRequest, type ControllerEvent, type ResponseFrame } from '../../../protocol/index.js';
import type { ConnectionApi } from '../../../contracts/actors.js';
import type { TransitionRequest } from '../../../contracts/phase.js';
import { startSimulator } from '../../../sim/index.js';
import { Supervisor } from '../../../supervisors/index.js';
import { eventually, withSystem } from '../../helpers.js';
import { FakeKernel, config } from './fakes.js';

test('the actor in a worker connects, feeds its peers, and a restarted incarnation reports the old link gone', () =>
  withSystem(async (system) => {
    const sim = await startSimulator({ port: 0 });
    const kernel = new FakeKernel();
    const connectionRef = system.ref<ConnectionApi>('connection');
    kernel.listener = {
      onKernelState: (state) => connectionRef.cast('onKernelState', state),
      closeLink: (generation, reason) => connectionRef.cast('closeLink', generation, reason),
    };
    const events: { generation: number; event: ControllerEvent }[] = [];
    const responses: { generation: number; frame: ResponseFrame }[] = [];
    const activity: number[] = [];
    const services = [
      system.serve('kernel', {
        transition: (request: TransitionRequest) => kernel.transition(request),
        state: () => kernel.state,
        requestRediscoveryExit: () => false,
        disconnect: (generation: number, reason: string) => kernel.disconnect(generation, reason),
        report: () => undefined,
      }),
      system.serve('synchronization', {
        onEvent: (generation: number, event: ControllerEvent) => void events.push({ generation, event }),
      }),
      system.serve('commander', {
        onResponse: (generation: number, frame: ResponseFrame) => void responses.push({ generation, frame }),
      }),
      system.serve('watchdog', { onActivity: (generation: number) => void activity.push(generation) }),
    ];
    const sup = new Supervisor(system, {
      id: 'device',
      children: [
        {
          id: 'connection',
          kind: 'worker',
          module: CONNECTION_MODULE,
          config: config({ discovery: { mode: 'tcp', tcp: { host: '127.0.0.1', port: sim.address!.port } } }),
          shutdown: 3000,
        },
      ],
    });
    try {
      await sup.start();
      await eventually(() => kernel.phase.name === 'Connected', 5000, 'Connected');
      await eventually(
        () => events.some((e) => e.generation === 1 && e.event.type === 'handshake'),
        5000,
        'handshake',
      );
      assert.ok(activity.includes(1));

      // The kernel's answer reaches the worker after the kernel itself moved: wait for the actor to know.
      // Polled with a deadline in time (not a count of polls, whose length depends on the machine).
      const statusDeadline = Date.now() + 10_000;
      while ((await connectionRef.call('status')).generation !== 1) {
        assert.ok(Date.now() < statusDeadline, 'status shows generation 1 within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      connectionRef.cast('write', 1, encodeRequest({ msgId: 42, opcode: 'NONE' }).toString());
      await eventually(
        () => responses.some((r) => r.frame.msgId === 42 && r.generation === 1),
        5000,
        'response',
      );
      const status = await connectionRef.call('status');
      assert.equal(status.kind, 'tcp');
      assert.equal(status.framesIn, 1);

      assert.ok(system.injectFault('connection', 'crash'));
      await eventually(
        () => kernel.phase.name === 'Connected' && kernel.phase.generation === 2,
        10_000,
        'generation 2',
      );
      assert.ok(
        kernel.requests.some((r) => r.to === 'Disconnected' && r.generation === 1),
        'the new incarnation reported the dead link',
      );
    } finally {
      await sup.stop();
      for (const service of services) service.close();
      await sim.close();
    }
    assert.equal(kernel.phase.name, 'Disconnected', 'terminate reported the link closed');
  }));
