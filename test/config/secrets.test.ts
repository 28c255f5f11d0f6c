import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrlPassword } from '../../config/index.js';

describe('secrets in the configuration', () => {
  it('a password in a URL is redacted whole, whatever it holds; a URL without one is left as it is', () => {
    assert.equal(redactUrlPassword('mqtt://user:s3cret@broker:1883'), 'mqtt://user:<redacted>@broker:1883');
    // A password with colons of its own: none of it is shown.
    assert.equal(redactUrlPassword('mqtts://user:pa:ss:wd@broker/x'), 'mqtts://user:<redacted>@broker/x');
    assert.equal(redactUrlPassword('ws://user@broker:9001/mqtt'), 'ws://user@broker:9001/mqtt');
    assert.equal(redactUrlPassword('mqtt://broker:1883'), 'mqtt://broker:1883');
    assert.equal(redactUrlPassword(''), '');
  });
});
