import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActorDownError,
  ActorIgnoredError,
  AlreadyStartedError,
  SimpleOneForOneError,
  RemoteError,
  TetherError,
  deserializeError,
  serializeError,
} from '../../runtime/index.js';

/** What crossing a thread does to an error: serialize, structured clone, rebuild. */
function acrossThreads(error: unknown): Error {
  return deserializeError(structuredClone(serializeError(error)));
}

describe('errors across a thread boundary', () => {
  it('a tether error comes back as its own class with its code and detail', () => {
    const back = acrossThreads(new ActorDownError('a', 'crashed'));
    assert.ok(back instanceof ActorDownError);
    assert.ok(TetherError.is(back, 'TETHER_ACTOR_DOWN'));
    assert.equal((back as ActorDownError).detail['actorId'], 'a');
  });

  it('a foreign error keeps its name, code, stack and cause', () => {
    const cause = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    const error = Object.assign(new TypeError('write failed', { cause }), { code: 'E_WRITE' });
    const back = acrossThreads(error);
    assert.ok(back instanceof RemoteError);
    assert.equal(back.name, 'TypeError');
    assert.equal(back.code, 'E_WRITE');
    assert.equal(back.stack, error.stack);
    assert.equal((back.cause as RemoteError).code, 'ENOSPC');
  });

  it('a thrown plain object keeps its code and message', () => {
    const back = acrossThreads({ code: 'E_PLAIN', message: 'not an Error' });
    assert.equal((back as RemoteError).code, 'E_PLAIN');
    assert.equal(back.message, 'not an Error');
  });

  it('the errors of names, ignore and simple_one_for_one come back as their own classes, detail kept', () => {
    const taken = acrossThreads(new AlreadyStartedError('x', { kind: 'supervisor', id: 'root' }, 2));
    assert.ok(taken instanceof AlreadyStartedError);
    assert.deepEqual(taken.detail, { name: 'x', holder: { kind: 'supervisor', id: 'root' }, incarnation: 2 });
    assert.ok(acrossThreads(new ActorIgnoredError('x')) instanceof ActorIgnoredError);
    assert.ok(acrossThreads(new SimpleOneForOneError('pool', 'deleteChild')) instanceof SimpleOneForOneError);
  });
});
