/**
 * `tether lifecycle` against a running service's HTTP API: a trigger, the
 * state with who asked for it, and the refusals a person reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runLifecycleCommand, type LifecycleIo } from '../../cli/lifecycle-command.js';
import { withApi } from '../http/fixture.js';

function captureIo(): LifecycleIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env: {},
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

describe('tether lifecycle', () => {
  it('pause, then show: the transition, and that the CLI asked; start again; stop; start is refused with the reason', () =>
    withApi(
      async ({ api, phases }) => {
        await phases.waitFor('Synchronized');
        const flags = { url: api.address.url, token: 'tok' };
        const pause = captureIo();
        assert.equal(await runLifecycleCommand('pause', flags, pause), 0, pause.err);
        assert.match(pause.out, /^started -> paused \(\d+ ms\)\n$/);

        const show = captureIo();
        assert.equal(await runLifecycleCommand(undefined, flags, show), 0, show.err);
        assert.match(show.out, /^paused since /);
        assert.match(show.out, /last: started -> paused at .* by http \(tether-cli\)/);
        assert.match(show.out, /allowed: started, stopped/);

        const again = captureIo();
        assert.equal(await runLifecycleCommand('pause', flags, again), 0);
        assert.equal(again.out, 'already paused: nothing to do\n');

        assert.equal(await runLifecycleCommand('start', flags, captureIo()), 0);
        assert.equal(await runLifecycleCommand('stop', flags, captureIo()), 0);
        const refused = captureIo();
        assert.equal(await runLifecycleCommand('start', flags, refused), 1);
        assert.match(refused.err, /^tether: TETHER_LIFECYCLE_ILLEGAL: cannot start .*the service is stopped/);
      },
      { http: { token: 'tok' } },
    ));

  it('an unknown action, a missing token, and nothing listening are each exit 1 with the reason', () =>
    withApi(
      async ({ api, phases }) => {
        await phases.waitFor('Synchronized');
        const unknown = captureIo();
        assert.equal(await runLifecycleCommand('resume', { url: api.address.url }, unknown), 1);
        assert.match(unknown.err, /unknown life-cycle action "resume"/);
        const noToken = captureIo();
        assert.equal(await runLifecycleCommand('pause', { url: api.address.url, token: '' }, noToken), 1);
        assert.match(noToken.err, /TETHER_HTTP_UNAUTHORIZED/);
        const nobody = captureIo();
        assert.equal(
          await runLifecycleCommand(undefined, { url: 'http://127.0.0.1:9', token: '' }, nobody),
          1,
        );
        assert.match(nobody.err, /cannot reach the service/);
      },
      { http: { token: 'tok' } },
    ));
});
