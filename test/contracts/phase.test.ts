/**
 * The phase state machine, checked against an independent model over random
 * request sequences (fast-check): no illegal transition is ever accepted,
 * every legal one is, and every refused one gets an error reply.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Kernel } from '../../kernel/kernel.js';
import { IllegalTransitionError, PHASES, transition } from '../../contracts/phase.js';
import type { AckInfo, PhaseName, TransitionRequest } from '../../contracts/phase.js';
import type { Handshake } from '../../protocol/index.js';
import type { KernelState, PhaseListener } from '../../contracts/actors.js';
import type { ActorRef } from '../../runtime/index.js';

const handshake: Handshake = {
  firmwareVersion: '4558bdae',
  protoVersion: 'b1698b6e',
  firmwareDate: '2026-03-24',
  protoDate: '2026-03-15',
  systemVersion: '3.2.0',
  platform: 'sim',
  resetReason: '00',
  resetData: '00',
  deviceId: '123456789012345678901234',
};

/** The model: what the design says, written as "which step is next", not as the implementation's switch. */
function modelAccepts(
  current: { name: PhaseName; generation: number; ackOk: boolean },
  request: TransitionRequest,
): boolean {
  if (request.to === 'Connected') return current.name === 'Disconnected';
  if (request.generation !== current.generation) return false;
  if (request.to === 'Disconnected') return current.name !== 'Disconnected';
  const from = PHASES.indexOf(current.name);
  const to = PHASES.indexOf(request.to);
  if (to !== from + 1) return false;
  return request.to !== 'Synchronized' || current.ackOk;
}

const ackArb: fc.Arbitrary<AckInfo> = fc.constantFrom<AckInfo>(
  { handshake },
  { handshake, firmwareError: 'INCOMPATIBLE' },
  { handshake, identityError: 'WRONG_DEVICE' },
);

type RequestSpec =
  | { to: 'Connected' }
  | { to: 'Acknowledged'; offset: number; ack: AckInfo }
  | { to: 'Synchronized'; offset: number }
  | { to: 'Disconnected'; offset: number };

/** Requests whose generation is near the current one (the interesting cases), as offsets. */
const requestArb: fc.Arbitrary<RequestSpec> = fc.oneof(
  fc.constant({ to: 'Connected' as const }),
  fc.record({
    to: fc.constant('Acknowledged' as const),
    offset: fc.integer({ min: -1, max: 1 }),
    ack: ackArb,
  }),
  fc.record({ to: fc.constant('Synchronized' as const), offset: fc.integer({ min: -1, max: 1 }) }),
  fc.record({ to: fc.constant('Disconnected' as const), offset: fc.integer({ min: -1, max: 1 }) }),
);

function concrete(spec: RequestSpec, generation: number): TransitionRequest {
  switch (spec.to) {
    case 'Connected':
      return { to: 'Connected', connection: { kind: 'tcp', address: 'tcp://127.0.0.1:8332' } };
    case 'Acknowledged':
      return { to: 'Acknowledged', generation: generation + spec.offset, ack: spec.ack };
    case 'Synchronized':
      return {
        to: 'Synchronized',
        generation: generation + spec.offset,
        sync: { clockSetTo: 1, storedBlocks: 0, trace: [] },
      };
    case 'Disconnected':
      return { to: 'Disconnected', generation: generation + spec.offset, reason: 'test' };
  }
}

describe('the phase state machine', () => {
  it('over random request sequences, accepts exactly the legal transitions and answers every refusal with an error', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 60 }), (specs) => {
        const casts: string[] = [];
        const listener = {
          id: 'listener',
          call: () => Promise.reject(new Error('not used')),
          callWith: () => Promise.reject(new Error('not used')),
          cast: (_method: string, state: KernelState) => void casts.push(state.phase.name),
        } as unknown as ActorRef<PhaseListener>;
        let accepted = 0;
        const kernel = new Kernel({
          autoconnecting: true,
          now: () => 1000,
          listeners: [listener],
          closeLink: () => undefined,
          onRediscoveryExit: () => false,
        });
        const model = { name: 'Disconnected' as PhaseName, generation: 0, ackOk: false };
        for (const spec of specs) {
          const request = concrete(spec, model.generation);
          const legal = modelAccepts(model, request);
          let reply: 'accepted' | IllegalTransitionError;
          try {
            kernel.transition(request);
            reply = 'accepted';
            accepted += 1;
          } catch (error) {
            assert.ok(error instanceof IllegalTransitionError, 'a refusal is an IllegalTransitionError');
            assert.equal(error.code, 'TETHER_ILLEGAL_TRANSITION');
            reply = error;
          }
          assert.equal(reply === 'accepted', legal, `${model.name} -> ${request.to}`);
          if (legal) {
            if (request.to === 'Connected') model.generation += 1;
            if (request.to === 'Acknowledged') {
              model.ackOk =
                request.ack.firmwareError === undefined && request.ack.identityError === undefined;
            }
            model.name = request.to;
          }
          const phase = kernel.state.phase;
          assert.equal(phase.name, model.name);
          assert.equal(phase.generation, model.generation);
          // The phase carries its own data: a handshake exists exactly from Acknowledged on.
          assert.equal('ack' in phase, phase.name === 'Acknowledged' || phase.name === 'Synchronized');
        }
        // Every accepted change, and only those, was told to the actors.
        assert.equal(casts.length, accepted);
      }),
      { numRuns: 500 },
    );
  });

  it('a message about an old connection cannot move the new one', () => {
    let phase = transition(
      { name: 'Disconnected', generation: 0, since: 0, reason: '' },
      { to: 'Connected', connection: { kind: 'tcp', address: 'a' } },
      1,
    );
    assert.ok(phase.ok);
    phase = transition(phase.phase, { to: 'Disconnected', generation: 1, reason: 'drop' }, 2);
    assert.ok(phase.ok);
    phase = transition(phase.phase, { to: 'Connected', connection: { kind: 'tcp', address: 'b' } }, 3);
    assert.ok(phase.ok);
    assert.equal(phase.phase.generation, 2);
    const stale = transition(
      phase.phase,
      { to: 'Disconnected', generation: 1, reason: 'late close of the old link' },
      4,
    );
    assert.ok(!stale.ok);
    assert.equal(stale.error.detail['requestedGeneration'], 1);
  });

  it('the kernel disconnects only the current generation, and tells connection to close that link', () => {
    const closed: Array<[number, string]> = [];
    const kernel = new Kernel({
      autoconnecting: true,
      listeners: [],
      closeLink: (generation, reason) => closed.push([generation, reason]),
      onRediscoveryExit: () => false,
    });
    kernel.transition({ to: 'Connected', connection: { kind: 'tcp', address: 'a' } });
    assert.equal(kernel.disconnect(0, 'stale'), false);
    assert.equal(kernel.disconnect(1, 'watchdog'), true);
    assert.equal(kernel.disconnect(1, 'again'), false);
    assert.deepEqual(closed, [[1, 'watchdog']]);
    assert.equal(kernel.state.phase.name, 'Disconnected');
  });
});
