/**
 * Rules over the configuration as the service would run with it: listening
 * beyond loopback needs a token, and a token must be one a client can
 * present. Checked on the merged layers, each problem traced to the layer
 * that set the value (file:line:column, variable or flags).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigProblem } from '../../config/index.js';
import { onlyProblem, resolveText } from './helpers.js';

function where(problem: ConfigProblem): string {
  if (problem.source === 'file') return `${problem.file}:${problem.line}:${problem.column}: ${problem.key}`;
  if (problem.source === 'env') return `${problem.variable}: ${problem.key}`;
  return `flags: ${problem.key}`;
}

describe('configuration rules: the HTTP token', () => {
  it('a non-loopback http.host without a token is a problem at the line of http.host', () => {
    const problem = onlyProblem(() => resolveText('log:\n  level: info\nhttp:\n  host: 0.0.0.0\n'));
    assert.equal(where(problem), 'tether.yaml:4:3: http.host');
    assert.match(problem.message, /http\.token/);
  });

  it('the same host set by a variable is a problem of that variable', () => {
    const problem = onlyProblem(() => resolveText('', { TETHER_HTTP__HOST: '192.168.1.10' }));
    assert.equal(where(problem), 'TETHER_HTTP__HOST: http.host');
  });

  it('a token from the environment satisfies the rule for a host from the file', () => {
    const { config } = resolveText('http:\n  host: 0.0.0.0\n', { TETHER_HTTP__TOKEN: 'sesame' });
    assert.equal(config.http.host, '0.0.0.0');
  });

  it('loopback hosts need no token', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
      assert.equal(resolveText(`http:\n  host: "${host}"\n`).config.http.host, host);
    }
  });

  it('a token with whitespace or a control character is refused at its line and column, and not repeated', () => {
    for (const token of ['hunter2 secret', ' ', 'hunter2\\tsecret', 'hunter2\\n', 'hunter\\u00e9']) {
      const problem = onlyProblem(() => resolveText(`http:\n  port: 9000\n  token: "${token}"\n`));
      assert.equal(where(problem), 'tether.yaml:3:3: http.token', token);
      assert.ok(!problem.message.includes('hunter'), problem.message);
    }
  });

  it('a blank token from a variable is refused as that variable, and is no token for the host rule', () => {
    const problem = onlyProblem(() => resolveText('', { TETHER_HTTP__TOKEN: '   ' }));
    assert.equal(where(problem), 'TETHER_HTTP__TOKEN: http.token');
  });
});
