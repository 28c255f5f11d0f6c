/**
 * The token rule: with a token, mutating routes need it (401 without or
 * with a wrong one), reads stay open; beyond loopback a token is required,
 * and `tether run` refuses to start without one (exit 78).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ExposedWithoutTokenError, assertNotExposed, isLoopback, startHttpApi } from '../../http/index.js';
import { TetherError } from '../../runtime/index.js';
import { codeOf, withApi } from './fixture.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
const TOKEN = 's3cret-token';

/** `tether ARGS` as a process with only PATH and `env` for environment; its exit code and output. */
async function runTether(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stderr };
}

describe('HTTP API: the token rule', () => {
  it('with a token, mutating routes answer 401 without it or with a wrong one, and act with it; reads need none', () =>
    withApi(
      async ({ call, phases }) => {
        await phases.waitFor('Synchronized');
        const mutating = [
          ['POST', '/api/reconnect', undefined],
          ['PUT', '/api/autoconnecting', { enabled: true }],
          ['POST', '/api/actors/watchdog/restart', undefined],
          ['POST', '/api/commands', { opcode: 'NONE' }],
        ] as const;
        for (const [method, path, body] of mutating) {
          const without = await call(method, path, { body });
          assert.equal(without.status, 401, `${method} ${path}`);
          assert.equal(codeOf(without), 'TETHER_HTTP_UNAUTHORIZED');
          assert.match(without.headers.get('www-authenticate') ?? '', /^Bearer/);
          const wrong = await call(method, path, { body, token: `${TOKEN}x` });
          assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
          const malformed = await call(method, path, { body, headers: { authorization: TOKEN } });
          assert.equal(malformed.status, 401, `${method} ${path} without "Bearer"`);
        }
        const command = await call('POST', '/api/commands', { body: { opcode: 'NONE' }, token: TOKEN });
        assert.equal(command.status, 200);
        const paused = await call('PUT', '/api/autoconnecting', { body: { enabled: true }, token: TOKEN });
        assert.equal(paused.status, 200);
        for (const path of ['/healthz', '/readyz', '/api/status', '/api/tree']) {
          assert.equal((await call('GET', path)).status, 200, path);
        }
      },
      { http: { token: TOKEN } },
    ));

  it('loopback addresses are told from others', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      assert.equal(isLoopback(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com', '::ffff:10.0.0.1']) {
      assert.equal(isLoopback(host), false, host);
    }
  });

  it('startHttpApi refuses a non-loopback host without a token, and listens there with one', () =>
    withApi(async ({ service }) => {
      const http = { ...service.config.http, host: '0.0.0.0', port: 0, token: '' };
      await assert.rejects(startHttpApi(service, http, service.logger), (error: unknown) => {
        assert.ok(error instanceof ExposedWithoutTokenError);
        assert.ok(TetherError.is(error, 'TETHER_HTTP_EXPOSED_WITHOUT_TOKEN'));
        return true;
      });
      const guarded = await startHttpApi(service, { ...http, token: TOKEN }, service.logger);
      try {
        const answer = await fetch(`http://127.0.0.1:${guarded.address.port}/healthz`);
        assert.equal(answer.status, 200);
      } finally {
        await guarded.close();
      }
    }));

  it('a blank token counts as none: startHttpApi refuses a non-loopback host with a token of spaces', () => {
    for (const token of ['', ' ', '\t \n']) {
      assert.throws(
        () => assertNotExposed({ host: '0.0.0.0', token }),
        ExposedWithoutTokenError,
        JSON.stringify(token),
      );
    }
    assert.doesNotThrow(() => assertNotExposed({ host: '0.0.0.0', token: TOKEN }));
  });

  it('tether run exits 78 naming where http.host was set and http.token when asked to listen beyond loopback without a token', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'tether-http-'));
    try {
      const fromEnv = await runTether(['run', '--discovery', 'sim', '--state-dir', stateDir], {
        TETHER_HTTP__HOST: '0.0.0.0',
        TETHER_HTTP__PORT: '0',
      });
      assert.equal(fromEnv.code, 78, fromEnv.stderr);
      assert.match(fromEnv.stderr, /^TETHER_HTTP__HOST: http\.host: .*http\.token/m);

      const file = join(stateDir, 'tether.yaml');
      await writeFile(file, 'http:\n  port: 0\n  host: 0.0.0.0\n');
      const fromFile = await runTether([
        'run',
        '--config',
        file,
        '--discovery',
        'sim',
        '--state-dir',
        stateDir,
      ]);
      assert.equal(fromFile.code, 78, fromFile.stderr);
      assert.ok(
        fromFile.stderr.split('\n').some((line) => line.startsWith(`${file}:3:3: http.host: `)),
        fromFile.stderr,
      );
      assert.match(fromFile.stderr, /http\.token/);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
