/**
 * The small parts of the MQTT actor: the reconnect backoff (a table), the
 * log limiter, which response topics are allowed, the token and the group
 * signature, and the request parser's typed refusals.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkGroupSignature, checkToken, groupSignature } from '../../../actors/mqtt/auth.js';
import { reconnectDelay } from '../../../actors/mqtt/backoff.js';
import { LogLimiter } from '../../../actors/mqtt/log-limit.js';
import { parseRequest, errorAnswer } from '../../../actors/mqtt/requests.js';
import { isAllowedResponseTopic } from '../../../actors/mqtt/topics.js';

describe('the MQTT actor’s parts', () => {
  it('reconnect waits grow by the factor up to the cap, spread by at most 20 % either way', () => {
    const policy = { initialMs: 1000, factor: 2, maxMs: 30_000 };
    const rows: Array<[attempt: number, random: number, ms: number]> = [
      [0, 0.5, 1000],
      [1, 0.5, 2000],
      [4, 0.5, 16_000],
      [5, 0.5, 30_000],
      [40, 0.5, 30_000],
      [0, 0, 800],
      [0, 0.999_999, 1200],
      [5, 0, 24_000],
    ];
    for (const [attempt, random, ms] of rows)
      assert.equal(reconnectDelay(policy, attempt, random), ms, `${attempt}`);
  });

  it('the log limiter writes five lines of a kind per window, then counts, then says how many it left out', () => {
    let now = 0;
    const lines: string[] = [];
    const log = (msg: string): void => void lines.push(msg);
    const limiter = new LogLimiter({ debug: log, info: log, warn: log, error: log }, { now: () => now });
    for (let i = 0; i < 20; i += 1) limiter.write('warn', 'refused', `refused ${i}`);
    limiter.write('warn', 'other', 'another kind');
    assert.equal(lines.length, 6);
    assert.equal(limiter.suppressed('refused'), 15);
    now = 60_000;
    limiter.write('warn', 'refused', 'a new window');
    assert.deepEqual(lines.slice(6), ['15 more "refused" lines were left out', 'a new window']);
  });

  it('answers may not go to the service topics, brewcast, or a wildcard', () => {
    for (const topic of [
      'tether/x/cmd/reconnect',
      'tether/x/state',
      'tether/x/status',
      'tether/g/lifecycle',
      'tether/x/events/phase',
      'brewcast/state/x',
      'replies/+',
      'replies/#',
      '',
    ]) {
      assert.equal(isAllowedResponseTopic('tether', topic), false, topic);
    }
    for (const topic of ['replies/abc', 'tether/replies/abc/def', 'tether/x/statex', 'client/1/state']) {
      assert.equal(isAllowedResponseTopic('tether', topic), true, topic);
    }
  });

  it('the token: none configured passes; missing, wrong or repeated is refused', () => {
    assert.equal(checkToken(undefined, ''), 'ok');
    assert.equal(checkToken(undefined, 'k'), 'missing');
    assert.equal(checkToken('x', 'k'), 'wrong');
    assert.equal(checkToken(['k', 'k'], 'k'), 'wrong');
    assert.equal(checkToken('k', 'k'), 'ok');
    const payload = Buffer.from('{"to":"paused"}');
    assert.equal(checkGroupSignature(groupSignature('k', payload), 'k', payload), true);
    assert.equal(checkGroupSignature(groupSignature('other', payload), 'k', payload), false);
    assert.equal(checkGroupSignature(undefined, 'k', payload), false);
    assert.equal(checkGroupSignature(undefined, '', payload), true);
  });

  it('a request payload is bounded, authorized before it is parsed, and must be JSON; empty means {}', () => {
    const limits = { maxPayloadBytes: 16, token: 'k' };
    const code = (r: ReturnType<typeof parseRequest>): string => (r.ok ? 'ok' : r.error.code);
    assert.equal(
      code(parseRequest(Buffer.alloc(17, 0x20), { token: 'k' }, limits)),
      'TETHER_INVALID_REQUEST',
    );
    assert.equal(code(parseRequest(Buffer.from('{'), undefined, limits)), 'TETHER_MQTT_UNAUTHORIZED');
    assert.equal(code(parseRequest(Buffer.from('{'), { token: 'k' }, limits)), 'TETHER_INVALID_REQUEST');
    assert.deepEqual(parseRequest(Buffer.alloc(0), { token: 'k' }, limits), { ok: true, body: {} });
    assert.deepEqual(errorAnswer(new Error('secret detail')), {
      error: { code: 'TETHER_INTERNAL', message: 'internal error (see the service log)', detail: {} },
    });
  });
});
