/** Addresses as written in the configuration and on the command line. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopback, isWildcard, parseHostPort } from '../../config/index.js';

describe('host[:port]', () => {
  it('reads names, IPv4 and IPv6 literals (in brackets when a port follows)', () => {
    const table: Array<[string, ReturnType<typeof parseHostPort>]> = [
      ['spark.local', { host: 'spark.local' }],
      ['spark.local:8333', { host: 'spark.local', port: 8333 }],
      ['192.168.1.5:8332', { host: '192.168.1.5', port: 8332 }],
      ['[::1]:8332', { host: '::1', port: 8332 }],
      ['[::1]', { host: '::1' }],
      ['[fe80::1:2]:1', { host: 'fe80::1:2', port: 1 }],
      ['::1', { host: '::1' }],
      ['2001:db8::7', { host: '2001:db8::7' }],
    ];
    for (const [text, expected] of table) assert.deepEqual(parseHostPort(text), expected, text);
  });

  it('refuses what is not host[:port], with a reason', () => {
    for (const text of [
      '',
      ':8332',
      '[::1',
      '[::1]8332',
      '[::1]:x',
      '[spark]:1',
      'a:b:c',
      'spark:',
      'spark:80x',
    ]) {
      const parsed = parseHostPort(text);
      assert.ok('error' in parsed, `${text} -> ${JSON.stringify(parsed)}`);
    }
  });

  it('tells loopback and wildcard addresses from others', () => {
    assert.deepEqual(
      ['127.0.0.1', '::1', '[::1]', 'LOCALHOST', '0.0.0.0', '::', '[::]', '10.0.0.1'].map((h) => [
        isLoopback(h),
        isWildcard(h),
      ]),
      [
        [true, false],
        [true, false],
        [true, false],
        [true, false],
        [false, true],
        [false, true],
        [false, true],
        [false, false],
      ],
    );
  });
});
