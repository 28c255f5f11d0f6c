/**
 * The owner of the life cycle with stand-in implementations: transitions
 * run one at a time in the order accepted, a failing or overrunning
 * implementation leaves the state and moves to failed by itself, every
 * transition is recorded with who asked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LifecycleState } from '../../contracts/lifecycle.js';
import {
  Lifecycle,
  type LifecycleImplementations,
  type LifecycleTransition,
} from '../../kernel/lifecycle.js';

function rig(overrides: Partial<Record<keyof LifecycleImplementations, () => void | Promise<void>>> = {}) {
  const ran: string[] = [];
  const implementations: LifecycleImplementations = {
    initialized: overrides.initialized ?? (() => void ran.push('initialize')),
    started: overrides.started ?? (() => void ran.push('start')),
    paused: overrides.paused ?? (() => void ran.push('pause')),
    stopped: overrides.stopped ?? (() => void ran.push('stop')),
  };
  const lifecycle = new Lifecycle({ implementations, transitionTimeoutMs: 200 });
  const seen: LifecycleTransition[] = [];
  lifecycle.onTransition((t) => seen.push(t));
  return { lifecycle, ran, seen };
}

const startup = { via: 'startup' } as const;

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    assert.equal((error as { code?: string }).code, code);
    return (error as { detail: Record<string, unknown> }).detail;
  }
  assert.fail(`expected ${code}`);
}

describe('the life cycle', () => {
  it('runs initialize, start, pause, start, stop, each once, and records who asked', async () => {
    const { lifecycle, ran, seen } = rig();
    await lifecycle.trigger('initialized', startup);
    await lifecycle.trigger('started', startup);
    await lifecycle.trigger('paused', { via: 'http', client: 'curl/8' });
    await lifecycle.trigger('started', { via: 'group', origin: 'b/1', seq: 2 });
    await lifecycle.trigger('stopped', { via: 'mqtt' });
    assert.deepEqual(ran, ['initialize', 'start', 'pause', 'start', 'stop']);
    assert.deepEqual(
      seen.map((t) => `${t.from}->${t.to}:${t.source.via}`),
      [
        'created->initialized:startup',
        'initialized->started:startup',
        'started->paused:http',
        'paused->started:group',
        'started->stopped:mqtt',
      ],
    );
    const view = lifecycle.view();
    assert.equal(view.state, 'stopped');
    assert.deepEqual(view.last?.source, { via: 'mqtt' });
    assert.deepEqual(view.allowed, []);
  });

  it('a trigger for the state it is in, or already moving to, is ignored and runs nothing', async () => {
    let release!: () => void;
    const { lifecycle, ran } = rig({
      paused: () => new Promise<void>((resolve) => (release = () => (ran.push('pause'), resolve()))),
    });
    await lifecycle.trigger('initialized', startup);
    await lifecycle.trigger('started', startup);
    assert.deepEqual(await lifecycle.trigger('started', { via: 'mqtt' }), {
      ignored: true,
      state: 'started',
    });
    const began = new Promise<void>((resolve) => lifecycle.onMoving((to) => to === 'paused' && resolve()));
    const pausing = lifecycle.trigger('paused', { via: 'http' });
    assert.equal(lifecycle.view().moving, 'paused');
    assert.deepEqual(await lifecycle.trigger('paused', { via: 'mqtt' }), { ignored: true, state: 'paused' });
    await began;
    assert.deepEqual(await lifecycle.trigger('paused', { via: 'mqtt' }), { ignored: true, state: 'paused' });
    release();
    const done = await pausing;
    assert.equal(done.ignored, false);
    assert.deepEqual(ran, ['initialize', 'start', 'pause']);
  });

  it('an illegal trigger is refused at once with the state and the allowed triggers', async () => {
    const { lifecycle, ran } = rig();
    await lifecycle.trigger('initialized', startup);
    const detail = await rejectsWith(
      lifecycle.trigger('paused', { via: 'http' }),
      'TETHER_LIFECYCLE_ILLEGAL',
    );
    assert.deepEqual(detail, { state: 'initialized', target: 'paused', allowed: ['started', 'stopped'] });
    assert.deepEqual(ran, ['initialize']);
    assert.equal(lifecycle.state, 'initialized');
  });

  it('a failing implementation leaves the state, then moves to failed by itself; only stop leaves failed', async () => {
    const { lifecycle, seen } = rig({
      paused: () => {
        throw new Error('link would not close');
      },
    });
    await lifecycle.trigger('initialized', startup);
    await lifecycle.trigger('started', startup);
    const detail = await rejectsWith(lifecycle.trigger('paused', { via: 'http' }), 'TETHER_LIFECYCLE_FAILED');
    assert.equal(detail['from'], 'started');
    assert.equal(detail['to'], 'paused');
    const last = seen.at(-1)!;
    assert.equal(last.from, 'started', 'the state it was in when it failed');
    assert.equal(last.to, 'failed');
    assert.deepEqual(last.source, { via: 'automatic', cause: 'link would not close' });
    await rejectsWith(lifecycle.trigger('started', { via: 'http' }), 'TETHER_LIFECYCLE_ILLEGAL');
    await lifecycle.trigger('stopped', { via: 'http' });
    assert.equal(lifecycle.state, 'stopped');
  });

  it('an implementation that overruns its bound counts as failed', async () => {
    const { lifecycle } = rig({ started: () => new Promise<void>(() => undefined) });
    await lifecycle.trigger('initialized', startup);
    await rejectsWith(lifecycle.trigger('started', startup), 'TETHER_LIFECYCLE_FAILED');
    assert.equal(lifecycle.state, 'failed');
  });

  it('queued triggers run in order; one that a failure before it made illegal is refused at its turn', async () => {
    let fail = false;
    const { lifecycle, ran } = rig({
      paused: () => {
        ran.push('pause');
        if (fail) throw new Error('no');
      },
    });
    await lifecycle.trigger('initialized', startup);
    await lifecycle.trigger('started', startup);
    const order = [
      lifecycle.trigger('paused', { via: 'http' }),
      lifecycle.trigger('started', { via: 'http' }),
    ];
    assert.equal(lifecycle.planned, 'started');
    await Promise.all(order);
    assert.deepEqual(ran, ['initialize', 'start', 'pause', 'start']);
    fail = true;
    const failing = lifecycle.trigger('paused', { via: 'http' });
    const after = lifecycle.trigger('started', { via: 'http' });
    await rejectsWith(failing, 'TETHER_LIFECYCLE_FAILED');
    await rejectsWith(after, 'TETHER_LIFECYCLE_ILLEGAL');
    assert.equal(lifecycle.state satisfies LifecycleState, 'failed');
  });

  it('past the queue limit a trigger is refused with TETHER_LIFECYCLE_BUSY', async () => {
    let release!: () => void;
    const { lifecycle } = rig({ paused: () => new Promise<void>((resolve) => (release = resolve)) });
    await lifecycle.trigger('initialized', startup);
    await lifecycle.trigger('started', startup);
    const queued: Array<Promise<unknown>> = [];
    for (let i = 0; i < 9; i += 1) {
      queued.push(
        lifecycle.trigger(i % 2 === 0 ? 'paused' : 'started', { via: 'http' }).catch(() => undefined),
      );
    }
    assert.equal(lifecycle.planned, 'paused');
    await rejectsWith(lifecycle.trigger('started', { via: 'http' }), 'TETHER_LIFECYCLE_BUSY');
    release();
    // Later pauses resolve at once (the stand-in keeps the first one's resolver only).
    await Promise.race([Promise.all(queued), new Promise((resolve) => setTimeout(resolve, 2000))]);
  });
});
