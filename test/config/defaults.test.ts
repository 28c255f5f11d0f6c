import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  CONFIG_DEFAULTS,
  ConfigSchema,
  childPolicy,
  loadConfig,
  supervisorFlags,
  type TetherConfig,
} from '../../config/index.js';
import { normalizeChildSpec, normalizeFlags } from '../../supervisors/spec.js';
import { EXAMPLE_FILE, resolveText } from './helpers.js';

/** Every path to a value that is not a mapping. */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, inner]) =>
    leafPaths(inner, prefix === '' ? key : `${prefix}.${key}`),
  );
}

describe('defaults', () => {
  it('parsing an empty configuration gives back CONFIG_DEFAULTS exactly', () => {
    assert.deepEqual(ConfigSchema.parse({}), CONFIG_DEFAULTS);
  });

  it('the defaults follow the field: backoff 2 s x1.5 to 30 s, discovery 5 s, USB gives up after 2 min', () => {
    const config = ConfigSchema.parse({});
    assert.deepEqual(config.connection.retry, {
      initialMs: 2000,
      factor: 1.5,
      maxMs: 30_000,
      resetAfterMs: 5000,
    });
    assert.equal(config.discovery.intervalMs, 5000);
    assert.equal(config.discovery.usb.giveUpMs, 120_000);
    assert.equal(config.synchronization.handshakeTimeoutMs, 120_000);
    assert.equal(config.synchronization.handshakePingMs, 2000);
    assert.equal(config.commander.timeoutMs, 20_000);
    assert.equal(config.synchronization.clockResyncMs, 900_000);
  });

  it('each parse gets its own copy of the defaults', () => {
    const first = ConfigSchema.parse({});
    first.discovery.usb.ids.push('FFFF:FFFF');
    assert.deepEqual(ConfigSchema.parse({}).discovery.usb.ids, ['2B04:C006', '2B04:C008']);
  });

  it('the device supervisor has no backoff unless the file names one; a named one fills in', () => {
    assert.equal(ConfigSchema.parse({}).supervision.device.backoff, undefined);
    const { config } = resolveText('supervision:\n  device:\n    backoff: { minMs: 50 }\n');
    assert.deepEqual(config.supervision.device.backoff, {
      ...CONFIG_DEFAULTS.supervision.root.backoff,
      minMs: 50,
    });
  });

  it('shutdown accepts a non-negative integer, brutal_kill or infinity, and nothing else', () => {
    const shutdown = (value: string) =>
      `supervision:\n  children:\n    connection:\n      shutdown: ${value}\n`;
    for (const ok of ['0', '2500', 'brutal_kill', 'infinity'])
      assert.doesNotThrow(() => resolveText(shutdown(ok)));
    for (const bad of ['-1', '1.5', 'never', 'true'])
      assert.throws(() => resolveText(shutdown(bad)), { code: 'TETHER_CONFIG_INVALID' });
  });
});

describe('the example file', () => {
  it('the example file validates', async () => {
    await assert.doesNotReject(loadConfig({ file: EXAMPLE_FILE, env: {} }));
  });

  it('the example file sets every key, each to its default', async () => {
    const { config, sources } = await loadConfig({ file: EXAMPLE_FILE, env: {} });
    assert.deepEqual(config, CONFIG_DEFAULTS);
    const written = new Set(leafPaths(parse(await readFile(EXAMPLE_FILE, 'utf8'))));
    const missing = leafPaths(CONFIG_DEFAULTS).filter((path) => !written.has(path));
    assert.deepEqual(missing, [], 'keys missing from tether.example.yaml');
    assert.equal(Object.keys(sources.origins).length, written.size);
  });
});

describe('supervision settings in the supervisors own shapes', () => {
  const config: TetherConfig = ConfigSchema.parse({});

  it('supervisor flags from the configuration are valid supervisor flags', () => {
    const root = normalizeFlags(supervisorFlags(config, 'root'));
    assert.deepEqual(
      [root.strategy, root.intensity, root.periodMs, root.neverGiveUp],
      ['one_for_one', 3, 5000, true],
    );
    assert.equal(root.backoff?.minMs, 500);
    const device = normalizeFlags(supervisorFlags(config, 'device'));
    assert.equal(device.strategy, 'rest_for_one');
    assert.equal(device.backoff, undefined);
  });

  it('memoryLimitMb maps to resourceLimits.maxOldGenerationSizeMb of a valid child spec, the young generation to a quarter of it (at most 16) unless set', () => {
    const policy = childPolicy(config, 'connection');
    assert.deepEqual(policy.resourceLimits, { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 });
    const small = ConfigSchema.parse({
      supervision: {
        children: { commander: { memoryLimitMb: 12 }, watchdog: { memoryLimitMb: 32, youngGenerationMb: 2 } },
      },
    });
    assert.deepEqual(childPolicy(small, 'commander').resourceLimits, {
      maxOldGenerationSizeMb: 12,
      maxYoungGenerationSizeMb: 3,
    });
    assert.deepEqual(childPolicy(small, 'watchdog').resourceLimits, {
      maxOldGenerationSizeMb: 32,
      maxYoungGenerationSizeMb: 2,
    });
    const spec = normalizeChildSpec({
      id: 'connection',
      kind: 'worker',
      module: 'file:///actor.js',
      ...policy,
    });
    assert.equal(spec.restart, 'permanent');
  });

  it('heartbeat: false turns hang detection off in the child spec', () => {
    const { config: off } = resolveText('supervision:\n  children:\n    watchdog:\n      heartbeat: false\n');
    assert.equal(childPolicy(off, 'watchdog').heartbeat, false);
  });
});
